"""Local development and the embedded `make run` mode: DEBUG on unless said otherwise."""

from tierhub.settings.base import *  # noqa: F403
from tierhub.settings.base import env

DEBUG = env.bool("DEBUG", default=True)
