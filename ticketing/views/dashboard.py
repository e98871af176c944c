"""The staff dashboard: sales, queue and check-ins per event, and its attendee lists."""

from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from events.models import Event
from ticketing import exports, reports
from ticketing.views.base import allowed_only


def _is_staff(user) -> bool:
    return user.is_staff


@allowed_only(_is_staff)
def dashboard(request):
    now = timezone.now()
    stats = [reports.event_report(event=event, now=now) for event in reports.dashboard_events(now=now)]
    template = "ticketing/_dashboard_stats.html" if request.htmx else "ticketing/dashboard.html"
    return render(request, template, {"stats": stats, "now": now})


@allowed_only(_is_staff)
def attendees_csv(request, event_id: int):
    return exports.attendees_csv_response(get_object_or_404(Event, pk=event_id))


@allowed_only(_is_staff)
def attendees_xlsx(request, event_id: int):
    return exports.attendees_xlsx_response(get_object_or_404(Event, pk=event_id))
