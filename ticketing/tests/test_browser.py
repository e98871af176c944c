"""A real browser: a buyer goes from the events list to a ticket, door staff admit it once.

Drives Debian's Chromium through Playwright; screenshots go to test-artifacts/ for a person to look at.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from ticketing import services
from ticketing.models import Ticket, TicketRequest

# Playwright's sync API runs an event loop in this thread; the ORM calls made here are still sync.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "Str0ng-Passw0rd!"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


def shot(page, name):
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def log_in(page, base_url, email, password=PASSWORD):
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    # Buyers and staff land on the events list, door-only staff on the door page.
    page.wait_for_url(lambda url: url in (f"{base_url}/events/", f"{base_url}/door/"))


def test_buyer_watches_the_queue_page_turn_into_a_ticket(live_server, browser, event, regular):
    from playwright.sync_api import expect

    base = live_server.url
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", name="Events")).to_be_visible()
    expect(page.get_by_text("80 of 80 left")).to_be_visible()
    shot(page, "01-events")

    page.get_by_role("link", name="Join the queue").first.click()
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Your name").fill("Dana")
    page.get_by_label("Email address").fill("dana@example.test")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Password again").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name=event.name)).to_be_visible()
    expect(page.locator(".who")).to_have_text("Dana")

    page.get_by_label(re.compile("Regular · ")).check()
    page.get_by_label("Quantity").fill("1")
    shot(page, "02-event")
    page.get_by_role("button", name="Join the queue").click()
    expect(page.get_by_role("heading", name="You are in the queue")).to_be_visible()
    expect(page.get_by_test_id("position")).to_have_text("1")
    shot(page, "03-queued")

    # A marker on the window survives only if the page is never reloaded.
    page.evaluate("window.notReloaded = true")
    services.drain_event_queue(event_id=event.pk)
    expect(page.get_by_role("heading", name="You have your tickets")).to_be_visible(timeout=15_000)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("svg.qr")).to_have_count(1)
    expect(page.locator("svg.qr")).to_be_visible()
    shot(page, "04-served")

    ticket_request = TicketRequest.objects.get(user__email="dana@example.test")
    assert ticket_request.status == TicketRequest.Status.FULFILLED
    assert page.url == f"{base}{ticket_request.get_absolute_url()}"


def test_door_staff_on_a_phone_admit_a_ticket_once(live_server, browser, door_staff, buyer, regular):
    from playwright.sync_api import expect

    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=regular.event_id)
    ticket = Ticket.objects.get()

    base = live_server.url
    page = browser.new_context(**PHONE).new_page()
    log_in(page, base, door_staff.email)
    page.get_by_role("link", name="Door").click()
    # The door starts by choosing the event and its list.
    expect(page.get_by_role("heading", name=regular.event.name)).to_be_visible()
    shot(page, "05-door-choose")
    page.get_by_role("link", name="Main entrance").click()
    expect(page.locator("#door-counts")).to_contain_text("0 in of 1 tickets")
    code = page.get_by_label("Ticket code or link")
    expect(code).to_be_focused()
    shot(page, "05-door")

    code.fill(ticket.qr_token)
    code.press("Enter")
    result = page.locator("#door-result")
    expect(result).to_have_class(re.compile(r"\bshown admitted\b"))
    expect(result).to_contain_text("Admitted")
    expect(result).to_contain_text("Regular")
    expect(page.locator("#door-counts")).to_contain_text("1 in of 1 tickets")
    shot(page, "06-door-admitted")

    # The field is empty and focused again: the next scan needs no tap.
    expect(code).to_have_value("")
    expect(code).to_be_focused()
    page.keyboard.type(ticket.qr_token)
    page.keyboard.press("Enter")
    expect(result).to_contain_text("Already checked in at")
    expect(result).to_have_class(re.compile(r"\bshown refused\b"))
    shot(page, "07-door-refused")

    ticket.refresh_from_db()
    assert ticket.checked_in_by == door_staff
    assert page.url == f"{base}{door_page(regular.event)}"


def door_page(event) -> str:
    return f"/door/{services.default_list(event).pk}/"


def qr_video(path: Path, token: str, *, fps=10, shown_s=2, gap_s=6, lead_s=0) -> Path:
    """A Y4M clip for Chromium's fake camera: an empty frame for lead_s, then the ticket's QR code,
    then an empty frame, looping."""
    import segno

    width, height, scale = 400, 300, 6
    matrix = [
        [bool(m) for m in row] for row in segno.make(token, error="m").matrix_iter(scale=scale, border=4)
    ]
    top, left = (height - len(matrix)) // 2, (width - len(matrix[0])) // 2
    blank = bytearray([235]) * (width * height)
    code = bytearray(blank)
    for y, row in enumerate(matrix):
        code[(top + y) * width + left : (top + y) * width + left + len(row)] = bytes(
            16 if dark else 235 for dark in row
        )
    chroma = bytes([128]) * (width * height // 2)
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for frame in [blank] * (fps * lead_s) + [code] * (fps * shown_s) + [blank] * (fps * gap_s):
            f.write(b"FRAME\n" + bytes(frame) + chroma)
    return path


def test_door_camera_reads_the_qr_code_and_refuses_it_the_second_time(
    live_server, playwright, door_staff, buyer, regular, tmp_path
):
    from playwright.sync_api import expect

    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=regular.event_id)
    ticket = Ticket.objects.get()
    video = qr_video(tmp_path / "qr.y4m", ticket.qr_token)
    camera_flags = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + camera_flags)
    try:
        context = browser.new_context(**PHONE)
        context.grant_permissions(["camera"], origin=live_server.url)
        page = context.new_page()
        log_in(page, live_server.url, door_staff.email)
        page.goto(f"{live_server.url}{door_page(regular.event)}")
        result = page.locator("#door-result")
        # No tap, no typing: the camera sees the code and the page submits it.
        expect(result).to_have_class(re.compile(r"\bshown admitted\b"), timeout=15_000)
        shot(page, "08-door-camera-admitted")
        # The answer then shrinks to a banner so the camera can be aimed at the next ticket.
        expect(result).to_have_class(re.compile(r"\bcompact\b"))
        shot(page, "09-door-camera-ready")
        # The clip shows an empty frame for a while, then the same code: a second scan.
        expect(result).to_have_class(re.compile(r"\bshown refused\b"), timeout=20_000)
        expect(result).to_contain_text("Already checked in at")
        expect(page.locator("[data-scanner] video")).to_be_visible()
        shot(page, "10-door-camera-refused")
    finally:
        browser.close()
    ticket.refresh_from_db()
    assert ticket.checked_in_by == door_staff


def test_a_waiting_buyer_gets_the_ticket_another_buyer_cancels_and_the_door_refuses_it(
    live_server, browser, make_user, make_event, door_staff, admin_user
):
    from datetime import timedelta

    from django.utils import timezone
    from playwright.sync_api import expect

    event = make_event(vip=None, regular=1, cancellation_deadline=timezone.now() + timedelta(days=1))
    regular = event.ticket_types.get()
    holder, waiter = make_user(name="Holder"), make_user(name="Waiter")
    services.enqueue_request(user=holder, ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=event.pk)
    base = live_server.url

    page = browser.new_context(**PHONE).new_page()
    log_in(page, base, waiter.email)
    page.goto(f"{base}/events/{event.pk}/")
    page.get_by_label(re.compile("Sold out – join the waiting list")).check()
    shot(page, "11-waiting-offered")
    page.get_by_role("button", name="Join the waiting list").click()
    expect(page.get_by_role("heading", name="You are on the waiting list")).to_be_visible()
    expect(page.get_by_test_id("waiting-ahead")).to_have_text("You are next")
    shot(page, "12-waiting")

    # The holder gives the ticket back from the order page.
    holder_page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    log_in(holder_page, base, holder.email)
    old_ticket = Ticket.objects.get(order__user=holder)
    holder_page.goto(f"{base}{old_ticket.order.get_absolute_url()}")
    holder_page.get_by_role("button", name="Cancel the chosen tickets").click()
    expect(holder_page.get_by_text("1 ticket cancelled.")).to_be_visible()
    shot(holder_page, "13-order-cancelled")

    # The cluster's drain, woken by the cancellation, serves the waiting list; the waiting page
    # polls and turns into the ticket by itself.
    services.drain_event_queue(event_id=event.pk)
    expect(page.get_by_role("heading", name="You have your tickets")).to_be_visible(timeout=20_000)
    shot(page, "14-waiting-served")

    # The cancelled ticket is refused at the door.
    door = browser.new_context(**PHONE).new_page()
    log_in(door, base, door_staff.email)
    door.goto(f"{base}{door_page(event)}")
    door.get_by_label("Ticket code or link").fill(old_ticket.qr_token)
    door.get_by_label("Ticket code or link").press("Enter")
    result = door.locator("#door-result")
    expect(result).to_have_class(re.compile(r"\bshown refused\b"))
    expect(result).to_contain_text("Cancelled ticket")
    shot(door, "15-door-cancelled")
    old_ticket.refresh_from_db()
    assert (old_ticket.status, old_ticket.checked_in_at) == ("cancelled", None)


AXE = Path(__file__).parent / "assets" / "axe.min.js"


def accessibility_violations(page) -> list[str]:
    """axe-core's WCAG 2 A and AA findings for the page as it stands."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'wcag21aa']})).violations"
    )
    return [f"{v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}" for v in found]


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_page_passes_the_accessibility_check(
    live_server, browser, device, buyer, door_staff, admin_user, regular, vip
):
    from datetime import timedelta

    from django.utils import timezone

    regular.event.cancellation_deadline = timezone.now() + timedelta(days=1)
    regular.event.save()
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=2)
    services.drain_event_queue(event_id=regular.event_id)
    waiting = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    type(vip).objects.filter(pk=vip.pk).update(sold=vip.capacity)
    on_list = services.enqueue_request(
        user=door_staff, ticket_type_id=vip.pk, quantity=1, wait_if_sold_out=True
    )
    ticket = Ticket.objects.first()
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    base = live_server.url
    size = PHONE if device == "phone" else {"viewport": {"width": 1280, "height": 900}}
    event_url = f"/events/{regular.event_id}/"
    pages = {
        None: [("events", "/events/"), ("event", event_url), ("login", "/accounts/login/"),
               ("register", "/accounts/register/"), ("reset", "/accounts/password-reset/"),
               ("404", "/no-such-page/")],
        buyer: [("event", event_url), ("queued", waiting.get_absolute_url()), ("my-tickets", "/tickets/"),
                ("order", ticket.order.get_absolute_url()), ("ticket", ticket.get_absolute_url()),
                ("403", "/dashboard/")],
        door_staff: [("door", "/door/"), ("door-list", door_page(regular.event)),
                     ("waiting-list", on_list.get_absolute_url())],
        admin_user: [("dashboard", "/dashboard/"), ("staff-order", ticket.order.get_absolute_url()),
                     ("door-supervisor", door_page(regular.event))],
    }  # fmt: skip
    roles = {None: "visitor", buyer: "buyer", door_staff: "door", admin_user: "staff"}
    failures = {}
    for user, visits in pages.items():
        # bypass_csp: axe-core is injected as an inline script, which the site's CSP forbids.
        page = browser.new_context(**size, bypass_csp=True).new_page()
        if user is not None:
            log_in(page, base, user.email, "Adm1n-Passw0rd!" if user == admin_user else PASSWORD)
        for label, path in visits:
            page.goto(f"{base}{path}")
            shot(page, f"tour-{device}-{roles[user]}-{label}")
            if problems := accessibility_violations(page):
                failures[f"{path} as {user or 'visitor'}"] = problems
        page.context.close()
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
