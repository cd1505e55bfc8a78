"""The grading pipeline: extract -> score -> decide -> write (docs/architecture.md).

- `rules`: a scheme turned into the pure layers' parameters (`scheme_rules`);
- `extract`: the period's scoring frames and the customers' policy state;
- `decide`: scoring and the policy decision (pure, on the extracted frames);
- `write`: grade states, then snapshots, changes and audit rows of what was applied;
- `backends`: what differs between PostgreSQL and SQLite, chosen in one place;
- `pgcopy`: binary COPY to and from numpy; `tables`: the models' table and column names.

Only `extract` and `write` touch the database, each with a fixed, small number of set-based
statements (never one query per customer); scoring and policy are pure.

Writes are idempotent: snapshots, changes and audit rows are inserted with
conflict-ignoring statements keyed on the unique constraints, customers that already have a
snapshot in the run are skipped, and grades are changed only by conditional, column-limited
updates that never touch a pinned customer (override or appeal lock).

Import the modules, not their names (`from grading.pipeline import write`, then
`write.write_results(...)`), so a test that replaces a name sees every caller use it.
"""
