"""The dashboard's charts: a running total over time, drawn on the server as SVG with HTML labels.

The labels are HTML beside a stretched SVG plot, so they keep the page's font size on a phone
instead of shrinking with the drawing.
"""

import math

from django import template
from django.utils.translation import gettext as _

from events import formatting

register = template.Library()

NICE_STEPS = (1, 2, 2.5, 5, 10)
KIND_TITLES = {
    # Translators: a chart's description, "2 of 100 tickets sold between 7:00 PM CET and 7:05 PM CET".
    "sales": lambda: _("%(total)s of %(of)s tickets sold between %(start)s and %(end)s"),
    "check_ins": lambda: _("%(total)s of %(of)s tickets checked in between %(start)s and %(end)s"),
}
KIND_EMPTY = {"sales": lambda: _("No tickets sold yet."), "check_ins": lambda: _("Nobody checked in yet.")}


def nice_ceiling(value: float) -> int:
    """The smallest of 1, 2, 2.5, 5 times a power of ten (a whole number) at least value; 1 for 0."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in NICE_STEPS:
        top = step * power
        if top >= value and top == int(top):
            return int(top)
    return 10 * power


def _label(moment, event, other) -> str:
    """A moment in the event's zone: the time alone when both ends fall on the same local day."""
    tz = formatting.zone(event.time_zone)
    if moment.astimezone(tz).date() == other.astimezone(tz).date():
        return formatting.time_of_day(moment, event.time_zone)
    return formatting.moment(moment, event.time_zone)


def chart_geometry(series, *, top: int, start, end) -> dict:
    """The plot's step line and area in a 100 x 100 box, from cumulative (moment, total) pairs
    drawn between start and end."""
    span = max((end - start).total_seconds(), 60)
    coords = [(0.0, 100.0)]
    for moment, total in series:
        x = round(100 * (moment - start).total_seconds() / span, 2)
        coords.append((x, coords[-1][1]))
        coords.append((x, round(100 * (1 - total / top), 2)))
    coords.append((100.0, coords[-1][1]))
    line = " ".join(f"{x:g},{y:g}" for x, y in coords)
    return {"line": line, "area": f"{line} 100,100"}


@register.inclusion_tag("ticketing/_dashboard_chart.html")
def running_total_chart(series, event, of: int, kind: str = "sales", start=None, end=None):
    """A running total (sales or check-ins) over time, from start (or its first point) to end
    (or its last); the axis runs to a round number above the highest total, not to the
    capacity, so a small sale still fills the chart."""
    if not series:
        return {"empty": KIND_EMPTY[kind]()}
    top = nice_ceiling(max(total for _moment, total in series))
    start = min(start or series[0][0], series[0][0])
    end = max(end or series[-1][0], series[-1][0])
    labels = {"start": _label(start, event, end), "end": _label(end, event, start)}
    title = KIND_TITLES[kind]() % {"total": series[-1][1], "of": of, **labels}
    return {
        "title": title,
        "top": top,
        # A middle line only where it falls on a whole number of tickets.
        "middle": top // 2 if top % 2 == 0 else None,
        "chart_id": f"chart-{kind}-{event.pk}",
        **labels,
        **chart_geometry(series, top=top, start=start, end=end),
    }
