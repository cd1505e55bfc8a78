"""The Celery application.

Tasks are discovered in every installed app's ``tasks.py``. Configuration comes from Django
settings under the ``CELERY_`` prefix, so the broker is Redis in production and kombu's
filesystem transport in the embedded default (no server to install).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tierhub.settings.local")

app = Celery("tierhub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
