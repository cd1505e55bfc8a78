"""What-if's movers (who would change grade, filtered, paged, exported), the cached scoring per
(draft, as-of) and "Activate this draft" from the what-if page."""

import codecs
import csv
import datetime as dt
import io
from decimal import Decimal
from functools import partial

import openpyxl
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import translation

from grading.models import CustomerGrade, GradingScheme, SchemeGrade
from grading.pipeline import decide
from grading.services.runs import grading_run_execute
from grading.services.schemes import scheme_revise
from grading.whatif import scheme_what_if, what_if_mover_rows, what_if_movers
from tests.customers.factories import CustomerFactory, UserFactory
from tests.grading.factories import buyer

AS_OF = dt.date(2026, 4, 1)
_buy = partial(buyer, as_of=AS_OF)


@pytest.fixture
def draft(scheme, ops):
    """A population graded under `scheme` (key >= 55, growth >= 25, basic >= 0; H only), and
    a draft in which key needs 70 and growth 15. By hand (R/F/M thresholds 30/90/180/365 days,
    2/4/8/16 orders, 1,000/5,000/20,000/100,000):

    - BIG1, BIG2: one order of 150,000 5 days ago: R 5, F 1, M 5, H = 100 * 8 / 12 = 66.67:
      key now, growth under the draft (down);
    - SMALL1: three orders of 100: R 5, F 2, M 1, H = 41.67: growth in both;
    - MID: one order of 100: R 5, F 1, M 1, H = 33.33: growth in both;
    - OLD: one order of 100, 100 days ago: R 3, F 1, M 1, H = 16.67: basic now, growth under
      the draft (up);
    - NEVER: no order, H 0: basic in both;
    - LATE: no order, created after the run (not graded): basic under the draft (first grade).
    """
    _buy("BIG1", "150000", profit="1000")
    _buy("BIG2", "150000", profit="1000")
    _buy("SMALL1", "100", "100", "100")
    _buy("MID", "100")
    _buy("OLD", "100", days_ago=100)
    CustomerFactory(code="NEVER")
    grading_run_execute(as_of=AS_OF, scheme=scheme)
    CustomerFactory(code="LATE", name="Late Lee")
    draft = scheme_revise(scheme=scheme, by=ops)
    SchemeGrade.objects.filter(scheme=draft, grade__code="key").update(min_score=Decimal(70))
    SchemeGrade.objects.filter(scheme=draft, grade__code="growth").update(min_score=Decimal(15))
    return draft


def _codes(rows):
    return [(r.code, r.current, r.draft, r.direction) for r in rows]


@pytest.mark.django_db
def test_movers_are_the_direct_comparison_of_current_and_draft_grades(draft):
    result = scheme_what_if(scheme=draft, as_of=AS_OF)
    rows = what_if_mover_rows(result, what_if_movers(result))

    current = dict(CustomerGrade.objects.values_list("customer__code", "grade__name"))
    expected_draft = {"BIG1": "Growth", "BIG2": "Growth", "OLD": "Growth", "LATE": "Basic"}
    assert {r.code: (r.current, r.draft) for r in rows} == {
        code: (current.get(code, "not graded"), grade) for code, grade in expected_draft.items()
    }
    # Ordered by draft grade (highest first), then composite (highest first), then id.
    assert _codes(rows) == [
        ("BIG1", "Key", "Growth", "down"),
        ("BIG2", "Key", "Growth", "down"),
        ("OLD", "Basic", "Growth", "up"),
        ("LATE", "not graded", "Basic", "assign"),
    ]
    assert result.moved == 4
    assert result.scored == 7
    big = rows[0].scores
    assert (round(big["composite"], 2), big["r_score"], big["f_score"], big["m_score"]) == (
        66.67,
        5,
        1,
        5,
    )
    assert round(rows[2].scores["historical"], 2) == 16.67


@pytest.mark.django_db
def test_movers_filter_by_move_and_by_direction(draft):
    result = scheme_what_if(scheme=draft, as_of=AS_OF)

    down = what_if_movers(result, move="key>growth")
    up = what_if_movers(result, direction="up")
    none = what_if_movers(result, move="key>growth", direction="up")

    assert [r.code for r in what_if_mover_rows(result, down)] == ["BIG1", "BIG2"]
    assert [r.code for r in what_if_mover_rows(result, up)] == ["OLD"]
    assert none.empty


@pytest.mark.django_db
def test_the_scoring_is_cached_per_draft_and_as_of_and_an_edit_scores_again(draft, monkeypatch):
    calls = []
    score_period = decide.score_period
    monkeypatch.setattr(
        decide, "score_period", lambda **kw: calls.append(kw["as_of"]) or score_period(**kw)
    )

    scheme_what_if(scheme=draft, as_of=AS_OF)
    scheme_what_if(scheme=draft, as_of=AS_OF)
    scheme_what_if(scheme=draft, as_of=AS_OF - dt.timedelta(days=31))
    SchemeGrade.objects.filter(scheme=draft, grade__code="key").update(min_score=Decimal(60))
    edited = scheme_what_if(scheme=draft, as_of=AS_OF)
    scheme_what_if(scheme=draft, as_of=AS_OF, refresh=True)

    assert len(calls) == 4  # first, other as-of, edited draft, refresh
    assert edited.moved == 2  # BIG1, BIG2 (66.67) stay Key under 60; OLD and LATE move


@pytest.mark.django_db
def test_page_lists_filters_and_pages_the_movers(client, ops, draft, monkeypatch):
    monkeypatch.setattr("grading.views.MOVERS_PER_PAGE", 2)
    client.force_login(ops)
    url = reverse("reports:what-if", args=[draft.pk])

    first = client.get(url, {"as_of": AS_OF.isoformat()})
    second = client.get(url, {"as_of": AS_OF.isoformat(), "page": 2})
    filtered = client.get(url, {"as_of": AS_OF.isoformat(), "move": "basic>growth"})
    unknown = client.get(url, {"as_of": AS_OF.isoformat(), "move": "nope", "direction": "x"})

    assert [m.code for m in first.context["movers"]] == ["BIG1", "BIG2"]
    assert [m.code for m in second.context["movers"]] == ["OLD", "LATE"]
    assert [m.code for m in filtered.context["movers"]] == ["OLD"]
    assert unknown.context["movers_count"] == 4  # an unknown filter is ignored
    body = first.content.decode()
    big1 = CustomerGrade.objects.get(customer__code="BIG1").customer_id
    assert reverse("admin:customers_customer_change", args=[big1]) in body
    assert "4 of 7 customers would get a different grade" in body
    assert "Key → Growth (2)" in body
    assert "Basic → Growth (1)" in body
    assert 'data-testid="activate-draft"' in body


@pytest.mark.django_db
def test_movers_export_csv_with_bom_and_xlsx_with_numeric_cells(client, ops, draft):
    client.force_login(ops)
    url = reverse("reports:what-if", args=[draft.pk])
    query = {"as_of": AS_OF.isoformat(), "direction": "down", "export": "movers"}

    csv_file = client.get(url, {**query, "format": "csv"})
    xlsx_file = client.get(url, {**query, "format": "xlsx"})
    with translation.override("zh-hans"):
        chinese = client.get(url, {**query, "format": "csv"}, HTTP_ACCEPT_LANGUAGE="zh-hans")

    assert csv_file.content.startswith(codecs.BOM_UTF8)
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert rows[0][:6] == [
        "customer code",
        "customer",
        "current grade",
        "grade under the draft",
        "direction",
        "composite",
    ]
    assert [row[0] for row in rows[1:]] == ["BIG1", "BIG2"]
    assert rows[1][2:6] == ["Key", "Growth", "Downgrade", "66.67"]
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_file.content)).active
    cells = [[c.value for c in row] for row in sheet.iter_rows(min_row=2)]
    assert [row[0] for row in cells] == ["BIG1", "BIG2"]
    # composite and historical (H only counts here), then R, F, M.
    assert cells[0][5:7] + cells[0][9:] == [66.67, 66.67, 5, 1, 5]
    assert all(isinstance(v, int | float) for v in cells[0][5:])
    header = chinese.content.decode("utf-8-sig").splitlines()[0]
    assert header.startswith("客户编码,客户,")


@pytest.mark.django_db
def test_activate_asks_then_activates_through_the_service_with_a_history_row(client, ops, draft):
    active = GradingScheme.objects.get(status="active")
    client.force_login(ops)
    url = reverse("reports:what-if-activate", args=[draft.pk])

    confirm = client.get(url, {"as_of": AS_OF.isoformat()})
    draft.refresh_from_db()
    assert draft.status == "draft"  # asking changes nothing
    done = client.post(url, {"as_of": AS_OF.isoformat()}, follow=True)

    assert 'data-testid="activate-confirmation"' in confirm.content.decode()
    assert f"“{active.name}” version {active.version}, the active scheme, will be retired" in (
        confirm.content.decode()
    )
    draft.refresh_from_db()
    active.refresh_from_db()
    assert (draft.status, active.status) == ("active", "retired")
    entry = draft.history.first()
    assert (entry.status, entry.history_user) == ("active", ops)
    assert done.redirect_chain[-1][0] == reverse(
        "admin:grading_gradingscheme_change", args=[draft.pk]
    )
    text = done.content.decode()
    assert f"“scenario” version {draft.version} is now the active grading scheme" in text
    assert f"“{active.name}” version {active.version} was retired" in text


@pytest.mark.django_db
def test_activate_refuses_a_scheme_that_is_not_a_draft_and_changes_nothing(client, ops, draft):
    active = GradingScheme.objects.get(status="active")
    client.force_login(ops)

    response = client.post(
        reverse("reports:what-if-activate", args=[active.pk]), {"as_of": AS_OF}, follow=True
    )

    assert "Only a draft can be activated" in response.content.decode()
    active.refresh_from_db()
    draft.refresh_from_db()
    assert (active.status, draft.status) == ("active", "draft")


@pytest.mark.django_db
def test_activate_needs_the_permission_to_change_schemes(client, alice, draft):
    viewer = UserFactory(username="viewer", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_gradingscheme"))
    url = reverse("reports:what-if-activate", args=[draft.pk])
    page = reverse("reports:what-if", args=[draft.pk])

    client.force_login(viewer)
    viewer_post = client.post(url)
    viewer_page = client.get(page, {"as_of": AS_OF.isoformat()})
    client.force_login(alice)
    alice_post = client.post(url)

    assert viewer_post.status_code == alice_post.status_code == 403
    assert 'data-testid="activate-draft"' not in viewer_page.content.decode()
    draft.refresh_from_db()
    assert draft.status == "draft"
