"""Once the first beat schedule; the schedule is now declared once, in common/schedule.py,
and created after every migrate (post_migrate) or by `manage.py beat_schedule`. Kept as a
no-op so that the migration history stays the same."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("grading", "0005_run_population_cuts")]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
