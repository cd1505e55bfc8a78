"""A customer's self-service in a real browser (issue 14, "Self-service in the portal").

In English and Chinese, on a 1366x900 desktop and a 390x844 phone: redeem a benefit by
double-clicking (one redemption), complete the profile (the growth task's points), read
when an open appeal's answer is due; once it is accepted, the history says the downgrade was
reversed instead of "Applied". Screenshots under test-artifacts/screenshots/.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from appeals.services import appeal_accept
from benefits.models import GrowthTask, Redemption
from common.services import NotificationDraft, notification_send_many
from customers.models import PointsEntry
from tests.appeals.factories import PASSWORD, file_appeal, portal_customer
from tests.browser.screens import DESKTOP, PHONE, fits_the_screen

WORDS = {
    "en": {
        "redeem": "Redeem",
        "redeemed": "Redeemed: Free shipping.",
        "left": "3 of 4 left this period",
        "save": "Save",
        "complete": "Your profile is complete:",
        "due": "We will answer by",
        "lock": "Your grade is kept at Key until",
        "accepted": "was accepted: your grade is Key again until",
        "reversed": "Reversed on appeal on",
        "kept": "Key kept",
        "applied": "Applied",
    },
    "zh-hans": {
        "redeem": "兑换",
        "redeemed": "已兑换：免运费。",  # noqa: RUF001
        "left": "本周期剩余 3 / 4 次",
        "save": "保存",
        "complete": "您的资料已完善：",  # noqa: RUF001
        "due": "我们将在",
        "lock": "您的等级将保持为重点客户，直至",  # noqa: RUF001
        "accepted": "已通过：您的等级已恢复为重点客户，保持至",  # noqa: RUF001
        "reversed": "申诉后撤销",
        "kept": "保留重点客户",
        "applied": "已生效",
    },
}


#: What people typed (and the language switch's own "English"): the only Latin words a
#: Chinese page may show.
TYPED = (
    "Our orders were delayed by your warehouse move.",
    "Confirmed: the warehouse move.",
    "Customer CAROL",
    "carol@example.com",
    "Liu Jing",
    "1 Chaoyang Road, Beijing",
    "liu.jing@example.com",
    "TierHub",
    "English",
)


def _english_left(page, language: str) -> list[str]:
    """The English words left on a Chinese page once what people typed is taken out."""
    if language != "zh-hans":
        return []
    text = page.locator("body").inner_text()
    for typed in TYPED:
        text = text.replace(typed, " ")
    return re.findall(r"[A-Za-z]{2,}", text)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("language", ["en", "zh-hans"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_customer_redeems_once_completes_profile_and_sees_when_appeals_are_answered(
    browser, live_server, ops, screenshot, settings, tmp_path, language, viewport
):
    settings.PRIVATE_MEDIA_ROOT = str(tmp_path / "private")
    account, change = portal_customer(code="CAROL")
    appeal = file_appeal(account, change)
    task = GrowthTask.objects.get(code=GrowthTask.Code.COMPLETE_PROFILE)
    notification_send_many(
        drafts=[
            NotificationDraft(
                recipient_id=account.user.pk,
                kind="appeal_submitted",
                params={
                    "id": appeal.pk,
                    "status": "submitted",
                    "audience": "customer",
                    "from": {"en": "Key", "zh-hans": "重点客户"},
                    "to": {"en": "Growth", "zh-hans": "成长客户"},
                    "note": "",
                },
                link=f"/portal/appeals/{appeal.pk}/",
                dedupe_key="journey",
            )
        ]
    )
    words = WORDS[language]
    name = f"customer-journey-{language}-{'phone' if viewport is PHONE else 'desktop'}"
    context = browser.new_context(viewport=viewport, locale="en-GB")
    context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/login/")
    page.fill("#id_username", account.user.username)
    page.fill("#id_password", PASSWORD)
    page.locator("form [type=submit]").last.click()
    expect(page.get_by_test_id("grade")).to_be_visible()

    # Redeem by double-clicking: one redemption.
    page.goto(f"{live_server.url}/portal/benefits/")
    offer = page.locator("li[data-benefit=free-shipping]")
    assert _english_left(page, language) == []
    screenshot(page, f"{name}-01-benefits")
    offer.get_by_role("button", name=words["redeem"]).dblclick()
    expect(page.locator("ul.messages")).to_contain_text(words["redeemed"])
    expect(page.locator("li[data-benefit=free-shipping]")).to_contain_text(words["left"])
    assert Redemption.objects.filter(customer=account.customer).count() == 1
    expect(page.get_by_test_id("redemptions").locator("tbody tr")).to_have_count(1)
    assert fits_the_screen(page)
    assert _english_left(page, language) == []
    screenshot(page, f"{name}-02-redeemed-once")

    # Complete the profile: one field wrong first, then right.
    page.goto(f"{live_server.url}/portal/profile/")
    page.fill("#id_contact_name", "Liu Jing")
    page.fill("#id_email", "liu.jing@example.com")
    page.fill("#id_phone", "call me")
    page.fill("#id_address", "1 Chaoyang Road, Beijing")
    page.get_by_role("button", name=words["save"]).click()
    expect(page.get_by_test_id("error-phone")).to_be_visible()
    assert fits_the_screen(page)
    assert _english_left(page, language) == []
    screenshot(page, f"{name}-03-profile-error")
    page.fill("#id_phone", "+86 138 0013 8000")
    page.get_by_role("button", name=words["save"]).click()
    expect(page.locator("ul.messages")).to_contain_text(words["complete"])
    assert PointsEntry.objects.get(customer=account.customer).points == task.points
    assert fits_the_screen(page)
    assert _english_left(page, language) == []
    screenshot(page, f"{name}-04-profile-complete")

    # Opening a message reads it: the unread badge goes.
    page.goto(f"{live_server.url}/portal/notifications/")
    unread = int(page.get_by_test_id("unread").inner_text())
    page.get_by_test_id("message").first.click()
    expect(page).to_have_url(f"{live_server.url}/portal/appeals/{appeal.pk}/")
    if unread == 1:
        expect(page.get_by_test_id("unread")).to_have_count(0)
    else:
        expect(page.get_by_test_id("unread")).to_have_text(str(unread - 1))

    # The open appeal says when the answer is due.
    page.goto(f"{live_server.url}/portal/appeals/{appeal.pk}/")
    expect(page.get_by_test_id("answer-due")).to_contain_text(words["due"])
    assert fits_the_screen(page)
    assert _english_left(page, language) == []
    screenshot(page, f"{name}-05-appeal-due")

    # Accepted: the page says until when the grade is kept.
    appeal_accept(appeal_id=appeal.pk, by=ops, note="Confirmed: the warehouse move.")
    page.reload()
    expect(page.get_by_test_id("lock")).to_contain_text(words["lock"])
    expect(page.get_by_test_id("answer-due")).to_have_count(0)
    assert fits_the_screen(page)
    assert _english_left(page, language) == []
    screenshot(page, f"{name}-06-appeal-accepted-lock")

    # The message says so in the reader's language and person, with the date.
    page.goto(f"{live_server.url}/portal/notifications/")
    expect(page.get_by_test_id("message").first).to_contain_text(words["accepted"])
    assert fits_the_screen(page)
    assert _english_left(page, language) == []
    screenshot(page, f"{name}-07-messages")

    # The history no longer calls the reversed downgrade "Applied".
    page.goto(f"{live_server.url}/portal/history/")
    reversed_cell = page.get_by_test_id("reversed")
    expect(reversed_cell).to_contain_text(words["reversed"])
    expect(reversed_cell).to_contain_text(words["kept"])
    expect(page.locator("td", has_text=words["applied"])).to_have_count(0)
    assert fits_the_screen(page)
    assert _english_left(page, language) == []
    screenshot(page, f"{name}-08-history-reversed")
    context.close()
