"""The admin in a real browser, at phone and desktop sizes: the site's colours, readable contrast."""

import os
from pathlib import Path

import pytest
from django.conf import settings

from ticketing.tests.test_browser import CHROMIUM, PHONE, accessibility_violations, browser, playwright  # noqa: F401

SHOTS = Path(settings.BASE_DIR) / "var" / "shots-admin"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed"),
    pytest.mark.django_db(transaction=True),
]


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_the_admin_pages_have_enough_contrast(live_server, browser, device, admin_user, event):  # noqa: F811
    SHOTS.mkdir(parents=True, exist_ok=True)
    size = PHONE if device == "phone" else {"viewport": {"width": 1280, "height": 900}}
    page = browser.new_context(**size, bypass_csp=True).new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Email address").fill(admin_user.email)
    page.get_by_label("Password").fill("Adm1n-Passw0rd!")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_server.url}/admin/")
    failures = {}
    for label, path in [
        ("index", "/admin/"),
        ("event-add", "/admin/events/event/add/"),
        ("event-change", f"/admin/events/event/{event.pk}/change/"),
        ("user-change", f"/admin/accounts/user/{admin_user.pk}/change/"),
    ]:
        page.goto(f"{live_server.url}{path}")
        page.screenshot(path=SHOTS / f"{device}-{label}.png", full_page=True)
        contrast = [v for v in accessibility_violations(page) if v.startswith("color-contrast")]
        if contrast:
            failures[label] = contrast
    assert failures == {}
