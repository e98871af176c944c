"""Template helpers of the event pages: the countdown to a sale's opening (`{% load event_pages %}`)."""

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

register = template.Library()


def formats() -> dict[str, str]:
    """The countdown's three shapes, translated whole so a language may order and name the units."""
    return {
        # Translators: a countdown longer than a day; {d} days and {h} hours.
        "days": pgettext("countdown", "{d} d {h} h"),
        # Translators: a countdown longer than an hour; {h} hours and {m} minutes.
        "hours": pgettext("countdown", "{h} h {m} min"),
        # Translators: a countdown under an hour; {m} minutes.
        "minutes": pgettext("countdown", "{m} min"),
    }


def time_left(seconds: float) -> str:
    """A wait as a countdown says it: '3 d 4 h', '2 h 13 min', '5 min', 'less than a minute'."""
    if seconds < 60:
        return _("less than a minute")
    shapes = formats()
    minutes = int(seconds // 60)
    if minutes >= 24 * 60:
        return shapes["days"].format(d=minutes // (24 * 60), h=minutes // 60 % 24)
    if minutes >= 60:
        return shapes["hours"].format(h=minutes // 60, m=minutes % 60)
    return shapes["minutes"].format(m=minutes)


@register.filter
def countdown(moment):
    """The time left until `moment`, in a span that static/js/site.js keeps counting down."""
    if moment is None:
        return ""
    seconds = (moment - timezone.now()).total_seconds()
    return format_html(
        '<span class="countdown" data-countdown="{}" data-days="{}" data-hours="{}" data-minutes="{}" '
        'data-soon="{}">{}</span>',
        moment.isoformat(),
        *formats().values(),
        _("less than a minute"),
        time_left(seconds),
    )
