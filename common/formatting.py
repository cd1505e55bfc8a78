"""Numbers as people read them: money, counts, percentages, scores and durations.

One helper for every page, message and chart label (docs/contributing.md, "Numbers for
people"). The active language picks the symbols; English and Simplified Chinese both group
thousands by three with "," and use "." for decimals (Chinese business documents write
¥1,234,567.89, not Django's zh-Hans default of no grouping), and differ in the words of a
duration. Money is shown in `settings.TIERHUB_CURRENCY` (an ISO 4217 code, CNY by default,
shown as its symbol "¥").

Every function takes None (or NaN) and returns `MISSING` ("—"), so a table cell with no
value reads the same everywhere. Decimals are rounded half-up, as accountants do, after
converting a float through its shortest repr (0.1 + 0.2 is 0.30, never 0.30000000000000004).

Machine-readable outputs (CSV, the API) keep plain numbers; XLSX cells stay numbers and get a
number format (`XLSX_FORMATS`); see `excel_value`.
"""

from __future__ import annotations

import datetime as dt
import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from common.durations import duration_display

#: What a missing value reads as, in every format.
MISSING = "—"

#: Symbols of the currencies TierHub's customers trade in; any other code is shown as itself.
CURRENCY_SYMBOLS = {
    "CNY": "¥",
    "HKD": "HK$",
    "USD": "$",
    "EUR": "€",
    "SGD": "S$",
    "MYR": "RM",
    "THB": "฿",
    "GBP": "£",
    "JPY": "JP¥",
}

#: Decimal and group separators per language (the first part of the language code).
_SEPARATORS = {"en": (".", ","), "zh": (".", ",")}

#: Number formats of XLSX cells by kind of value (Excel syntax, shown per the reader's locale).
XLSX_FORMATS = {
    "money": "#,##0.00",
    "count": "#,##0",
    "percent": "0.00",
    "score": "0.00",
    "number": "#,##0.00",
    "date": "yyyy-mm-dd",
    "month": "yyyy-mm",
}

#: Decimal places of each kind of number.
PLACES = {"money": 2, "percent": 2, "score": 2, "number": 2, "count": 0}


def _separators() -> tuple[str, str]:
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    return _SEPARATORS.get(language, _SEPARATORS["en"])


def is_missing(value: Any) -> bool:
    """Return True for None, an empty string and NaN (a pandas gap)."""
    if value is None or value == "":
        return True
    return isinstance(value, float) and math.isnan(value)


def to_decimal(value: Any, places: int) -> Decimal:
    """Return `value` as a Decimal rounded half-up to `places` decimals.

    Floats go through their shortest repr first, so 378403.710000001 becomes 378403.71 and
    221.0 becomes 221.00; ints and Decimals are exact. Raises ValueError for text that is
    not a number.
    """
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"{value!r} is not a number") from exc
    return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _grouped(number: Decimal, places: int) -> str:
    """Return |number| with grouped thousands in the active language (no sign)."""
    decimal_sep, group_sep = _separators()
    text = f"{abs(number):.{places}f}"
    whole, _dot, fraction = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = group_sep.join(groups)
    return f"{out}{decimal_sep}{fraction}" if places else out


def _signed(number: Decimal, body: str) -> str:
    # "-0.00" would read as a loss: a value that rounds to zero has no sign.
    return f"-{body}" if number < 0 else body


def number(value: Any, places: int = 2) -> str:
    """Return `value` with grouped thousands and `places` decimals: 1,234,567.89."""
    if is_missing(value):
        return MISSING
    rounded = to_decimal(value, places)
    return _signed(rounded, _grouped(rounded, places))


def count(value: Any) -> str:
    """Return a whole number with grouped thousands: 1,234,568 (rounded half-up)."""
    return number(value, 0)


def currency_symbol(code: str | None = None) -> str:
    """Return the symbol of `code` (default `settings.TIERHUB_CURRENCY`)."""
    code = code or settings.TIERHUB_CURRENCY
    return CURRENCY_SYMBOLS.get(code, f"{code} ")


def money(value: Any, *, currency: bool = True) -> str:
    """Return an amount with two decimals and grouped thousands: ¥1,234,567.89, -¥12.50.

    `currency=False` leaves the symbol out (a column whose title names the currency).
    """
    if is_missing(value):
        return MISSING
    rounded = to_decimal(value, 2)
    body = _grouped(rounded, 2)
    return _signed(rounded, f"{currency_symbol()}{body}" if currency else body)


def compact(value: Any, *, currency: bool = False) -> str:
    """Return a large figure shortened for a chart: 2.45M, 378.4K in English; 244.62万,
    1.2亿 in Chinese (which counts in ten thousands). Below a thousand: two decimals."""
    if is_missing(value):
        return MISSING
    amount = to_decimal(value, 2)
    magnitude = abs(amount)
    language = (get_language() or settings.LANGUAGE_CODE).split("-")[0]
    units = (
        ((Decimal(10) ** 8, "亿"), (Decimal(10) ** 4, "万"))
        if language == "zh"
        else ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "K"))
    )
    body = _grouped(amount, 2) if magnitude < 1000 else _grouped(amount, 0)
    for size, suffix in units:
        if magnitude >= size:
            scaled = magnitude / size
            places = 2 if scaled < 10 else 1 if scaled < 100 else 0
            # Trailing zeros say nothing on an axis: 30K, 2.5K, not 30.0K, 2.50K.
            text = _grouped(to_decimal(scaled, places), places)
            body = (text.rstrip("0").rstrip(".") if places else text) + suffix
            break
    return _signed(amount, f"{currency_symbol()}{body}" if currency else body)


def percent(value: Any, places: int = 2) -> str:
    """Return a percentage (already multiplied by 100) with `places` decimals and a sign: 12.35%."""
    if is_missing(value):
        return MISSING
    return f"{number(value, places)}%"


def score(value: Any, places: int = 2) -> str:
    """Return a score with fixed decimals (2 by default): 61.25."""
    return number(value, places)


def duration(value: Any) -> str:
    """Return seconds (or a timedelta) in words: "0.2 s", "3 min 12 s", "2 h 5 min".

    The wording is `common.durations.duration_display` (a run of 0.23 s reads "0.2 s", not
    0.22662157...); this accepts a timedelta and the missing values of a table too.
    """
    if is_missing(value):
        return MISSING
    seconds = value.total_seconds() if isinstance(value, dt.timedelta) else float(value)
    return duration_display(seconds)


#: The formatter of each kind of table column (`grading.reports.Table.kinds`).
FORMATTERS = {
    "money": money,
    "count": count,
    "percent": percent,
    "score": score,
    "number": number,
    "duration": duration,
}


def display(value: Any, kind: str = "") -> str:
    """Return a table cell for people: by its column's `kind`, else by its Python type.

    Kinds: money, count, percent, score, number, duration, month (a date read as its month),
    text (as is). Without a kind an
    int reads as a count, a Decimal or a float as a number with two decimals (a Decimal may
    be hours as well as money: only a column's kind adds the currency), a date in the active
    language's format.
    """
    if is_missing(value):
        return MISSING
    if kind in FORMATTERS and not isinstance(value, str):
        return FORMATTERS[kind](value)
    if kind == "month" and isinstance(value, dt.date):
        from django.utils.formats import date_format

        return date_format(value, "YEAR_MONTH_FORMAT")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, int):
        return count(value)
    if isinstance(value, Decimal | float):
        return number(value)
    if isinstance(value, dt.date):
        from django.utils.formats import date_format

        return date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


def excel_value(value: Any, kind: str = "") -> tuple[Any, str | None]:
    """Return (cell value, number format) for an XLSX cell.

    Money and other decimal figures become Decimals rounded to their places (no float
    noise), counts ints; each gets its `XLSX_FORMATS` number format so the spreadsheet shows
    separators while the cell stays a number. Text and dates pass through (None format).
    """
    if is_missing(value) or isinstance(value, bool | str):
        return (None if is_missing(value) else value), None
    if isinstance(value, dt.date):
        return value, XLSX_FORMATS["month" if kind == "month" else "date"]
    if not isinstance(value, int | float | Decimal):
        return value, None
    kind = kind if kind in XLSX_FORMATS else ""
    if not kind and isinstance(value, Decimal):
        # A column without a kind keeps its figures exact, as the CSV does; cents as money.
        exponent = value.as_tuple().exponent
        return value, (XLSX_FORMATS["number"] if exponent == -2 else None)
    if not kind and isinstance(value, float):
        # ... and a float (a score of the customer export) its precision, float noise
        # dropped at six decimals, in the General format.
        return to_decimal(value, 6).normalize(), None
    kind = kind or "count"
    if kind == "count":
        return int(to_decimal(value, 0)), XLSX_FORMATS["count"]
    return to_decimal(value, PLACES.get(kind, 2)), XLSX_FORMATS[kind]
