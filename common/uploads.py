"""An upload handler that drops a file as soon as it passes a size limit (the admin import
and the appeal evidence form both bound their uploads this way)."""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest


class UploadSizeLimitHandler(FileUploadHandler):
    """Drop any uploaded file as soon as it passes `limit` bytes.

    Put it first in `request.upload_handlers`, before anything reads the body (so the view is
    csrf_exempt and checks CSRF itself afterwards): an oversized file is then never written out
    in full, not even to a temporary file. Its name is kept in `skipped` so the view can say
    why the file is missing.
    """

    def __init__(self, request: HttpRequest | None = None, *, limit: int) -> None:
        super().__init__(request)
        self.limit = int(limit)
        self.skipped: list[str] = []

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.skipped.append(str(self.file_name))
            raise SkipFile
        return raw_data  # on to the next handler (memory or temporary file)

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler builds the file object
