"""The staff dashboard: sales, queue and check-ins per event."""

from django.shortcuts import render

from ticketing import selectors
from ticketing.views.base import allowed_only


def _event_stats(event):
    types = list(selectors.ticket_types_with_queue(event_id=event.pk))
    return {
        "event": event,
        "types": types,
        "queued": sum(t.queued for t in types),
        "sold": sum(t.sold for t in types),
        "capacity": sum(t.capacity for t in types),
        "waiting": sum(t.waiting for t in types),
        "checked_in": sum(t.checked_in for t in types),
        "rate_per_min": selectors.recent_drain_rate(event_id=event.pk) * 60,
        "sales": selectors.sales_over_time(event_id=event.pk),
    }


@allowed_only(lambda user: user.is_staff)
def dashboard(request):
    stats = [_event_stats(event) for event in selectors.events_listed()]
    template = "ticketing/_dashboard_stats.html" if request.htmx else "ticketing/dashboard.html"
    return render(request, template, {"stats": stats})
