"""Money and moments as a person reads them: in the event's currency and time zone, in their language.

Formatted with Babel (CLDR data), the one place the pages, emails, PDFs and the admin get these
from. The language is Django's active one, so a German buyer reads "150,00 €" and
"Do., 24. Dez. 2026, 19:00 CET" where an English one reads "€150.00" and "Thu, Dec 24, 2026,
7:00 PM CET". A moment always names its zone: an organiser in London selling a show in Berlin,
and the buyer, read the same hour.
"""

from datetime import datetime, tzinfo
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_skeleton, format_time
from babel.numbers import format_currency
from django.conf import settings
from django.utils import translation


@lru_cache(maxsize=64)
def _locale(language: str) -> Locale:
    try:
        return Locale.parse(translation.to_locale(language))
    except (UnknownLocaleError, ValueError):
        return Locale.parse("en_US")


def current_locale() -> Locale:
    """The Babel locale of Django's active language (LANGUAGE_CODE outside a request)."""
    return _locale(translation.get_language() or settings.LANGUAGE_CODE)


def money(amount, currency: str | None = None) -> str:
    """An amount with its currency, as the active language writes it: "€150.00", "150,00 €"."""
    if amount is None or amount == "":
        return ""
    return format_currency(Decimal(amount), currency or settings.CURRENCY, locale=current_locale())


@lru_cache(maxsize=256)
def zone(name: str | None) -> tzinfo:
    """The time zone of that name (an IANA name such as "Europe/Berlin"); TIME_ZONE when empty."""
    return ZoneInfo(name or settings.TIME_ZONE)


def zone_label(moment: datetime, tz: tzinfo) -> str:
    """The zone's abbreviation at that moment ("CET", "CEST", "UTC"), or its offset ("UTC+04")."""
    name = moment.astimezone(tz).tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" else name


def moment(value: datetime | None, time_zone: str | None = None, *, date_only: bool = False) -> str:
    """A date and time in the zone named (the event's), with the zone: "Thu, Dec 24, 2026, 7:00 PM CET"."""
    if value is None:
        return ""
    tz, locale = zone(time_zone), current_locale()
    day = format_skeleton("yMMMEd", value, tzinfo=tz, locale=locale)
    if date_only:
        return day
    hour = format_time(value, "short", tzinfo=tz, locale=locale)
    return f"{locale.datetime_formats['medium'].format(hour, day)} {zone_label(value, tz)}"


def time_of_day(value: datetime | None, time_zone: str | None = None) -> str:
    """Only the time, with the zone: "19:00 CET" (the door's "checked in at")."""
    if value is None:
        return ""
    tz = zone(time_zone)
    return f"{format_time(value, 'short', tzinfo=tz, locale=current_locale())} {zone_label(value, tz)}"
