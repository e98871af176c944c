"""Template helpers of the event pages: the countdown to a sale's opening (`{% load event_pages %}`)."""

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

register = template.Library()


def units() -> str:
    # Translators: the abbreviations of days, hours and minutes, in this order, separated by spaces.
    return pgettext("countdown units", "d h min")


def time_left(seconds: float) -> str:
    """A wait as a countdown says it: '3 d 4 h', '2 h 13 min', '5 min', 'less than a minute'."""
    if seconds < 60:
        return _("less than a minute")
    days, h, m = units().split()
    minutes = int(seconds // 60)
    if minutes >= 24 * 60:
        return f"{minutes // (24 * 60)} {days} {minutes // 60 % 24} {h}"
    if minutes >= 60:
        return f"{minutes // 60} {h} {minutes % 60} {m}"
    return f"{minutes} {m}"


@register.filter
def countdown(moment):
    """The time left until `moment`, in a span that static/js/site.js keeps counting down."""
    if moment is None:
        return ""
    seconds = (moment - timezone.now()).total_seconds()
    return format_html(
        '<span class="countdown" data-countdown="{}" data-units="{}" data-soon="{}">{}</span>',
        moment.isoformat(),
        units(),
        _("less than a minute"),
        time_left(seconds),
    )
