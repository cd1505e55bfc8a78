"""Evidence uploads: type detection by content, bounds, and the private storage.

Nothing here trusts the uploader: the file name and the browser's content type are ignored,
the type is read from the bytes (magic numbers, the inside of a zip), and files are stored
under random names in `settings.PRIVATE_MEDIA_ROOT`, a storage with no URL: they are only
ever served through permission-checked views (DESIGN.md invariant 9).
"""

from __future__ import annotations

import codecs
import os
import secrets
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.template.defaultfilters import filesizeformat
from django.utils.functional import cached_property
from django.utils.translation import gettext as _

from appeals.exceptions import EvidenceRejected

#: How much of a file the sniffers read.
HEAD_BYTES = 64 * 1024
#: Content types the portal accepts, with a short label for messages and pages.
ALLOWED_TYPES = {
    "application/pdf": "PDF",
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/gif": "GIF",
    "image/webp": "WebP",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "XLSX",
    "text/csv": "CSV",
}
#: Extensions the download uses for each type (the stored name has none).
EXTENSIONS = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "text/csv": ".csv",
}

_EXECUTABLE_MAGIC = (
    b"MZ",  # Windows PE / DOS
    b"\x7fELF",  # Linux
    b"\xfe\xed\xfa\xce",  # Mach-O
    b"\xfe\xed\xfa\xcf",
    b"\xce\xfa\xed\xfe",
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O universal / Java class
    b"#!",  # scripts
)
_ARCHIVE_MAGIC = (
    b"PK\x03\x04",  # zip (an xlsx is checked before this)
    b"PK\x05\x06",  # empty zip
    b"Rar!\x1a\x07",
    b"7z\xbc\xaf\x27\x1c",
    b"\x1f\x8b",  # gzip
    b"BZh",
    b"\xfd7zXZ\x00",
    b"\x28\xb5\x2f\xfd",  # zstd
)
_CSV_DELIMITERS = (",", ";", "\t", "|")


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


def _looks_like_csv(head: bytes) -> bool:
    if not head.strip() or b"\x00" in head:
        return False
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        # final=False: a multi-byte character cut at the end of the head is not an error.
        text = decoder.decode(head, final=False)
    except UnicodeDecodeError:
        return False
    if any(ord(ch) < 32 and ch not in "\r\n\t" for ch in text):
        return False
    first_line = text.splitlines()[0] if text.splitlines() else ""
    return any(delimiter in first_line for delimiter in _CSV_DELIMITERS)


def detect_content_type(file: IO[bytes]) -> str:
    """Return the content type of `file` read from its bytes; raise UnsupportedContent.

    Accepted: PDF (%PDF-), PNG, JPEG, GIF, WebP, XLSX (a zip holding [Content_Types].xml and
    xl/ entries) and CSV (UTF-8 text whose first line has a delimiter). Executables, other
    archives (including a zip that is not a workbook) and anything else are refused. The
    file position is restored to the start.
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
        if head.startswith((b"GIF87a", b"GIF89a")):
            return "image/gif"
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return "image/webp"
        if head.startswith(b"PK\x03\x04") and _is_xlsx(file):
            return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        if head.startswith(_EXECUTABLE_MAGIC):
            raise UnsupportedContent(_("it is an executable program"))
        if head.startswith(_ARCHIVE_MAGIC):
            raise UnsupportedContent(_("it is an archive; archives are not accepted"))
        if _looks_like_csv(head):
            return "text/csv"
        raise UnsupportedContent(_("its content is not a PDF, image or spreadsheet"))
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
                _("“%(name)s” was refused: %(reason)s. Accepted: PDF, images, spreadsheets.")
                % {"name": name, "reason": refused.reason}
            )
            continue
        checked.append(CheckedFile(file, name, content_type, size))
    if problems:
        raise EvidenceRejected(" ".join(problems))
    return checked


class EvidenceSizeLimitHandler(FileUploadHandler):
    """Drop any uploaded file as soon as it passes APPEAL_EVIDENCE_MAX_BYTES.

    Put first in `request.upload_handlers`: a huge file is then never written out in full,
    not even to a temporary file; its name is kept in `skipped` so the view can say why.
    """

    def __init__(self, request: object = None) -> None:
        super().__init__(request)
        self.limit = int(settings.APPEAL_EVIDENCE_MAX_BYTES)
        self.skipped: list[str] = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.skipped.append(str(self.file_name))
            raise SkipFile
        return raw_data  # on to the next handler (memory or temporary file)

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file object

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

    @property  # type: ignore[override]
    def base_location(self) -> str:
        return str(settings.PRIVATE_MEDIA_ROOT)

    @property  # type: ignore[override]
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
