"""Money and moments in the event's currency and zone, in the reader's language."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from events import formatting
from events.models import Event

CHRISTMAS_EVE = datetime(2026, 12, 24, 18, 0, tzinfo=UTC)
MIDSUMMER = datetime(2026, 6, 21, 18, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "language, expected",
    [("en", "€150.00"), ("de", "150,00\xa0€"), ("es", "150,00\xa0€")],
)
def test_money_follows_the_language(language, expected):
    with translation.override(language):
        assert formatting.money(Decimal("150"), "EUR") == expected


def test_money_defaults_to_the_currency_setting(settings):
    settings.CURRENCY = "USD"
    with translation.override("en"):
        assert formatting.money(Decimal("9.5")) == "$9.50"
    assert formatting.money(None) == ""


def test_moments_are_shown_in_the_zone_named_and_name_it():
    with translation.override("en"):
        assert formatting.moment(CHRISTMAS_EVE, "Europe/Berlin") == "Thu, Dec 24, 2026, 7:00\u202fPM CET"
        assert formatting.moment(MIDSUMMER, "Europe/Berlin").endswith("8:00\u202fPM CEST")
        assert formatting.moment(CHRISTMAS_EVE, "UTC").endswith("6:00\u202fPM UTC")
        assert formatting.moment(CHRISTMAS_EVE, "Asia/Dubai").endswith("UTC+04")
        assert formatting.moment(CHRISTMAS_EVE, "Europe/Berlin", date_only=True) == "Thu, Dec 24, 2026"
    with translation.override("de"):
        assert formatting.moment(CHRISTMAS_EVE, "Europe/Berlin") == "Do., 24. Dez. 2026, 19:00 CET"
        assert formatting.time_of_day(CHRISTMAS_EVE, "Europe/Berlin") == "19:00 CET"
    assert formatting.moment(None) == ""


def test_filters_take_the_event_or_a_code(settings):
    settings.TIME_ZONE = "UTC"
    event = Event(time_zone="America/New_York", currency="USD")
    template = Template(
        "{% load formats %}{{ amount|money:event }}|{{ amount|money:'GBP' }}|{{ at|when:event }}|"
        "{{ at|day:event }}|{{ at|clock:event }}|{{ at|clock }}"
    )
    with translation.override("en"):
        out = template.render(Context({"event": event, "amount": Decimal("12"), "at": CHRISTMAS_EVE}))
    assert out.split("|") == [
        "$12.00",
        "£12.00",
        "Thu, Dec 24, 2026, 1:00\u202fPM EST",
        "Thu, Dec 24, 2026",
        "1:00\u202fPM EST",
        "6:00\u202fPM UTC",
    ]


@pytest.mark.django_db
def test_an_event_starts_in_the_settings_zone_and_currency(settings, make_event):
    settings.TIME_ZONE, settings.CURRENCY = "Europe/Madrid", "EUR"
    event = make_event()
    assert (event.time_zone, event.currency) == ("Europe/Madrid", "EUR")
