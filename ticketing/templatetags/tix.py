"""Template helpers of the pages: QR codes, bars, ETAs and the sales chart, all drawn on the server."""

import segno
from django import template
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from ticketing import services
from ticketing.services import signing

register = template.Library()


@register.simple_tag
def qr_svg(token: str, label: str | None = None):
    """The token as an inline SVG QR code; it holds the raw token (a ticket's signed code), which
    the door page reads."""
    svg = segno.make(token, error="m").svg_inline(
        scale=1,
        border=4,
        omitsize=True,
        light="#fff",
        svgclass="qr",
        lineclass=None,
        title=label or _("Ticket QR code"),
    )
    # segno escapes the title; the role lets screen readers announce it as one image.
    return mark_safe(svg.replace("<svg ", '<svg role="img" ', 1))


@register.filter
def signed_token(ticket) -> str:
    """The signed code a ticket's QR code holds (services.signing)."""
    return signing.signed_token(ticket)


@register.filter
def can_check_in(user) -> bool:
    return services.can_check_in(user)


@register.filter
def on_sale(ticket_type) -> int:
    """Tickets a new request may take (none while a waiting list holds the ones that come back)."""
    return services.tickets_on_sale(ticket_type)


@register.filter
def percent_of(part, whole) -> int:
    """part as a whole percentage of whole, 0 when whole is 0."""
    try:
        return max(0, min(100, round(100 * part / whole)))
    except (TypeError, ZeroDivisionError):
        return 0


@register.filter
def duration(seconds) -> str:
    """A waiting time as people say it: 'a few seconds', 'about 3 minutes'."""
    if seconds is None:
        return ""
    if seconds < 10:
        return _("a few seconds")
    if seconds < 60:
        tens = round(seconds / 10) * 10
        return ngettext("about %(count)s second", "about %(count)s seconds", tens) % {"count": tens}
    minutes = round(seconds / 60)
    if minutes < 90:
        if minutes == 1:
            return _("about a minute")
        return ngettext("about %(count)s minute", "about %(count)s minutes", minutes) % {"count": minutes}
    hours = round(minutes / 60)
    return ngettext("about %(count)s hour", "about %(count)s hours", hours) % {"count": hours}
