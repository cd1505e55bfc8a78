"""Settings for the pytest suite. The harness (tests/harness.py) points DATABASE_URL and
CELERY_BROKER_URL at throwaway PostgreSQL and Redis instances before this module loads."""

from tierhub.settings.base import *  # noqa: F403
from tierhub.settings.base import env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
LANGUAGE_CODE = "en"
# One cache per test process, emptied between tests (tests/conftest.py).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# The real Celery worker of the integration tests must not rebuild the queue table behind
# their backs (tests/appeals/test_queue_needs.py turns it on where it is tested).
QUEUE_NEEDS_REBUILD_AFTER_RUN = False
