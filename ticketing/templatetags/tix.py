"""Template helpers of the pages: QR codes, bars, ETAs and the sales chart, all drawn on the server."""

import segno
from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
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


CHART_W, CHART_H, PAD_L, PAD_B, PAD_T, PAD_R = 600, 200, 44, 26, 10, 12


@register.simple_tag
def sales_chart(points, capacity: int):
    """Cumulative tickets sold over time as an SVG line chart, from (minute, tickets) pairs."""
    if not points:
        return format_html('<p class="muted">{}</p>', _("No tickets sold yet."))
    start, end = points[0][0], points[-1][0]
    span = max((end - start).total_seconds(), 60)
    top = max(capacity, 1)
    plot_w, plot_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    total, coords = 0, [(PAD_L, PAD_T + plot_h)]
    for minute, n in points:
        total += n
        x = PAD_L + plot_w * (minute - start).total_seconds() / span
        coords.append((round(x, 1), coords[-1][1]))
        coords.append((round(x, 1), round(PAD_T + plot_h * (1 - total / top), 1)))
    coords.append((PAD_L + plot_w, coords[-1][1]))
    line = " ".join(f"{x},{y}" for x, y in coords)
    a, b = f"{timezone.localtime(start):%H:%M}", f"{timezone.localtime(end):%H:%M}"
    area = f"{line} {PAD_L + plot_w},{PAD_T + plot_h}"
    ticks = format_html_join(
        "",
        '<line x1="{}" x2="{}" y1="{}" y2="{}" class="grid"/><text x="{}" y="{}" class="tick" '
        'text-anchor="end">{}</text>',
        (
            (PAD_L, PAD_L + plot_w, y, y, PAD_L - 6, y + 4, value)
            for value, y in ((v, round(PAD_T + plot_h * (1 - v / top), 1)) for v in (0, top // 2, top))
        ),
    )
    return format_html(
        '<svg viewBox="0 0 {w} {h}" class="chart" role="img" aria-labelledby="{id}">'
        '<title id="{id}">{title}</title>{ticks}'
        '<polygon points="{area}" class="area"/><polyline points="{line}" class="line"/>'
        '<text x="{l}" y="{by}" class="tick">{a}</text>'
        '<text x="{r}" y="{by}" class="tick" text-anchor="end">{b}</text></svg>',
        w=CHART_W,
        h=CHART_H,
        id=f"chart-{id(points)}",
        title=_("%(total)s of %(capacity)s tickets sold between %(start)s and %(end)s")
        % {"total": total, "capacity": capacity, "start": a, "end": b},
        a=a,
        b=b,
        ticks=ticks,
        area=area,
        line=line,
        l=PAD_L,
        r=PAD_L + plot_w,
        by=CHART_H - 6,
    )
