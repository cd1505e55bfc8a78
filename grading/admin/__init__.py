"""Admin for grades, schemes, runs, the review queue, overrides and the audited history.

One module per model group (docs/contributing.md: a module past ~400 lines becomes a
package). Importing them registers the ModelAdmins. Status and grade columns are read-only
everywhere: grades change through services (runs, review decisions, overrides, appeals)
called from actions, never by editing a row.
"""

from grading.admin import overrides, reviews, runs, schemes

__all__ = ["overrides", "reviews", "runs", "schemes"]
