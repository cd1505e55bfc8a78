"""Production: secrets and hosts only from the environment; passes `manage.py check --deploy`."""

from tierhub.settings.base import *  # noqa: F403
from tierhub.settings.base import env

DEBUG = False
SECRET_KEY = env.str("SECRET_KEY")  # no default: refuse to start without one
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy: base.CONTENT_SECURITY_POLICY, enforced by common.csp's middleware
# (django-csp's; tests/test_settings.py checks the header this module sends).

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")

# Database connections (issue #19; docs/operations.md, "Serving the pages"). Each gunicorn
# thread (one per process: gunicorn.conf.py) keeps its connection for
# CONN_MAX_AGE seconds (default 60) instead of connecting per request (~3 ms and a backend
# fork each time), checked before reuse. With many web containers, put PgBouncer (transaction
# pooling) in front of PostgreSQL and point DATABASE_URL at it; or set DATABASE_POOL_SIZE to
# use Django's own psycopg pool per process (needs the psycopg-pool package, and then
# CONN_MAX_AGE must be 0).
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)  # noqa: F405
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405
if env.int("DATABASE_POOL_SIZE", default=0) and DATABASES["default"]["ENGINE"].endswith(  # noqa: F405
    "postgresql"
):
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # noqa: F405
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {  # noqa: F405
        "min_size": 2,
        "max_size": env.int("DATABASE_POOL_SIZE"),
        "timeout": 10,
    }
# No JIT for the web's short queries: PostgreSQL compiles a list page's plan (its cost counts
# the whole table, not the LIMIT) for ~30 ms to save nothing (bench/README.md, "Pages").
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(  # noqa: F405
    "options", env.str("DATABASE_OPTIONS", default="-c jit=off")
)
# Sessions read from the cache (Redis in production), written through to the database: one
# query less on every page.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
