"""Customer facts keep each customer's engagement per local month (issue 15): campaign
invitations and those joined, referrals, complaints, product reviews and growth points, in
`customers_customerengagementmonth`, maintained on PostgreSQL by statement-level triggers on
the five tables (customers.facts), so a run reads the window's whole months from there.
Indexes on the five tables' dates serve the window's partial months (and the invitations
joined after a window's end). Where facts were built (a state row exists) every bucket is
built again (`facts_rebuild`). SQLite keeps no facts: the model is unmanaged and its table
exists on PostgreSQL only."""

from django.db import migrations, models

TABLE_SQL = """
CREATE TABLE customers_customerengagementmonth (
    customer_id bigint NOT NULL,
    month date NOT NULL,
    invitations integer NOT NULL,
    joins integer NOT NULL,
    referrals integer NOT NULL,
    complaints integer NOT NULL,
    reviews integer NOT NULL,
    points bigint NOT NULL,
    PRIMARY KEY (customer_id, month)
)
"""


def engagement_create(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    from customers import facts

    schema_editor.execute(TABLE_SQL)
    facts.triggers_install(connection)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {facts.STATE} WHERE id = 1")
        built = cursor.fetchone() is not None
    if built:
        facts.facts_rebuild(using=connection)


def engagement_drop(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    from customers import facts

    for source in facts.ENGAGEMENT_SOURCES:
        for event in ("insert", "update", "delete", "truncate"):
            name = f"customers_facts_{source.name}_{event}"
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name} ON {source.table}")
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}()")
    schema_editor.execute(f"DROP TABLE IF EXISTS {facts.ENGAGEMENT}")


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0014_facts_line_insert_order_lock"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="campaigninvitation",
            index=models.Index(fields=["invited_at"], name="invitation_invited_idx"),
        ),
        migrations.AddIndex(
            model_name="campaigninvitation",
            index=models.Index(
                condition=models.Q(("joined_at__isnull", False)),
                fields=["joined_at"],
                name="invitation_joined_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="referral",
            index=models.Index(fields=["created_at"], name="referral_created_idx"),
        ),
        migrations.AddIndex(
            model_name="complaint",
            index=models.Index(fields=["created_at"], name="complaint_created_idx"),
        ),
        migrations.AddIndex(
            model_name="productreview",
            index=models.Index(fields=["created_at"], name="review_created_idx"),
        ),
        migrations.AddIndex(
            model_name="pointsentry",
            index=models.Index(fields=["created_at"], name="points_created_idx"),
        ),
        migrations.RunPython(engagement_create, engagement_drop),
        migrations.CreateModel(
            name="CustomerEngagementMonth",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "customer_id",
                        "month",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                (
                    "month",
                    models.DateField(
                        help_text="The first day of the local month.", verbose_name="month"
                    ),
                ),
                ("invitations", models.IntegerField(verbose_name="campaign invitations")),
                (
                    "joins",
                    models.IntegerField(
                        help_text="Of the month's invitations, those joined so far.",
                        verbose_name="invitations joined",
                    ),
                ),
                ("referrals", models.IntegerField(verbose_name="referrals")),
                ("complaints", models.IntegerField(verbose_name="complaints")),
                ("reviews", models.IntegerField(verbose_name="product reviews")),
                ("points", models.BigIntegerField(verbose_name="growth points")),
                (
                    "customer",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=models.deletion.DO_NOTHING,
                        related_name="+",
                        to="customers.customer",
                    ),
                ),
            ],
            options={
                "verbose_name": "customer engagement month",
                "verbose_name_plural": "customer engagement months",
                "db_table": "customers_customerengagementmonth",
                "managed": False,
            },
        ),
    ]
