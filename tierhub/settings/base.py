"""Settings shared by every mode. Everything that differs between machines comes from the
environment (django-environ); the defaults give a working embedded setup: SQLite under
``var/`` and a Celery broker on the local filesystem, so nothing needs to be installed.
"""

from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_EVAL, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(environ.Env().str("TIERHUB_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env(
    DEBUG=(bool, False),
    ALLOWED_HOSTS=(list, ["localhost", "127.0.0.1", "[::1]"]),
    TIME_ZONE=(str, "Asia/Shanghai"),
)

SECRET_KEY = env.str("SECRET_KEY", default="insecure-dev-key-change-me-in-production-0123456789")
DEBUG = env("DEBUG")
ALLOWED_HOSTS = env("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # The admin's theme (docs/operations.md, "The admin"): before django.contrib.admin, whose
    # templates it overrides.
    # unfold's templates without its site: backoffice.apps.AdminConfig installs the admin's.
    "unfold.apps.BasicAppConfig",
    "unfold.contrib.filters",
    "unfold.contrib.forms",
    "unfold.contrib.simple_history",
    # Grade, benefit and growth-task names in English and Chinese (each app's translation.py;
    # docs/operations.md, "Bilingual data"): before django.contrib.admin, as its docs ask.
    "modeltranslation",
    "backoffice.apps.AdminConfig",  # django.contrib.admin, the site of backoffice/site.py
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_celery_results",
    "simple_history",
    "axes",
    "csp",
    "common",
    "customers",
    "grading",
    "benefits",
    "appeals",
    "portal",
    "manager",
    "backoffice",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # django-csp's, sending CONTENT_SECURITY_POLICY (below); static files, served above, need none.
    "common.csp.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    # Must be last: it inspects the response of a failed login.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "tierhub.urls"
WSGI_APPLICATION = "tierhub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'tierhub.sqlite3'}"),
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while the embedded worker writes; the timeout rides out
    # the short write locks of a grading run instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTHENTICATION_BACKENDS = [
    # Axes first, so a locked-out login is refused before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend with each user's permission sets cached (common/permissions.py).
    "common.permissions.CachedModelBackend",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "admin:login"
# After a login without `next`: the root, which sends each person home (backoffice.views).
LOGIN_REDIRECT_URL = "landing"

# Internationalisation: English and Simplified Chinese; the language follows the browser
# (Accept-Language) or the user's explicit choice (set_language view, cookie).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Translated data fields (name_en, name_zh_hans, ...): English is the required column and the
# fallback when the reader's language is empty; a row created with a plain `name=` fills the
# English column whatever the active language.
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_FALLBACK_LANGUAGES = ("en",)
MODELTRANSLATION_AUTO_POPULATE = "required"


def _translated_field_label(verbose_name: object, language: str) -> str:
    """The admin's label of a translated column: "name (English)", in Chinese "名称 (简体中文)"."""
    from django.utils.translation import get_language_info, gettext

    name = get_language_info(language)["name_translated"]
    return gettext("%(field)s (%(language)s)") % {"field": verbose_name, "language": name}


MODELTRANSLATION_BUILD_LOCALIZED_VERBOSE_NAME = _translated_field_label
TIME_ZONE = env("TIME_ZONE")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env.str("MEDIA_ROOT", default=str(VAR_DIR / "media"))
# Uploaded evidence is private: it is never served from MEDIA_URL, only through
# permission-checked download views.
PRIVATE_MEDIA_ROOT = env.str("PRIVATE_MEDIA_ROOT", default=str(VAR_DIR / "private"))

# Uploads: files above this size are streamed to a temporary file, never held in memory;
# a request may carry at most this many files (Django refuses more with a 400).
FILE_UPLOAD_MAX_MEMORY_SIZE = env.int("FILE_UPLOAD_MAX_MEMORY_SIZE", default=2_621_440)
DATA_UPLOAD_MAX_NUMBER_FILES = env.int("DATA_UPLOAD_MAX_NUMBER_FILES", default=20)

# --- Appeals (issue 4) -------------------------------------------------------------------------
# Days a customer has to appeal a downgrade (from a proposal's creation or an applied
# downgrade's decision), evidence bounds, and the review SLA shown to ops.
# Admin imports (upload -> dry-run preview -> confirm): the largest file accepted. A 1M-order
# CSV is about 60 MB; larger files belong to the `import_orders` command.
IMPORT_MAX_UPLOAD_BYTES = env.int("IMPORT_MAX_UPLOAD_BYTES", default=100 * 1024 * 1024)
# Every import (admin, commands, API rows) is read within these bounds, checked before and
# while parsing, so a hostile file is refused early with the limit named and nothing written:
# data rows; columns; an XLSX's parts unpacked together (a 4-column order sheet is ~225 bytes
# a row, so 200 MB holds ~900k; larger imports go as CSV or with this raised) and how much
# larger than stored one part may unpack (real sheets 8-13x, the zip bomb of issue #11 290x).
# An import stops checking after IMPORT_MAX_ERRORS errors.
IMPORT_MAX_ROWS = env.int("IMPORT_MAX_ROWS", default=1_000_000)
IMPORT_MAX_COLUMNS = env.int("IMPORT_MAX_COLUMNS", default=50)
IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES = env.int(
    "IMPORT_MAX_XLSX_UNCOMPRESSED_BYTES", default=200 * 1024 * 1024
)
IMPORT_MAX_XLSX_COMPRESSION_RATIO = env.int("IMPORT_MAX_XLSX_COMPRESSION_RATIO", default=100)
IMPORT_MAX_ERRORS = env.int("IMPORT_MAX_ERRORS", default=1000)
# How an import reads a date like 03/04/2026: "dmy" (3 April) or "mdy" (March 4); empty: such a
# date is refused unless only one reading is a date (docs/importing.md). An import may choose.
IMPORT_DATE_ORDER = env.str("IMPORT_DATE_ORDER", default="")
APPEAL_WINDOW_DAYS = env.int("APPEAL_WINDOW_DAYS", default=30)
APPEAL_EVIDENCE_MAX_FILES = env.int("APPEAL_EVIDENCE_MAX_FILES", default=5)
APPEAL_EVIDENCE_MAX_BYTES = env.int("APPEAL_EVIDENCE_MAX_BYTES", default=5 * 1024 * 1024)
APPEAL_REVIEW_SLA_DAYS = env.int("APPEAL_REVIEW_SLA_DAYS", default=5)
# A run's warning (or proposed downgrade) is followed up within the SLA when the account
# manager records a warning follow-up at most this many days after the run finished
# (the reports' "Warning follow-up" table, docs/operations.md).
WARNING_FOLLOW_UP_SLA_DAYS = env.int("WARNING_FOLLOW_UP_SLA_DAYS", default=7)
# Absolute base of links in e-mails sent outside a request (portal invitations).
SITE_URL = env.str("SITE_URL", default="http://localhost:8000")

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="TierHub <no-reply@tierhub.local>")

# --- Reports (issue 6) -------------------------------------------------------------------------
# Service tickets record no handling time, so the cost-to-serve report charges every ticket
# opened in a run's window this many hours at this cost per hour (the orders' currency).
# Decimal strings; grading.reports reads them with Decimal(str(value)).
TIERHUB_SERVICE_HOURS_PER_TICKET = env.str("TIERHUB_SERVICE_HOURS_PER_TICKET", default="1")
TIERHUB_SERVICE_HOUR_COST = env.str("TIERHUB_SERVICE_HOUR_COST", default="50.00")
# The currency of every amount (orders, profits, benefit costs): an ISO 4217 code, shown as its
# symbol on pages (CNY as "¥"; common.formatting.CURRENCY_SYMBOLS).
TIERHUB_CURRENCY = env.str("TIERHUB_CURRENCY", default="CNY")
# A finished run's report tables are computed once (after the run, or on the first view) and
# served from the cache this long; "Recompute now" on the page refreshes them.
TIERHUB_REPORT_CACHE_SECONDS = env.int("TIERHUB_REPORT_CACHE_SECONDS", default=6 * 3600)

# --- Dates in the future (issue 11) -----------------------------------------------------------
# An order (or engagement event) dated more than this many hours after the moment it is
# imported is a bad row, in every import path: clocks and time zones differ a little, but a
# year 2099 is a typo. A whole number of hours, 0 or more.
ORDER_FUTURE_TOLERANCE_HOURS = env.int("ORDER_FUTURE_TOLERANCE_HOURS", default=24)

# --- Cache --------------------------------------------------------------------------------------
# Shared by the web and worker processes: files under var/ on the embedded default, Redis in
# production (CACHE_URL=redis://host:6379/1).
CACHES = {"default": env.cache_url("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

# --- Django REST Framework -------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # orjson for bulk bodies; forms for the browsable API.
    "DEFAULT_PARSER_CLASSES": [
        "common.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    # django-filter, plus a 400 naming the accepted parameters for any unknown one.
    "DEFAULT_FILTER_BACKENDS": ["common.api.StrictFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "common.api.StandardPagination",
    "PAGE_SIZE": 50,
    # An unknown ?format= is 406, like an unsatisfiable Accept header (DRF: 404).
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "common.negotiation.ContentNegotiation",
    # drf-spectacular's, plus every error status each operation can answer.
    "DEFAULT_SCHEMA_CLASS": "common.schema.AutoSchema",
    "EXCEPTION_HANDLER": "common.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "TierHub API",
    "DESCRIPTION": (
        "Customers, orders and engagement in; scores, grades, changes, appeals and benefits "
        "out.\n\n"
        "**Authentication.** Send `Authorization: Token <key>`. Staff get their key from "
        "`POST /api/auth/token/` with their username and password (or an administrator "
        "creates one under *Auth Token > Tokens* in the admin); a browser session signed in "
        "to the admin works too. Customers have no API access: they use the portal.\n\n"
        "**Scope.** Operations see everything; an account manager sees only their own "
        "customers' rows, and anything else is 404, exactly like a missing row.\n\n"
        '**Errors.** Every error body is `{"error": {"code", "message", "field"?, '
        '"detail"?, "rows"?}}`; a bulk request lists each bad row in `rows`. A conflict '
        "with existing data (a duplicate key, a reused idempotency key) is 409. Every "
        "operation lists the error statuses it can answer.\n\n"
        "**Query parameters.** A list accepts the filters and pagination parameters it "
        "documents (and `format`); any other parameter is a 400 whose body names the "
        "accepted ones, so a misspelt filter never silently returns every row."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Separate request and response components: a request's required text is non-blank
    # (minLength 1) and read-only fields stay out of request bodies.
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a `status`: name the appeal one once (an appeal and its events).
    "ENUM_NAME_OVERRIDES": {"AppealStatusEnum": "appeals.models.Appeal.Status"},
    # Swagger UI's files come from the drf-spectacular-sidecar package: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- The admin (django-unfold) -----------------------------------------------------------------
# Branding, the sidebar by the operator's jobs (backoffice/navigation.py) and the dashboard home
# (backoffice/dashboard.py). See docs/operations.md, "The admin".
UNFOLD = {
    "SITE_TITLE": _("TierHub"),
    "SITE_HEADER": _("TierHub"),
    "SITE_SUBHEADER": _("Operations"),
    "SITE_SYMBOL": "stacked_bar_chart",
    # "View site": the reports (or the manager queue), never "/", which leads back here.
    "SITE_URL": "backoffice.navigation.site_url",
    "SHOW_VIEW_ON_SITE": True,
    "SHOW_LANGUAGES": True,
    "DASHBOARD_CALLBACK": "backoffice.dashboard.dashboard_callback",
    "STYLES": ["backoffice.navigation.admin_stylesheet"],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": True,
        "navigation": "backoffice.navigation.sidebar",
    },
}

# --- Content-Security-Policy (django-csp) ---------------------------------------------------
# Enforced (not report-only) in every mode, so the browser tests and `make run` see what
# production sends. Pages load scripts and styles only from our static files: no inline
# <script>, no on*= handlers, no style="" attributes or <style> blocks (a script may still set
# element.style). `{{ value|json_script }}` is fine: it is data, not code. A page that cannot
# do without an inline script gets a nonce or a narrower policy on that one view, through
# django-csp's decorators; never 'unsafe-inline' here. See README.md, "Production".
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # Swagger UI's CSS draws its icons as data: images
        "font-src": [SELF],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}
# The staff pages drawn in the admin's layout (django-unfold: /admin/ and /reports/; chosen by
# URL namespace in common/csp.py) run unfold's Alpine.js, whose standard build evaluates its
# x-* expressions with `new Function` and sets style attributes; it needs 'unsafe-eval' and
# inline styles, nothing else. Inline <script> stays refused; the customer portal and the
# manager pages keep the policy above. See docs/operations.md, "The admin".
CONTENT_SECURITY_POLICY_STAFF = {
    "DIRECTIVES": {
        **CONTENT_SECURITY_POLICY["DIRECTIVES"],
        "script-src": [SELF, UNSAFE_EVAL],
        "style-src": [SELF, UNSAFE_INLINE],
    },
}

# --- Login lockout (django-axes) ---------------------------------------------------------------
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=1.0)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True

# --- Celery ---------------------------------------------------------------------------------
# The embedded default uses kombu's filesystem transport: a worker started with -B runs the
# beat schedule and the tasks on one machine with no server. Set CELERY_BROKER_URL=redis://...
# in production and run a separate worker and a single beat.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "celery" / "broker"
    # The transport expects its folders to exist; create them so enqueueing never fails.
    for _folder in (_broker_dir, VAR_DIR / "celery" / "processed"):
        _folder.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        "store_processed": False,
    }
else:
    # Longer than the longest task, or Redis redelivers a still-running late-acked task.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 4 * 3600}
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default="django-db")
CELERY_RESULT_EXTENDED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 3 * 3600
CELERY_TASK_TIME_LIMIT = 3 * 3600 + 300
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Grading ----------------------------------------------------------------------------------
# Above this many active customers a run shards over Celery workers (customer-id ranges of
# GRADING_SHARD_SIZE, scored with population-wide cut points computed once).
GRADING_SHARD_THRESHOLD = env.int("GRADING_SHARD_THRESHOLD", default=500_000)
# 250k customers with ~10 orders each keep a shard's frames around 0.5 GB, so two shards fit
# beside each other on a 2-core / 4 GB worker.
GRADING_SHARD_SIZE = env.int("GRADING_SHARD_SIZE", default=250_000)
# Snapshot retention (grading.services.snapshots, docs/operations.md "Snapshots and retention"):
# the snapshots of the last GRADING_SNAPSHOT_HOT_PERIODS runs of each scheme stay in the
# database (0: every run's stay); older runs' go to a Parquet file under
# GRADING_SNAPSHOT_ARCHIVE_DIR, or are dropped unarchived with GRADING_SNAPSHOT_ARCHIVE=False.
GRADING_SNAPSHOT_HOT_PERIODS = env.int("GRADING_SNAPSHOT_HOT_PERIODS", default=0)
GRADING_SNAPSHOT_ARCHIVE = env.bool("GRADING_SNAPSHOT_ARCHIVE", default=True)
GRADING_SNAPSHOT_ARCHIVE_DIR = env.str(
    "GRADING_SNAPSHOT_ARCHIVE_DIR", default=str(VAR_DIR / "snapshot-archive")
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# After a grading run succeeds (or the ladder changes), rebuild the manager queue's needs
# table in a Celery task (manager.tasks.queue_needs_rebuild_task; issue #19).
QUEUE_NEEDS_REBUILD_AFTER_RUN = env.bool("QUEUE_NEEDS_REBUILD_AFTER_RUN", default=True)
