"""A grade's colour is validated as #RRGGBB; the seeded grades still on the default slate get
distinct colours, so the pills tell grades apart (issue 14)."""

import django.core.validators
from django.db import migrations, models


DEFAULT = "#64748b"
#: Seeded grade code -> colour (readable with white or black text, tierhub's grade-pills.js).
COLOURS = {
    "strategic": "#7c3aed",
    "key": "#1d4ed8",
    "growth": "#059669",
    "standard": "#d97706",
    "basic": "#64748b",
}


def colour_seeded_grades(apps, schema_editor):
    Grade = apps.get_model("grading", "Grade")
    for code, colour in COLOURS.items():
        Grade.objects.filter(code=code, color=DEFAULT).update(color=colour)


class Migration(migrations.Migration):

    dependencies = [
        ('grading', '0013_grade_translations'),
    ]

    operations = [
        migrations.AlterField(
            model_name='grade',
            name='color',
            field=models.CharField(default='#64748b', help_text="The grade pill's background on the portal and manager pages, as #RRGGBB (e.g. #1d4ed8); the text is black or white, whichever reads better.", max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{6}$', 'Enter a colour as # followed by six hex digits, for example #1d4ed8.', code='invalid_colour')], verbose_name='colour'),
        ),
        migrations.AlterField(
            model_name='historicalgrade',
            name='color',
            field=models.CharField(default='#64748b', help_text="The grade pill's background on the portal and manager pages, as #RRGGBB (e.g. #1d4ed8); the text is black or white, whichever reads better.", max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{6}$', 'Enter a colour as # followed by six hex digits, for example #1d4ed8.', code='invalid_colour')], verbose_name='colour'),
        ),
        migrations.RunPython(colour_seeded_grades, migrations.RunPython.noop),
    ]
