"""The organiser's dashboard in a real browser: on a phone and a desktop, no sideways page scroll."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from ticketing import services
from ticketing.models import Ticket
from ticketing.tests import test_browser as kit
from ticketing.tests.test_browser import PHONE, accessibility_violations, log_in

pytestmark = kit.pytestmark
playwright = kit.playwright
browser = kit.browser
SHOTS = Path(settings.BASE_DIR) / "var" / "shots-reports"
SIZES = {"phone": PHONE, "desktop": {"viewport": {"width": 1280, "height": 900}}}


@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_dashboard_fits_the_screen_and_passes_the_accessibility_check(
    live_server, browser, device, admin_user, buyer, door_staff, event, vip, regular
):
    from playwright.sync_api import expect

    event.time_zone = "Europe/Berlin"
    event.starts_at = timezone.now() + timedelta(hours=2)
    # A sale open for days: the chart's ends are then named with their dates, the longest labels.
    event.sale_opens_at = timezone.now() - timedelta(days=3)
    event.save(update_fields=["time_zone", "starts_at", "sale_opens_at"])
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=3)
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    services.drain_event_queue(event_id=event.pk)
    services.enqueue_request(user=door_staff, ticket_type_id=regular.pk, quantity=1)
    services.check_in_ticket(qr_token=Ticket.objects.first().qr_token, staff_user=door_staff)

    SHOTS.mkdir(parents=True, exist_ok=True)
    # bypass_csp: axe-core is injected as an inline script, which the site's CSP forbids.
    page = browser.new_context(**SIZES[device], bypass_csp=True).new_page()
    log_in(page, live_server.url, admin_user.email, "Adm1n-Passw0rd!")
    page.goto(f"{live_server.url}/dashboard/")
    expect(page.get_by_role("heading", name=event.name)).to_be_visible()
    expect(page.locator(".run-chart")).to_have_count(2)
    page.screenshot(path=SHOTS / f"dashboard-{device}.png", full_page=True)

    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    # The ticket-type table may scroll, inside its own box.
    assert page.evaluate(
        "[...document.querySelectorAll('.table-wrap')].every(w => w.getBoundingClientRect().right"
        " <= document.documentElement.clientWidth)"
    )
    assert accessibility_violations(page) == []
    page.context.close()
