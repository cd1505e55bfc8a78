"""Once the first beat schedule; the schedule is now declared once, in common/schedule.py,
and created after every migrate (post_migrate) or by `manage.py beat_schedule`. Kept as a
no-op so that the migration history stays the same."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0002_catalog_and_roles"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop)]
