"""The door with the network cut, in a real browser: a phone keeps scanning and reconciles later.

Playwright's `context.set_offline` cuts the phone's network; the page was opened online first, as
door staff are told to do before doors open. Screenshots go to test-artifacts/.
"""

import re

import pytest

from ticketing import services
from ticketing.models import CheckIn, Ticket
from ticketing.services import signing
from ticketing.tests import test_browser as kit
from ticketing.tests.test_browser import CHROMIUM, CHROMIUM_FLAGS, PHONE, log_in, qr_video, shot

pytestmark = kit.pytestmark
# The browser test module's fixtures, shared: one Chromium per module.
playwright = kit.playwright
browser = kit.browser


def ready_for_offline(page, tickets: int):
    """Wait until the page holds its list and its service worker keeps the page."""
    from playwright.sync_api import expect

    expect(page.locator("[data-offline-door]")).to_contain_text(f"list of {tickets} tickets", timeout=15000)
    # A function, not an expression: Playwright would eval an expression, which the CSP forbids.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=15000)
    page.wait_for_timeout(500)  # the worker's copy of the page


def scan(page, code):
    page.get_by_label("Ticket code or link").fill(code)
    page.get_by_label("Ticket code or link").press("Enter")


@pytest.fixture
def door_tickets(buyer, admin_user, regular):
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=3)
    services.drain_event_queue(event_id=regular.event_id)
    first, cancelled, third = Ticket.objects.order_by("pk")
    services.cancel_order(
        user=admin_user, order_id=cancelled.order_id, ticket_ids=[cancelled.pk], reason="test"
    )
    return first, cancelled, third


def test_a_phone_keeps_scanning_offline_and_uploads_its_scans_when_back(
    live_server, browser, door_staff, buyer, regular, door_tickets, make_event
):
    from playwright.sync_api import expect

    first, cancelled, _ = door_tickets
    url = f"{live_server.url}/door/{services.default_list(regular.event).pk}/"
    context = browser.new_context(**PHONE)
    page = context.new_page()
    log_in(page, live_server.url, door_staff.email)
    page.goto(url)
    ready_for_offline(page, 3)
    status = page.locator("[data-offline-door]")
    result = page.locator("#door-result")

    signed = signing.signed_token(first)
    context.set_offline(True)
    expect(status).to_contain_text("Offline")
    # The QR code's signed code, verified on the phone with the event's public key.
    scan(page, signed)
    expect(result).to_contain_text("Admitted")
    expect(result).to_have_class(re.compile(r"\bshown admitted\b"))
    expect(result).to_contain_text("offline")
    expect(status).to_contain_text("1 scan waiting to upload")
    shot(page, "20-door-offline-admitted")
    # The same ticket again, by its random code: the phone knows it is in.
    scan(page, first.qr_token)
    expect(result).to_contain_text("Already checked in")
    scan(page, signed[:-2] + ("AA" if not signed.endswith("AA") else "BB"))
    expect(result).to_contain_text("Unknown ticket")
    scan(page, cancelled.qr_token)
    expect(result).to_contain_text("Cancelled ticket")
    scan(page, "not-a-ticket-code")
    expect(result).to_contain_text("Unknown ticket")
    # Another event's signed code: refused as such, its signature unread.
    late = make_event(name="Late Show", vip=None).ticket_types.get()
    services.enqueue_request(user=buyer, ticket_type_id=late.pk, quantity=1)
    services.drain_event_queue(event_id=late.event_id)
    scan(page, signing.signed_token(Ticket.objects.get(ticket_type=late)))
    expect(result).to_contain_text("Wrong event")
    shot(page, "21-door-offline-refused")
    assert not CheckIn.objects.exists()

    # The page itself comes back offline, from the service worker, with its list and its scan.
    page.reload()
    expect(page.get_by_label("Ticket code or link")).to_be_visible()
    expect(status).to_contain_text("1 scan waiting to upload")

    context.set_offline(False)
    expect(status).to_contain_text("0 scans waiting to upload", timeout=15000)
    expect(page.locator("[data-sync-results]")).to_contain_text("Uploaded 1 offline scan: 1 admitted.")
    expect(page.locator("#door-counts")).to_contain_text("1 in of 2 tickets")
    shot(page, "22-door-back-online")
    entry = CheckIn.objects.get()
    assert (entry.ticket_id, entry.offline, entry.active) == (first.pk, True, True)
    first.refresh_from_db()
    assert first.status == "checked_in"
    context.close()


def test_two_phones_admitting_one_ticket_offline_are_reconciled_with_a_flag(
    live_server, browser, door_staff, regular, door_tickets
):
    from playwright.sync_api import expect

    _, _, ticket = door_tickets
    url = f"{live_server.url}/door/{services.default_list(regular.event).pk}/"
    phones = []
    for _ in range(2):
        context = browser.new_context(**PHONE)
        page = context.new_page()
        log_in(page, live_server.url, door_staff.email)
        page.goto(url)
        ready_for_offline(page, 3)
        context.set_offline(True)
        scan(page, ticket.qr_token)
        expect(page.locator("#door-result")).to_contain_text("Admitted")
        phones.append((context, page))

    for context, page in phones:
        context.set_offline(False)
        expect(page.locator("[data-offline-door]")).to_contain_text(
            "0 scans waiting to upload", timeout=15000
        )
    expect(phones[0][1].locator("[data-sync-results]")).to_contain_text("1 admitted.")
    second = phones[1][1].locator("[data-sync-results]")
    expect(second).to_contain_text("1 to look into")
    expect(second).to_contain_text("Admitted twice: first at")
    shot(phones[1][1], "23-door-admitted-twice")
    assert CheckIn.objects.filter(active=True).count() == 1
    assert CheckIn.objects.filter(duplicate_of__isnull=False).count() == 1
    for context, _ in phones:
        context.close()


def test_the_camera_keeps_scanning_offline(
    live_server, playwright, door_staff, regular, door_tickets, tmp_path
):
    from playwright.sync_api import expect

    first, _, _ = door_tickets
    # The clip starts empty long enough for the page to get ready and the network to be cut.
    video = qr_video(tmp_path / "qr.y4m", signing.signed_token(first), lead_s=8, gap_s=5)
    camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    camera_browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + camera)
    try:
        context = camera_browser.new_context(**PHONE)
        context.grant_permissions(["camera"], origin=live_server.url)
        page = context.new_page()
        log_in(page, live_server.url, door_staff.email)
        page.goto(f"{live_server.url}/door/{services.default_list(regular.event).pk}/")
        ready_for_offline(page, 3)
        context.set_offline(True)
        result = page.locator("#door-result")
        expect(result).to_have_class(re.compile(r"\bshown admitted\b"), timeout=20_000)
        expect(result).to_contain_text("offline")
        shot(page, "24-door-camera-offline-admitted")
        # The code comes round again: the phone knows it let this ticket in.
        expect(result).to_contain_text("Already checked in", timeout=20_000)
        context.set_offline(False)
        expect(page.locator("[data-sync-results]")).to_contain_text("1 admitted.", timeout=15_000)
    finally:
        camera_browser.close()
    assert CheckIn.objects.get().offline
