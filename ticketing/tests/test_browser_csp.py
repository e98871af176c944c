"""The Content-Security-Policy in a real browser: every page works under it, with no violation.

Each page is opened at phone and desktop size while the browser reports every blocked script,
style, image, frame or connection (the `securitypolicyviolation` event, and Chromium's console
line); a page that needed an inline script or a CDN would show up here.
"""

import pytest

from conftest import buy
from ticketing.models import CheckInList
from ticketing.services import signing
from ticketing.tests import test_browser as kit
from ticketing.tests.test_browser import PHONE, log_in, shot

pytestmark = kit.pytestmark
playwright = kit.playwright
browser = kit.browser

WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  const where = `${e.sourceFile}:${e.lineNumber}`;
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${where}`);
});
"""


def open_and_check(page, url, console):
    """Open url, let its scripts run, and return what the policy blocked there."""
    console.clear()
    response = page.goto(url)
    assert response.status < 400, (url, response.status)
    page.wait_for_load_state("load")
    page.wait_for_timeout(700)  # scripts that start after load (htmx, the door, Swagger UI)
    blocked = page.evaluate("window.__violations")
    return blocked + [line for line in console if "Content Security Policy" in line]


def browse(browser, base_url, user_email, password, paths, size, name):
    context = browser.new_context(**size)
    context.add_init_script(WATCH)
    page = context.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    if user_email:
        log_in(page, base_url, user_email, password)
    found = {}
    for path in paths:
        blocked = open_and_check(page, base_url + path, console)
        if blocked:
            found[path] = blocked
    shot(page, f"csp-{name}")
    context.close()
    return found


@pytest.mark.parametrize(
    "size", [PHONE, {"viewport": {"width": 1280, "height": 900}}], ids=["phone", "desktop"]
)
def test_every_page_loads_under_the_policy_with_no_violation(
    live_server, browser, admin_user, buyer, vip, regular, size
):
    [ticket] = buy(buyer, vip)
    door = CheckInList.objects.filter(event=vip.event).first() or CheckInList.objects.create(
        event=vip.event, name="Main door"
    )
    base = live_server.url
    anonymous = ["/events/", f"/events/{vip.event_id}/", "/accounts/login/", "/accounts/register/"]
    anonymous += ["/accounts/password-reset/", "/docs"]
    buyer_pages = ["/tickets/", f"/tickets/{signing.signed_token(ticket)}/", f"/orders/{ticket.order_id}/"]
    buyer_pages += [f"/requests/{ticket.order.request_id}/", "/accounts/"]
    staff_pages = [
        "/dashboard/",
        "/door/",
        f"/door/{door.pk}/",
        "/admin/",
        f"/admin/events/event/{vip.event_id}/change/",
    ]
    staff_pages += ["/admin/accounts/user/add/", "/docs"]
    label = "phone" if size is PHONE else "desktop"

    found = browse(browser, base, None, None, anonymous, size, f"anonymous-{label}")
    found |= browse(browser, base, buyer.email, "Str0ng-Passw0rd!", buyer_pages, size, f"buyer-{label}")
    found |= browse(browser, base, admin_user.email, "Adm1n-Passw0rd!", staff_pages, size, f"staff-{label}")

    assert found == {}


def test_the_policy_blocks_an_inline_script(live_server, browser):
    """The check above can fail: a script the policy does not allow is reported as a violation."""
    context = browser.new_context()
    context.add_init_script(WATCH)
    page = context.new_page()
    page.goto(live_server.url + "/events/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran") is None
    assert any("script-src" in v for v in page.evaluate("window.__violations"))
    context.close()
