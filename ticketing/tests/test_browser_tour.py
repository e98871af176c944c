"""The organiser's five-minute tour of the README, walked in a real browser.

Create an event in the admin, open its sale, watch a buyer join and the dashboard count, make a door
volunteer and admit the ticket. Its screenshots are the README's: `make tour` writes them to
docs/tour/ (TOUR_SHOTS); otherwise they go to test-artifacts/tour/ for a person to look at.
"""

import os
import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.utils import timezone

from events.models import Event
from ticketing import services
from ticketing.models import Ticket
from ticketing.tests.test_browser import (  # noqa: F401
    CHROMIUM,
    PHONE,
    accessibility_violations,
    browser,
    log_in,
    playwright,
)

SHOTS = Path(os.environ.get("TOUR_SHOTS") or Path(settings.BASE_DIR) / "test-artifacts" / "tour")
DESKTOP = {"viewport": {"width": 1280, "height": 860}}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


def shot(page, name, *, full_page=False):
    page.screenshot(path=SHOTS / f"{name}.png", full_page=full_page)


def test_an_organiser_creates_an_event_opens_its_sale_and_prepares_the_door(
    live_server,
    browser,  # noqa: F811
    admin_user,
    buyer,
    make_user,
):
    from playwright.sync_api import expect

    SHOTS.mkdir(parents=True, exist_ok=True)
    base = live_server.url
    berlin = ZoneInfo("Europe/Berlin")
    now = timezone.now().astimezone(berlin)
    starts = (now + timedelta(days=14)).replace(hour=20, minute=0, second=0, microsecond=0)
    opens = now - timedelta(minutes=5)

    # 1. The event, in the admin: the form suggests the VIP and Regular rows; the times are Berlin's.
    staff = browser.new_context(**DESKTOP).new_page()
    staff.goto(f"{base}/admin/login/")
    staff.get_by_label("Email address").fill(admin_user.email)
    staff.get_by_label("Password").fill("Adm1n-Passw0rd!")
    staff.get_by_role("button", name="Log in").click()
    staff.goto(f"{base}/admin/events/event/add/")
    staff.fill("#id_name", "Spring Concert")
    staff.fill("#id_venue", "Town Hall")
    staff.select_option("#id_time_zone", "Europe/Berlin")
    staff.select_option("#id_currency", "EUR")
    staff.fill("#id_starts_at_0", starts.strftime("%Y-%m-%d"))
    staff.fill("#id_starts_at_1", "20:00:00")
    staff.fill("#id_sale_opens_at_0", opens.strftime("%Y-%m-%d"))
    staff.fill("#id_sale_opens_at_1", opens.strftime("%H:%M:%S"))
    expect(staff.locator("#id_ticket_types-0-name")).to_have_value("VIP")
    expect(staff.locator("#id_ticket_types-1-name")).to_have_value("Regular")
    for row, price, capacity in [(0, "120.00", "20"), (1, "45.00", "200")]:
        staff.fill(f"#id_ticket_types-{row}-price", price)
        staff.fill(f"#id_ticket_types-{row}-capacity", capacity)
    shot(staff, "1-admin-new-event", full_page=True)
    staff.get_by_role("button", name="Save", exact=True).click()
    expect(staff.locator(".messagelist")).to_contain_text("Spring Concert")
    event = Event.objects.get(name="Spring Concert")
    assert event.starts_at == starts
    assert [t.name for t in event.ticket_types.order_by("-priority")] == ["VIP", "Regular"]

    # 2. The sale is open: a buyer on a phone sees the price and total in euros, and joins.
    phone = browser.new_context(**PHONE).new_page()
    log_in(phone, base, buyer.email)
    phone.goto(f"{base}/events/{event.pk}/")
    phone.get_by_role("radio", name=re.compile("Regular")).check()
    phone.get_by_label("Quantity").fill("2")
    expect(phone.locator("[data-total]")).to_have_text("€90.00")
    shot(phone, "2-buyer-event-page", full_page=True)
    # The header is one row on a phone (its links scroll within it), and nothing is wider than the screen.
    assert phone.locator(".site-header").bounding_box()["height"] < 64
    assert phone.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    phone.get_by_role("button", name="Join the queue").click()
    phone.wait_for_url(re.compile(r"/requests/\d+/$"))

    # 3. The cluster serves the queue; the dashboard counts the sale.
    services.drain_event_queue(event_id=event.pk)
    staff.goto(f"{base}/dashboard/")
    expect(staff.get_by_role("heading", name="Spring Concert")).to_be_visible()
    expect(staff.locator("body")).to_contain_text("€90.00")
    shot(staff, "3-dashboard", full_page=True)

    # 4. The door: a volunteer is made door staff with one checkbox, and admits the ticket once.
    volunteer = make_user(email="volunteer@example.test", name="Vera Volunteer")
    staff.goto(f"{base}/admin/accounts/user/{volunteer.pk}/change/")
    staff.get_by_label("Door staff", exact=True).check()
    staff.locator("fieldset:has(#id_door_staff)").screenshot(path=SHOTS / "4-admin-door-staff.png")
    staff.get_by_role("button", name="Save", exact=True).click()
    expect(staff.locator(".messagelist")).to_be_visible()

    # bypass_csp: axe-core is injected as an inline script, which the site's CSP forbids.
    door = browser.new_context(**PHONE, bypass_csp=True).new_page()
    log_in(door, base, volunteer.email)
    assert door.url == f"{base}/door/"
    door.get_by_role("link", name="Main entrance").click()
    ticket = Ticket.objects.filter(order__event=event).first()
    code = door.get_by_label("Ticket code or link")
    code.fill(ticket.qr_token)
    code.press("Enter")
    expect(door.locator("#door-result")).to_contain_text("Admitted")
    shot(door, "5-door-admitted")
    assert accessibility_violations(door) == []
