"""A German and a Spanish buyer on a phone: every page of the path to a ticket in their language.

"In their language" is checked against the catalogues themselves: no page shows the English text
of a message that its language translates. Screenshots go to var/shots-i18n/.
"""

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from django.conf import settings
from django.utils import translation

from events.models import TicketType
from ticketing import services
from ticketing.models import Order, TicketRequest
from ticketing.tests import test_browser as kit
from ticketing.tests.test_browser import PHONE, accessibility_violations

SHOTS = Path(settings.BASE_DIR) / "var" / "shots-i18n"
LOCALES = {"de": "de-DE", "es": "es-ES"}

pytestmark = kit.pytestmark
playwright = kit.playwright
browser = kit.browser


def english_left_over(language: str):
    """A function giving the English messages, translated in `language`, that a text still shows."""
    path = Path(settings.BASE_DIR) / "locale" / language / "LC_MESSAGES" / "django.po"
    with path.open("rb") as po:
        catalogue = read_po(po)
    # Whole phrases only: a single word ("Total", "Hall") may be a name, or the same in both.
    phrases = [
        m.id
        for m in catalogue
        if isinstance(m.id, str)
        and m.id.count(" ") >= 2
        and m.string
        and m.string != m.id
        and not re.search(r"%\(|\{|<", m.id)
    ]

    def left_over(text: str) -> list[str]:
        return [phrase for phrase in phrases if phrase in text]

    return left_over


@pytest.mark.parametrize("language", ["de", "es"])
def test_a_buyer_gets_every_page_to_a_ticket_in_their_language(
    live_server, browser, buyer, event, vip, regular, language
):
    from playwright.sync_api import expect

    TicketType.objects.filter(pk=vip.pk).update(sold=vip.capacity)
    with translation.override(language):
        join = translation.gettext("Join the queue")
        # The sold-out type's label, after its name and price.
        sold_out = translation.gettext("%(type)s · %(price)s · Sold out – join the waiting list")
        sold_out = sold_out.split("%(price)s")[-1].strip(" ·")
    left_over = english_left_over(language)
    SHOTS.mkdir(parents=True, exist_ok=True)
    # bypass_csp: axe-core is injected as an inline script, which the site's CSP forbids.
    page = browser.new_context(**PHONE, locale=LOCALES[language], bypass_csp=True).new_page()
    base = live_server.url
    failures = {}

    def check(name):
        page.screenshot(path=SHOTS / f"buyer-{language}-{name}.png", full_page=True)
        expect(page.locator("html")).to_have_attribute("lang", language)
        if english := left_over(page.locator("body").inner_text()):
            failures[f"{name}: English"] = english
        if problems := accessibility_violations(page):
            failures[f"{name}: accessibility"] = problems

    _log_in(page, base, buyer.email)
    page.goto(f"{base}/events/")
    check("events")
    page.goto(f"{base}/events/{event.pk}/")
    expect(page.get_by_role("radio", name=re.compile(re.escape(sold_out)))).not_to_be_checked()
    page.get_by_role("radio", name=re.compile("Regular")).check()
    page.locator("input[name=quantity]").fill("2")
    expect(page.locator("[data-total]")).to_contain_text("100,00")
    expect(page.locator("[data-total]")).to_contain_text("€")
    check("event")
    page.get_by_role("button", name=join).click()
    page.wait_for_url(re.compile(r"/requests/\d+/$"))
    check("queue")

    services.drain_event_queue(event_id=event.pk)
    request = TicketRequest.objects.get(user=buyer)
    page.goto(f"{base}/requests/{request.pk}/")
    check("served")
    page.goto(f"{base}/tickets/")
    check("my-tickets")
    order = Order.objects.get(user=buyer)
    page.goto(f"{base}/orders/{order.pk}/")
    check("order")
    page.goto(f"{base}/tickets/{order.tickets.first().qr_token}/")
    check("ticket")
    assert failures == {}


def _log_in(page, base, email):
    # The log-in form in the browser's language: its fields found by their type, not their label.
    page.goto(f"{base}/accounts/login/")
    page.locator("input[type=email]").fill(email)
    page.locator("input[type=password]").fill(kit.PASSWORD)
    page.locator("form button[type=submit]").first.click()
    page.wait_for_url(f"{base}/events/")
