"""Signals grading sends for consumers it must not know about (docs/architecture.md, "Layers").

`grade_changes_decided` is sent by the review services (`grading.services.reviews`) inside
the decision's transaction, after the changes and grades are written with bulk statements
that send no `post_save`: the manager queue's needs table (`manager.needs`) refreshes the
customers' rows from it. Keyword argument: `customer_ids` (a sorted list of ints).
"""

from __future__ import annotations

from django.dispatch import Signal

grade_changes_decided = Signal()
