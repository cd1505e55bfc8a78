"""Markers for arguments that may be None on purpose."""

from __future__ import annotations

from enum import Enum


class Unread(Enum):
    """A value the caller has not read (as opposed to None: read, and there is none)."""

    UNREAD = "unread"


UNREAD = Unread.UNREAD
