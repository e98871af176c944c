"""Template filters for money and moments (events.formatting): `{% load formats %}`.

`{{ order.total|money:event }}` in the event's currency; `{{ event.starts_at|when:event }}` in its
time zone with the zone named; `|day:event` the date only; `|clock:event` the time only. The
argument may also be a currency code or a zone name; without one, CURRENCY and TIME_ZONE.
"""

from django import template

from events import formatting

register = template.Library()


def _attr(arg, name):
    return getattr(arg, name, arg) if arg not in (None, "") else None


@register.filter
def money(amount, event_or_currency=None) -> str:
    return formatting.money(amount, _attr(event_or_currency, "currency"))


@register.filter
def when(value, event_or_zone=None) -> str:
    return formatting.moment(value, _attr(event_or_zone, "time_zone"))


@register.filter
def day(value, event_or_zone=None) -> str:
    return formatting.moment(value, _attr(event_or_zone, "time_zone"), date_only=True)


@register.filter
def clock(value, event_or_zone=None) -> str:
    return formatting.time_of_day(value, _attr(event_or_zone, "time_zone"))
