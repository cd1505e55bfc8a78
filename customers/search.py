"""The one customer search of the admin, the manager queue and the API (issue #19).

What people type is a customer code (or its beginning), an e-mail address, a phone number
or part of a name. Each is answered by an index on PostgreSQL (migration 0005):

- code, e-mail: a case-insensitive prefix, `UPPER(col) LIKE 'X%'`, served by an expression
  index `UPPER(col) text_pattern_ops` (a whole code is a prefix of itself);
- phone: a prefix `phone LIKE '+86 10%'`, served by a `varchar_pattern_ops` index, only when
  the text looks like a phone number;
- name: contains the text, any case, `UPPER(name) LIKE '%X%'`, served by a trigram GIN index
  (`pg_trgm`) once the text has 3 characters or more (a trigram index cannot help below that,
  so shorter text searches codes, e-mails and phones only).

SQLite has none of these indexes and runs the same lookups as plain scans, which is fine at
its sizes.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q, QuerySet

#: Longest search text taken into account.
MAX_SEARCH_LENGTH = 100
#: Shortest text searched for inside names.
MIN_NAME_SEARCH_LENGTH = 3

_PHONE = re.compile(r"^\+?[\d\s().-]{3,}$")


def customer_search_q(term: str, *, prefix: str = "") -> Q | None:
    """Return the condition matching customers for `term`, or None for an empty term.

    `prefix` is the path from the queried model to the customer ("customer__"; empty when
    querying customers).
    """
    term = term.strip()[:MAX_SEARCH_LENGTH]
    if not term:
        return None
    condition = Q(**{f"{prefix}code__istartswith": term}) | Q(
        **{f"{prefix}email__istartswith": term}
    )
    if _PHONE.match(term):
        condition |= Q(**{f"{prefix}phone__startswith": term})
    if len(term) >= MIN_NAME_SEARCH_LENGTH:
        condition |= Q(**{f"{prefix}name__icontains": term})
    return condition


def customer_search[M: Any](queryset: QuerySet[M], *, term: str, prefix: str = "") -> QuerySet[M]:
    """Return `queryset` narrowed to the customers matching `term` (unchanged when empty)."""
    condition = customer_search_q(term, prefix=prefix)
    return queryset if condition is None else queryset.filter(condition)
