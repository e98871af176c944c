"""My tickets on a phone: one section per event, each ticket's QR code across the card, details below."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings

from ticketing import services
from ticketing.tests.test_browser import CHROMIUM, PASSWORD, PHONE, accessibility_violations, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]
SHOTS = Path(settings.BASE_DIR) / "var" / "shots-tickets"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    from ticketing.tests.test_browser import CHROMIUM_FLAGS

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_my_tickets_reads_well_on_a_phone_and_a_desktop(live_server, browser, buyer, make_event, device):
    from playwright.sync_api import expect

    jazz = make_event(name="Jazz im Hof", vip=None, regular=10, time_zone="Europe/Berlin")
    opera = make_event(name="Opera Night", vip=None, regular=10, time_zone="America/New_York")
    opera.starts_at = jazz.starts_at + timedelta(days=7)
    opera.save(update_fields=["starts_at"])
    for event, quantity in [(jazz, 2), (opera, 1)]:
        services.enqueue_request(user=buyer, ticket_type_id=event.ticket_types.get().pk, quantity=quantity)
        services.drain_event_queue(event_id=event.pk)

    size = PHONE if device == "phone" else {"viewport": {"width": 1280, "height": 900}}
    page = browser.new_context(**size, bypass_csp=True).new_page()
    log_in(page, live_server.url, buyer.email, PASSWORD)
    page.goto(f"{live_server.url}/tickets/")
    expect(page.get_by_role("heading", level=2)).to_have_text(["Jazz im Hof", "Opera Night"])
    page.screenshot(path=SHOTS / f"my-tickets-{device}.png", full_page=True)

    card = page.locator(".ticket-card").first.bounding_box()
    qr = page.locator(".ticket-card .qr-box").first.bounding_box()
    info = page.locator(".ticket-card .ticket-info").first.bounding_box()
    if device == "phone":
        # Stacked: the code fills most of the card's width, the details come under it.
        assert qr["width"] >= 0.75 * (card["width"] - 32)
        assert info["y"] >= qr["y"] + qr["height"]
    else:
        assert info["x"] >= qr["x"] + qr["width"]  # side by side
    assert accessibility_violations(page) == []
    page.context.close()
