"""Local development and the embedded `make run` mode: DEBUG on unless said otherwise."""

from tierhub.settings.base import *  # noqa: F403
from tierhub.settings.base import VAR_DIR, env

DEBUG = env.bool("DEBUG", default=True)

# Development e-mail (invitations, set-password links, notifications) is written as one
# .eml file per message under var/outbox/ instead of being sent (README, "Sites and
# logins"). EMAIL_BACKEND in the environment still wins (e.g. the console backend).
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(VAR_DIR / "outbox"))
