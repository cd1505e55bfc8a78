"""The benefits app's tables on the grading reports page: cost to serve, benefit usage.

Registered in `BenefitsConfig.ready()` (see `grading.reports.ReportSection`): benefits builds
on grading, so grading's report page never imports this module.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _

from benefits.models import Benefit, GradeBenefit, Redemption
from common import formatting
from customers.models import ServiceTicket
from grading import charts
from grading.models import GradingRun
from grading.reports import (
    ReportContext,
    ReportSection,
    Table,
    by_run_grade,
    grades_by_rank,
    money,
    percent,
    run_window,
)


def cost_to_serve(
    *,
    run: GradingRun,
    orders: dict[int, dict[str, Any]] | None = None,
    context: ReportContext | None = None,
) -> Table:
    """Return per grade of `run` the profit of the window against the cost to serve it.

    Per grade (the snapshot's `grade_after`, highest first), over the run's window
    [as_of - window_days, as_of):
    - profit: the sum of `Order.profit` of counted orders (paid/completed); orders with no
      recorded profit count as 0 and are reported in the remarks (`window_orders_by_grade`,
      or `orders` already computed);
    - benefit cost: the sum of `Redemption.cost` (the cost to the company stored on each
      redemption) of redemptions made in the window by the grade's customers;
    - service effort: service tickets opened in the window. Tickets record no handling time,
      so each counts `settings.TIERHUB_SERVICE_HOURS_PER_TICKET` hours at
      `settings.TIERHUB_SERVICE_HOUR_COST` per hour;
    - cost to serve = benefit cost + service cost; per customer, profit minus cost, and cost
      as % of profit (empty when the profit is not positive).
    A grade whose cost exceeds its profit gets an alarm in `notes`. Five statements whatever
    the number of customers; customers the run did not grade are left out. With `context`
    (the reports page's), its reads are shared with the other tables and languages.
    """
    hours_per_ticket = Decimal(str(settings.TIERHUB_SERVICE_HOURS_PER_TICKET))
    hour_cost = Decimal(str(settings.TIERHUB_SERVICE_HOUR_COST))
    context = ReportContext(run=run) if context is None else context
    orders = context.window_orders if orders is None else orders
    customers = context.customers_per_grade
    redemptions = context.read(
        "redemption_costs",
        lambda: by_run_grade(run, Redemption, at="redeemed_at", select=["COUNT(*)", "SUM(t.cost)"]),
    )
    tickets = context.read(
        "tickets", lambda: by_run_grade(run, ServiceTicket, at="opened_at", select=["COUNT(*)"])
    )
    rows: list[list[Any]] = []
    notes: list[str] = []
    for grade in grades_by_rank().values():
        if grade.pk not in customers:
            continue
        n = customers[grade.pk]["customers"]
        profit = orders[grade.pk]["profit"] if grade.pk in orders else money(0)
        used, benefit_cost = redemptions.get(grade.pk, (0, 0))
        benefit_cost = money(benefit_cost)
        ticket_count = tickets.get(grade.pk, (0,))[0]
        hours = ticket_count * hours_per_ticket
        service_cost = money(hours * hour_cost)
        cost = benefit_cost + service_cost
        rows.append(
            [
                grade.name,
                n,
                profit,
                used,
                benefit_cost,
                ticket_count,
                hours,
                service_cost,
                cost,
                money(cost / n),
                profit - cost,
                round(float(100 * cost / profit), 2) if profit > 0 else None,
            ]
        )
        if cost > profit:
            notes.append(
                _(
                    "%(grade)s costs more to serve than it earns: cost %(cost)s, "
                    "profit %(profit)s in the window."
                )
                % {
                    "grade": grade.name,
                    "cost": formatting.money(cost),
                    "profit": formatting.money(profit),
                }
            )
    start, _end = run_window(run)
    remarks = [
        _(
            "Window %(start)s to %(end)s (exclusive). Service effort: %(hours)s h per ticket at "
            "%(rate)s per hour (tickets record no handling time; settings "
            "TIERHUB_SERVICE_HOURS_PER_TICKET and TIERHUB_SERVICE_HOUR_COST)."
        )
        % {
            "start": start.date(),
            "end": run.as_of,
            "hours": formatting.number(hours_per_ticket, 1),
            "rate": formatting.money(hour_cost),
        }
    ]
    unknown = sum(o["unknown_profit"] for o in orders.values())
    if unknown:
        remarks.append(
            _("%(n)s orders in the window have no recorded profit; they count as 0.")
            % {"n": formatting.count(unknown)}
        )
    return Table(
        title=_("Cost to serve and profit per grade"),
        columns=[
            _("grade"),
            _("customers"),
            _("profit"),
            _("redemptions"),
            _("benefit cost"),
            _("service tickets"),
            _("service hours"),
            _("service cost"),
            _("cost to serve"),
            _("cost per customer"),
            _("profit minus cost"),
            _("cost as share of profit %"),
        ],
        kinds=[
            "text",
            "count",
            "money",
            "count",
            "money",
            "count",
            "number",
            "money",
            "money",
            "money",
            "money",
            "percent",
        ],
        rows=rows,
        notes=notes,
        remarks=remarks,
    )


def benefit_usage(*, run: GradingRun, context: ReportContext | None = None) -> Table:
    """Return per grade of `run` how many entitled customers used a benefit in the window.

    Entitlements follow the grade (docs/architecture.md, "Layers"): the customers of a grade are
    entitled when it carries at least one active benefit valid on some day of the window
    [as_of - window_days, as_of). Redemptions are those made in the window, counted by the
    customers' grade in this run (not the grade held when redeeming, which a redemption also
    stores). Usage rate = customers who redeemed at least once / entitled customers (empty
    for a grade without benefits). One column per benefit kind that was redeemed. Four
    statements whatever the number of customers; with `context` (the reports page's), its
    reads are shared with the other tables and languages.
    """
    first_day = run.as_of - dt.timedelta(days=run.scheme.window_days)
    context = ReportContext(run=run) if context is None else context
    customers = context.customers_per_grade
    entitled = set(
        GradeBenefit.objects.filter(benefit__is_active=True)
        .filter(Q(benefit__valid_from__isnull=True) | Q(benefit__valid_from__lt=run.as_of))
        .filter(Q(benefit__valid_until__isnull=True) | Q(benefit__valid_until__gte=first_day))
        .values_list("grade_id", flat=True)
    )
    kinds = list(Benefit.Kind)
    usage = context.read(
        "benefit_usage",
        lambda: by_run_grade(
            run,
            Redemption,
            at="redeemed_at",
            select=[
                "COUNT(*)",
                "COUNT(DISTINCT t.customer_id)",
                *["SUM(CASE WHEN b.kind = %s THEN 1 ELSE 0 END)"] * len(kinds),
            ],
            select_params=[kind.value for kind in kinds],
            join=f"JOIN {Benefit._meta.db_table} b ON b.id = t.benefit_id",
        ),
    )
    used_kinds = [i for i in range(len(kinds)) if any(row[2 + i] for row in usage.values())]
    rows = []
    for grade in grades_by_rank().values():
        if grade.pk not in customers:
            continue
        n = customers[grade.pk]["customers"]
        redemptions, redeemers, *per_kind = usage.get(grade.pk, (0, 0, *[0] * len(kinds)))
        is_entitled = grade.pk in entitled
        rows.append(
            [
                grade.name,
                n,
                n if is_entitled else 0,
                redemptions,
                redeemers,
                percent(redeemers, n) if is_entitled else None,
                *[int(per_kind[i]) for i in used_kinds],
            ]
        )
    return Table(
        title=_("Benefit usage per grade"),
        columns=[
            _("grade"),
            _("customers"),
            _("entitled customers"),
            _("redemptions"),
            _("customers who redeemed"),
            _("usage rate %"),
            *[str(kinds[i].label) for i in used_kinds],
        ],
        kinds=["text", "count", "count", "count", "count", "percent", *["count"] * len(used_kinds)],
        rows=rows,
        remarks=[
            _(
                "Window %(start)s to %(end)s (exclusive); redemptions by the customers' grade "
                "in this run."
            )
            % {"start": first_day, "end": run.as_of}
        ],
    )


def cost_chart(table: Table) -> tuple[str, str]:
    """Return the profit against cost-to-serve bars of a `cost_to_serve` table."""
    return (
        _("Profit and cost to serve per grade"),
        charts.grouped_bar_chart(
            [str(r[0]) for r in table.rows],
            [
                (_("profit"), [r[2] for r in table.rows], "#16a34a"),
                (_("cost to serve"), [r[8] for r in table.rows], "#dc2626"),
            ],
            kind="money",
        ),
    )


SECTIONS = (
    ReportSection(
        key="cost_to_serve",
        build=lambda context: cost_to_serve(run=context.run, context=context),
        after="revenue",
        chart=cost_chart,
    ),
    ReportSection(
        key="benefit_usage",
        build=lambda context: benefit_usage(run=context.run, context=context),
        after="cost_to_serve",
    ),
)
