"""What a notification says: a kind plus parameters, put into words for the person reading.

A `Notification` stores what happened (`kind`, `params`), not sentences. Each app declares
how its kinds read in its own `messages.py` (found at start-up, like `admin.py`) with
`message_kind`; a page renders a message in the reader's language (the request's), an
e-mail in the recipient's (`UserPreference`). Parameters are plain JSON: numbers, ISO
dates, and names in every language (`names_in_languages`), so a message reads the same
whatever language was active when it was written (docs/operations.md, "Messages").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils.formats import date_format
from django.utils.translation import get_language

#: The parameters of one message, as stored (JSON).
Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MessageText:
    """A message as one person reads it."""

    title: str
    body: str = ""


Renderer = Callable[[Params], MessageText]
_RENDERERS: dict[str, Renderer] = {}


class UnknownMessageKind(LookupError):
    """A notification was drafted with a kind no app declared."""


def message_kind(*kinds: str) -> Callable[[Renderer], Renderer]:
    """Declare the function that words the messages of `kinds` (a decorator).

    The function reads the parameters and returns a `MessageText` in the active language;
    it runs for every reader, so it must not query the database.
    """

    def register(renderer: Renderer) -> Renderer:
        for kind in kinds:
            existing = _RENDERERS.get(kind)
            if existing is not None and existing is not renderer:
                raise ValueError(f"Message kind {kind!r} is declared twice.")
            _RENDERERS[kind] = renderer
        return renderer

    return register


def message_kind_known(kind: str) -> bool:
    return kind in _RENDERERS


def message_render(kind: str, params: Params) -> MessageText:
    """Word the message `kind` with `params` in the active language.

    Raises UnknownMessageKind for a kind no app declares.
    """
    try:
        renderer = _RENDERERS[kind]
    except KeyError as missing:
        raise UnknownMessageKind(kind) from missing
    return renderer(params)


def names_in_languages(instance: Any, field: str = "name") -> dict[str, str]:
    """Return a translated field of `instance` in every language, for a message's parameters.

    Reads modeltranslation's per-language columns (`name_en`, `name_zh_hans`); a language
    left blank is omitted, and `in_reader_language` falls back to English.
    """
    names: dict[str, str] = {}
    for code, _label in settings.LANGUAGES:
        value = getattr(instance, f"{field}_{code.replace('-', '_')}", None)
        if value:
            names[code] = value
    if not names:
        names[settings.LANGUAGE_CODE] = str(getattr(instance, field, ""))
    return names


def in_reader_language(value: Any) -> str:
    """Return a parameter in the active language: a {language: text} mapping or plain text."""
    if not isinstance(value, Mapping):
        return "" if value is None else str(value)
    language = get_language() or settings.LANGUAGE_CODE
    for code in (language, language.split("-")[0], settings.LANGUAGE_CODE):
        if value.get(code):
            return str(value[code])
    return next((str(text) for text in value.values() if text), "")


def day(value: str | None) -> str:
    """Return an ISO date parameter as the reader writes a date ("Jan. 4, 2027", "2027年1月4日")."""
    if not value:
        return "—"
    return date_format(dt.date.fromisoformat(value), "DATE_FORMAT")
