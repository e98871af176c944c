"""A German browser on a phone: the events list and log-in in German, accessible, and the footer's switch."""

from pathlib import Path

import pytest
from django.conf import settings

from ticketing.tests import test_browser as kit
from ticketing.tests.test_browser import PHONE, accessibility_violations

SHOTS = Path(settings.BASE_DIR) / "var" / "shots-i18n"

pytestmark = kit.pytestmark
playwright = kit.playwright
browser = kit.browser


def shot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_a_german_browser_gets_german_pages_that_pass_the_accessibility_check(
    live_server, browser, event, size
):
    from playwright.sync_api import expect

    device = PHONE if size == "phone" else {"viewport": {"width": 1280, "height": 900}}
    # bypass_csp: axe-core is injected as an inline script, which the site's CSP forbids.
    page = browser.new_context(**device, locale="de-DE", bypass_csp=True).new_page()
    base = live_server.url

    page.goto(f"{base}/events/")
    expect(page.locator("html")).to_have_attribute("lang", "de")
    expect(page.get_by_role("link", name="Veranstaltungen").first).to_be_visible()
    expect(page.get_by_label("Sprache")).to_have_value("de")
    shot(page, f"{size}-events-de")
    assert accessibility_violations(page) == []

    page.goto(f"{base}/accounts/login/")
    expect(page.get_by_role("heading", name="Anmelden")).to_be_visible()
    expect(page.get_by_label("E-Mail-Adresse")).to_be_visible()
    expect(page.get_by_label("Passwort")).to_be_visible()
    expect(page.get_by_role("link", name="Passwort vergessen?")).to_be_visible()
    shot(page, f"{size}-login-de")
    assert accessibility_violations(page) == []
    page.context.close()


def test_the_footer_switch_turns_the_pages_spanish_and_keeps_them_so(live_server, browser, event):
    from playwright.sync_api import expect

    page = browser.new_context(**PHONE, locale="de-DE").new_page()
    base = live_server.url
    page.goto(f"{base}/accounts/login/")

    page.get_by_label("Sprache").select_option("es")
    page.get_by_role("button", name="Sprache wechseln").click()

    expect(page.get_by_role("heading", name="Iniciar sesión")).to_be_visible()
    assert page.url == f"{base}/accounts/login/"
    page.goto(f"{base}/events/")
    expect(page.locator("html")).to_have_attribute("lang", "es")
    expect(page.get_by_label("Idioma")).to_have_value("es")
    shot(page, "phone-events-es")
    page.context.close()


def test_the_offline_door_answers_in_the_pages_language(live_server, browser, door_staff, buyer, regular):
    from playwright.sync_api import expect

    from ticketing import services
    from ticketing.models import Ticket
    from ticketing.services import signing

    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    services.drain_event_queue(event_id=regular.event_id)
    ticket = Ticket.objects.get()
    context = browser.new_context(**PHONE, locale="de-DE")
    page = context.new_page()
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.get_by_label("E-Mail-Adresse").fill(door_staff.email)
    page.get_by_label("Passwort").fill(kit.PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    # Door-only staff land on the door page after logging in.
    page.wait_for_url(f"{base}/door/")
    page.goto(f"{base}/door/{services.default_list(regular.event).pk}/")
    status = page.locator("[data-offline-door]")
    result = page.locator("#door-result")
    code = page.locator("input[name=code]")
    expect(status).to_contain_text("Liste mit 1 Tickets", timeout=15000)

    context.set_offline(True)
    expect(status).to_contain_text("Offline")
    code.fill(signing.signed_token(ticket))
    code.press("Enter")
    expect(result).to_contain_text("Eingelassen")
    expect(result).to_contain_text(f"{buyer.name} · offline eingelassen")
    expect(status).to_contain_text("1 Scan wartet auf das Hochladen")
    shot(page, "phone-door-offline-de")
    code.fill(ticket.qr_token)
    code.press("Enter")
    expect(result).to_contain_text("Bereits eingelassen")
    expect(result).to_contain_text(f"{buyer.name} ist bereits drinnen.")

    context.set_offline(False)
    expect(page.locator("[data-sync-results]")).to_contain_text("1 Offline-Scan hochgeladen: 1 eingelassen.")
    expect(status).to_contain_text("0 Scans warten auf das Hochladen")
    shot(page, "phone-door-synced-de")
    context.close()
