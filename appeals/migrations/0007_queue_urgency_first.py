"""The manager queue sorts by urgency first, then value (issue 14): new indexes, and the
stored urgency recomputed with the new weights (manager.needs.WEIGHTS at this migration)."""

from django.conf import settings
from django.db import migrations, models
from django.db.models import Case, IntegerField, Value, When
from django.db.models.expressions import CombinedExpression

#: manager.needs.WEIGHTS as of this migration (a copy: migrations don't import app code).
WEIGHTS = {
    "sla": 128,
    "proposed": 64,
    "follow_up": 32,
    "appeal": 16,
    "close": 4,
    "upgraded": 2,
    "recommend": 1,
}


def recompute_urgency(apps, schema_editor):
    QueueNeeds = apps.get_model("appeals", "QueueNeeds")
    terms = [
        Case(
            When(**{f"flag_{code}": True}, then=Value(weight)),
            default=Value(0),
            output_field=IntegerField(),
        )
        for code, weight in WEIGHTS.items()
    ]
    total = terms[0]
    for term in terms[1:]:
        total = CombinedExpression(total, "+", term, output_field=IntegerField())
    QueueNeeds.objects.update(urgency=total)


class Migration(migrations.Migration):

    dependencies = [
        ('appeals', '0006_followup_warning'),
        ('customers', '0010_line_imports'),
        ('grading', '0013_grade_translations'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='queueneeds',
            name='queue_manager_order_idx',
        ),
        migrations.RemoveIndex(
            model_name='queueneeds',
            name='queue_order_idx',
        ),
        migrations.AddIndex(
            model_name='queueneeds',
            index=models.Index(fields=['account_manager', '-urgency', '-grade_rank', 'code'], name='queue_manager_urgency_idx'),
        ),
        migrations.AddIndex(
            model_name='queueneeds',
            index=models.Index(fields=['-urgency', '-grade_rank', 'code'], name='queue_urgency_idx'),
        ),
        migrations.RunPython(recompute_urgency, migrations.RunPython.noop),
    ]
