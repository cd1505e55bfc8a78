"""CSV files for people: UTF-8 with a byte-order mark (docs/operations.md, "CSV files").

Excel opens a CSV without a BOM in the machine's legacy code page, so Chinese headers and
names come out garbled on a Chinese Windows; with the BOM it reads UTF-8. Every CSV the site
serves starts with it, and every CSV import accepts it (`customers.tabular.open_table` reads
"utf-8-sig").
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse

#: The byte-order mark, as text: encoded as UTF-8 it is the three bytes EF BB BF.
UTF8_BOM = "\ufeff"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"


def with_bom(chunks: Iterable[str]) -> Iterator[str]:
    """Yield the BOM, then `chunks` (CSV text) unchanged."""
    yield UTF8_BOM
    yield from chunks


def csv_attachment(chunks: Iterable[str], *, filename: str) -> StreamingHttpResponse:
    """Return `chunks` of CSV text as a streamed download named `filename`, BOM first."""
    response = StreamingHttpResponse(with_bom(chunks), content_type=CSV_CONTENT_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
