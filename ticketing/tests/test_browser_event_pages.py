"""The event and queue pages in a real browser at a phone's size: no sideways scroll, accessible, and the
script's total, countdown and confirmation at work. Screenshots go to var/shots-pages/."""

import re
from datetime import timedelta
from pathlib import Path

from django.conf import settings

from events.models import TicketType
from ticketing import services
from ticketing.models import TicketRequest
from ticketing.tests import test_browser as kit
from ticketing.tests.test_browser import PHONE, accessibility_violations, log_in

pytestmark = kit.pytestmark
playwright = kit.playwright
browser = kit.browser

SHOTS = Path(settings.BASE_DIR) / "var" / "shots-pages"


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


def overflow(page) -> int:
    """How many pixels the page is wider than the screen (0: no horizontal scroll)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def test_event_and_queue_pages_fit_a_phone_and_pass_the_accessibility_check(
    live_server, browser, buyer, other_buyer, make_event, event, vip, regular
):
    from playwright.sync_api import expect

    TicketType.objects.filter(pk=vip.pk).update(sold=vip.capacity)
    later = make_event(name="Later Gig", opens_in=timedelta(hours=2), waiting_room=timedelta(hours=1))
    for _ in range(3):
        services.enqueue_request(user=other_buyer, ticket_type_id=regular.pk, quantity=1)
    base = live_server.url
    # bypass_csp: axe-core is injected as an inline script, which the site's CSP forbids.
    page = browser.new_context(**PHONE, bypass_csp=True).new_page()
    log_in(page, base, buyer.email)
    failures = {}

    page.goto(f"{base}/events/{later.pk}/")
    countdown = page.locator("[data-countdown]").first
    expect(countdown).to_have_text(re.compile(r"^(59|60) min$|^1 h 0 min$"))
    page.evaluate("tickCountdowns()")
    expect(countdown).to_have_text(re.compile(r"^(59|60) min$|^1 h 0 min$"))
    shot(page, "phone-upcoming")
    failures["upcoming"] = accessibility_violations(page)
    assert overflow(page) <= 0

    page.goto(f"{base}/events/{event.pk}/")
    expect(page.get_by_label(re.compile("VIP · .* · Sold out – join the waiting list"))).not_to_be_checked()
    page.get_by_label("Quantity").fill("3")
    expect(page.locator("[data-total]")).to_have_text("€150.00")
    shot(page, "phone-event")
    failures["event"] = accessibility_violations(page)
    assert overflow(page) <= 0

    page.get_by_role("button", name="Join the queue").click()
    expect(page.get_by_role("heading", name="You are in the queue")).to_be_visible()
    expect(page.get_by_test_id("ahead")).to_have_text("3")
    shot(page, "phone-queue")
    failures["queue"] = accessibility_violations(page)
    assert overflow(page) <= 0

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="Cancel this request").click()
    ticket_request = TicketRequest.objects.get(user=buyer)
    expect(page.get_by_role("heading", name="You are in the queue")).to_be_visible()
    assert ticket_request.status == TicketRequest.Status.QUEUED, "dismissing the question keeps the place"
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel this request").click()
    expect(page.get_by_role("heading", name="Request cancelled")).to_be_visible()
    ticket_request.refresh_from_db()
    assert ticket_request.status == TicketRequest.Status.CANCELLED
    page.context.close()

    desk = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True).new_page()
    log_in(desk, base, buyer.email)
    for name, url in (("upcoming", later.get_absolute_url()), ("event", event.get_absolute_url())):
        desk.goto(f"{base}{url}")
        shot(desk, f"desktop-{name}")
        assert overflow(desk) <= 0
    TicketType.objects.filter(pk=regular.pk).update(sold=regular.capacity)
    desk.goto(f"{base}{event.get_absolute_url()}")
    expect(desk.get_by_test_id("sold-out")).to_contain_text("Every ticket type is sold out.")
    expect(desk.get_by_role("button", name="Join the waiting list")).to_be_visible()
    shot(desk, "desktop-sold-out")
    failures["sold out"] = accessibility_violations(desk)
    desk.context.close()

    assert not any(failures.values()), failures
