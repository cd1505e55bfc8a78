"""TierHub project package: settings, URLs and the Celery app (nothing domain-specific)."""

from tierhub.celery import app as celery_app

__all__ = ("celery_app",)
