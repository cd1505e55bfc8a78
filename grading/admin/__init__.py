"""Admin for grades, schemes, runs, the review queue, overrides and the audited history.

One module per model group (docs/contributing.md: a module past ~400 lines becomes a
package). Importing them registers the ModelAdmins. Status and grade columns are read-only
everywhere: grades change through services (runs, review decisions, overrides, appeals)
called from actions, never by editing a row. `customer_export` adds the customers export
(customers with their grades and scores) to the customer admin; `beat` holds what makes the
beat's "Run selected tasks" on the grading entry grade or say that the period is graded
(mixed into the PeriodicTask admin by `backoffice.admin_packages`).
"""

from grading.admin import customer_export, overrides, reviews, runs, schemes

__all__ = ["customer_export", "overrides", "reviews", "runs", "schemes"]
