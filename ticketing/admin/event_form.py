"""The event admin's form: its times are entered in the event's own time zone."""

from django import forms
from django.conf import settings
from django.utils import timezone

from events import formatting
from events.models import Event

TIMES = ["starts_at", "sale_opens_at", "sale_closes_at", "waiting_room_opens_at", "cancellation_deadline"]


def event_zone(event: Event | None) -> str:
    """The zone an event's form shows its times in: its own, or TIME_ZONE for a new event."""
    return (event.time_zone if event is not None and event.pk else None) or settings.TIME_ZONE


class EventForm(forms.ModelForm):
    """Reads the times typed as wall-clock times in the zone chosen on the same form.

    The admin shows them in the event's zone (the view activates it), so an organiser types
    "19:00" for a concert at 19:00 in Berlin; a zone changed on the form applies to the times
    typed with it.
    """

    class Meta:
        model = Event
        # The admin adds the rest of its fieldsets to these.
        fields = ["time_zone", *TIMES]

    def clean(self):
        data = super().clean()
        chosen = formatting.zone(data.get("time_zone") or settings.TIME_ZONE)
        shown = timezone.get_current_timezone()
        for name in TIMES:
            value = data.get(name)
            if value is not None:
                wall_clock = timezone.make_naive(value, shown)
                data[name] = timezone.make_aware(wall_clock, chosen)
        return data
