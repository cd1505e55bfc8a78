"""Evidence uploads: type detection by content, bounds, and the private storage.

Nothing here trusts the uploader: the file name and the browser's content type are ignored,
the type is read from the bytes (magic numbers, the inside of a zip), and files are stored
under random names in `settings.PRIVATE_MEDIA_ROOT`, a storage with no URL: they are only
ever served through permission-checked views (docs/architecture.md, invariant 9).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import secrets
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from appeals.exceptions import EvidenceRejected
from common.uploads import UploadSizeLimitHandler

#: How much of a file the sniffers read (text is scanned whole, a chunk of this at a time).
HEAD_BYTES = 64 * 1024
#: Content types the portal accepts, with a short label for messages and pages (issue #11:
#: PDF, PNG, JPEG, WebP, plain text and CSV, all recognised from the bytes).
ALLOWED_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WebP",
    "text/plain": "TXT",
    "text/csv": "CSV",
}
#: Extensions the download uses for each type (the stored name has none). GIF and XLSX were
#: accepted before issue #11; evidence stored then keeps its extension on download.
EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/webp": ".webp",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "image/gif": ".gif",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}

_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE / DOS
    b"\x7fELF",  # Linux
    b"\xfe\xed\xfa\xce",  # Mach-O
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal / Java class
)
_ARCHIVE_MAGIC = (
    b"PK\x03\x04",  # zip (an xlsx is told apart before this, for a clearer message)
    b"PK\x05\x06",  # empty zip
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",  # zstd
)
_UTF8_BOM = b"\xef\xbb\xbf"
_CSV_DELIMITERS = (",", ";", "\t", "|")
#: What makes text active in a browser or viewer: a tag, end tag, comment, doctype or XML
#: declaration (``<`` then a letter, ``/``, ``!`` or ``?``: HTML, SVG, XML), an event-handler
#: attribute (``onload=``) or a script URL. Text with any of these is refused outright; the
#: match (with the tag's name) is quoted in the reason.
_MARKUP = re.compile(r"<[a-z/!?][\w:-]{0,20}|\bon[a-z]+\s*=|\b(?:java|vb)script\s*:", re.IGNORECASE)
#: A match can straddle two chunks: this much of the previous one is searched again.
_MARKUP_OVERLAP = 64
#: Control characters other than tab, line feed and carriage return: binary, not text.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f]")


class UnsupportedContent(Exception):
    """The bytes are not one of the accepted types; `reason` says what they look like."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _is_xlsx(file: IO[bytes]) -> bool:
    # Only the central directory is read: no member is decompressed (zip bombs stay shut).
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
    return "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names)


def _scan_text(file: IO[bytes]) -> tuple[str, bool]:
    """Check that the whole file is inert UTF-8 text; return its head and whether that is all.

    Raises UnsupportedContent for bytes that are not UTF-8 (a BOM is fine), control
    characters (NUL included) and markup (`_MARKUP`) anywhere in the file, and for a file of
    blank space only. The file is read a chunk at a time (evidence is a few MB at most).
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    head = ""
    complete = True
    overlap = ""
    while True:
        chunk = file.read(HEAD_BYTES)
        try:
            text = decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise UnsupportedContent(
                _("it is not a PDF, PNG, JPEG or WebP file, nor UTF-8 text")
            ) from None
        if _CONTROL.search(text):
            raise UnsupportedContent(_("it contains binary data (control characters)"))
        window = overlap + text
        if found := _MARKUP.search(window):
            raise UnsupportedContent(
                _(
                    "it contains markup or script (“%(found)s”); HTML, SVG and scripts are "
                    "not accepted"
                )
                % {"found": found.group()}
            )
        overlap = window[-_MARKUP_OVERLAP:]
        if not head:
            head = text
        elif text:
            complete = False
        if not chunk:
            break
    if not head.strip():
        raise UnsupportedContent(_("it contains nothing but blank space"))
    return head, complete


def _is_csv(head: str, complete: bool) -> bool:
    """Return whether `head` reads as CSV: 2+ rows of the same 2+ columns for one delimiter.

    A letter with commas here and there varies in width from line to line and stays text.
    """
    if not complete:  # the last line may be cut in the middle
        head = head[: head.rfind("\n") + 1]
    for delimiter in _CSV_DELIMITERS:
        try:
            rows = [row for row in csv.reader(io.StringIO(head), delimiter=delimiter) if row]
        except csv.Error:
            continue
        if len(rows) >= 2 and len(rows[0]) >= 2 and all(len(row) == len(rows[0]) for row in rows):
            return True
    return False


def detect_content_type(file: IO[bytes]) -> str:
    """Return the content type of `file` read from its bytes; raise UnsupportedContent.

    Accepted (an allowlist, whatever the file is called): PDF (%PDF-), PNG, JPEG, WebP by
    their magic numbers; UTF-8 text with no control characters and no markup anywhere, as
    CSV when it parses as CSV (`_is_csv`), else as plain text. Refused with a reason:
    HTML, SVG, XML and anything else with markup, scripts (#!), executables, archives, GIF
    images and XLSX workbooks. The file position is restored to the start.
    """
    file.seek(0)
    head = file.read(HEAD_BYTES)
    file.seek(0)
    try:
        if head.startswith(b"%PDF-"):
            return "application/pdf"
        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            return "image/png"
        if head.startswith(b"\xff\xd8\xff"):
            return "image/jpeg"
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return "image/webp"
        if head.startswith((b"GIF87a", b"GIF89a")):
            raise UnsupportedContent(_("GIF images are not accepted; send a PNG or JPEG"))
        if head.startswith(b"PK\x03\x04") and _is_xlsx(file):
            raise UnsupportedContent(
                _("XLSX workbooks are not accepted; save the sheet as CSV or PDF")
            )
        if head.startswith(_EXECUTABLE_MAGIC):
            raise UnsupportedContent(_("it is an executable program"))
        if head.removeprefix(_UTF8_BOM).startswith(b"#!"):
            raise UnsupportedContent(_("it is an executable script (#!)"))
        if head.startswith(_ARCHIVE_MAGIC):
            raise UnsupportedContent(_("it is an archive; archives are not accepted"))
        text, complete = _scan_text(file)
        return "text/csv" if _is_csv(text, complete) else "text/plain"
    finally:
        file.seek(0)


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """An upload that passed every check, with its detected type."""

    file: IO[bytes]
    original_name: str
    content_type: str
    size: int


def evidence_check(files: Sequence[IO[bytes]]) -> list[CheckedFile]:
    """Check every upload before anything is stored; raise EvidenceRejected naming each problem.

    Bounds from settings: APPEAL_EVIDENCE_MAX_FILES (count) and APPEAL_EVIDENCE_MAX_BYTES
    (each file). All problems are collected so the customer can fix them in one go.
    """
    max_files = settings.APPEAL_EVIDENCE_MAX_FILES
    max_bytes = settings.APPEAL_EVIDENCE_MAX_BYTES
    if len(files) > max_files:
        raise EvidenceRejected(
            _("You can attach at most %(max)d files; you sent %(count)d.")
            % {"max": max_files, "count": len(files)}
        )
    problems: list[str] = []
    checked: list[CheckedFile] = []
    for file in files:
        name = str(getattr(file, "name", "") or _("unnamed file"))[:255]
        size = _size(file)
        if size > max_bytes:
            problems.append(
                _("“%(name)s” is too large (%(size)s; the limit is %(max)s).")
                % {"name": name, "size": filesizeformat(size), "max": filesizeformat(max_bytes)}
            )
            continue
        if size == 0:
            problems.append(_("“%(name)s” is empty.") % {"name": name})
            continue
        try:
            content_type = detect_content_type(file)
        except UnsupportedContent as refused:
            problems.append(
                _(
                    "“%(name)s” was refused: %(reason)s. Accepted: PDF, PNG, JPEG, WebP, "
                    "plain text (UTF-8) and CSV."
                )
                % {"name": name, "reason": refused.reason}
            )
            continue
        checked.append(CheckedFile(file, name, content_type, size))
    if problems:
        raise EvidenceRejected(" ".join(problems))
    return checked


class EvidenceSizeLimitHandler(UploadSizeLimitHandler):
    """Drop any uploaded file as soon as it passes APPEAL_EVIDENCE_MAX_BYTES.

    Put first in `request.upload_handlers`: a huge file is then never written out in full,
    not even to a temporary file; its name is kept in `skipped` so the view can say why.
    """

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request, limit=settings.APPEAL_EVIDENCE_MAX_BYTES)

    def refusals(self) -> list[str]:
        """Return one message per skipped file."""
        return [
            _("“%(name)s” is too large (the limit is %(max)s).")
            % {"name": name, "max": filesizeformat(self.limit)}
            for name in self.skipped
        ]


def _size(file: IO[bytes]) -> int:
    size = getattr(file, "size", None)
    if size is None:  # a plain file object: measure it
        file.seek(0, os.SEEK_END)
        size = file.tell()
        file.seek(0)
    return int(size)


class PrivateStorage(FileSystemStorage):
    """Files under settings.PRIVATE_MEDIA_ROOT, with no URL: `url()` always fails.

    The location is read from settings on each access, so tests can point it elsewhere.
    """

    def __init__(self) -> None:
        super().__init__(
            location=None,
            base_url=None,
            file_permissions_mode=0o600,
            directory_permissions_mode=0o700,
        )

    @property
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property
    def location(self) -> str:
        return os.path.abspath(self.base_location)

    @cached_property
    def base_url(self) -> None:  # type: ignore[override]
        return None

    def url(self, name: str | None) -> str:
        raise ValueError("Private files have no URL; serve them through a checked view.")


private_storage = PrivateStorage()


def stored_name_new() -> str:
    """Return a fresh random storage name (no trace of the uploader's file name)."""
    return f"evidence/{secrets.token_hex(16)}"
