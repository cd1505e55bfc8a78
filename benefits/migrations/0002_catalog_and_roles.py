"""Seed the default benefit catalog, growth tasks and nudge rules; grant benefits permissions."""

from decimal import Decimal

from django.db import migrations

from common.roles import ACCOUNT_MANAGERS, FULL, OPERATIONS, grant_permissions

ALL_GRADES = ("strategic", "key", "growth", "standard", "basic")

# code, name, kind, value, allowance, period, cost per use, grades, description
CATALOG = (
    ("dedicated-manager", "Dedicated account manager", "dedicated_manager", "0", 1, "once", "0",
     ("strategic",), "A named account manager who knows the account."),
    ("priority-support", "Priority support", "priority_support", "0", 4, "month", "10",
     ("strategic", "key"), "Tickets jump the queue (4 per month)."),
    ("discount-10", "10% discount", "percentage_discount", "10", 2, "month", "30",
     ("strategic",), "10% off an order, twice a month."),
    ("discount-5", "5% discount", "percentage_discount", "5", 2, "month", "15",
     ("key",), "5% off an order, twice a month."),
    ("free-shipping", "Free shipping", "free_shipping", "0", 4, "month", "8",
     ("strategic", "key", "growth"), "Free shipping on up to 4 orders a month."),
    ("coupon-2", "2% coupon", "percentage_discount", "2", 1, "month", "5",
     ("standard",), "2% off one order a month."),
    ("new-customer-pack", "New-customer pack", "new_customer_pack", "50", 1, "once", "50",
     ALL_GRADES, "A welcome pack worth 50, once."),
    ("birthday-gift", "Birthday gift", "birthday_gift", "30", 1, "year", "30",
     ALL_GRADES, "A gift worth 30 once a year."),
)

# code, name, points, repeatable, description
GROWTH_TASKS = (
    ("complete_profile", "Complete the profile", 10, False,
     "E-mail, phone, contact name and address all filled in."),
    ("review_product", "Review a product", 5, True, "Each product review."),
    ("refer_customer_who_orders", "Refer a customer who then orders", 30, True,
     "Each referred customer who places a paid order."),
    ("join_campaign", "Join a campaign", 5, True, "Each campaign joined."),
)

# code, parameters, description
NUDGE_RULES = (
    ("new_customer_pack", {"days": 30, "benefit": "new-customer-pack"},
     "Customers registered in the last `days` days: the account manager is asked to welcome "
     "them and hand over the `benefit` pack. Once per customer."),
    ("growth_no_order_reminder", {"days": 45, "grade": "growth", "offer": "free-shipping"},
     "Customers in grade `grade` with no order for `days` days: the account manager gets a "
     "reminder with the `offer` benefit. Once per quiet spell (trigger: last order date)."),
    ("category_concentration", {"share": 0.8, "months": 3},
     "Customers with at least `share` of their net purchases in the last `months` months in one "
     "category: a related (sibling) category is recommended on the manager's queue. Once per "
     "category and month."),
)


def forwards(apps, schema_editor):
    Benefit = apps.get_model("benefits", "Benefit")
    GradeBenefit = apps.get_model("benefits", "GradeBenefit")
    GrowthTask = apps.get_model("benefits", "GrowthTask")
    NudgeRule = apps.get_model("benefits", "NudgeRule")
    Grade = apps.get_model("grading", "Grade")

    grades = {g.code: g for g in Grade.objects.all()}
    for code, name, kind, value, allowance, period, cost, grade_codes, description in CATALOG:
        benefit, created = Benefit.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "kind": kind,
                "value": Decimal(value),
                "allowance": allowance,
                "period": period,
                "cost_per_use": Decimal(cost),
                "description": description,
            },
        )
        if created:
            for grade_code in grade_codes:
                if grade_code in grades:
                    GradeBenefit.objects.get_or_create(grade=grades[grade_code], benefit=benefit)
    for code, name, points, repeatable, description in GROWTH_TASKS:
        GrowthTask.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "points": points,
                "repeatable": repeatable,
                "description": description,
            },
        )
    for code, parameters, description in NUDGE_RULES:
        NudgeRule.objects.get_or_create(
            code=code, defaults={"parameters": parameters, "description": description}
        )

    grant_permissions(
        apps,
        {
            OPERATIONS: {
                "benefits.benefit": FULL,
                "benefits.gradebenefit": FULL,
                "benefits.growthtask": FULL,
                "benefits.nudgerule": ("change", "view"),
                "benefits.recommendation": FULL,
                # Redemptions are only added (through the redeem service), never edited.
                "benefits.redemption": ("add", "view"),
                "benefits.nudgeevent": ("view",),
                "customers.pointsentry": ("view",),
            },
            ACCOUNT_MANAGERS: {
                "benefits.benefit": ("view",),
                "benefits.gradebenefit": ("view",),
                "benefits.redemption": ("view",),
                "benefits.recommendation": ("view", "change"),
                "customers.pointsentry": ("view",),
            },
        },
    )


class Migration(migrations.Migration):
    dependencies = [
        ("benefits", "0001_initial"),
        ("grading", "0002_default_scheme_and_roles"),
        ("customers", "0004_points_entry"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
