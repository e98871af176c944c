"""Every event gets its default check-in list; tickets already checked in are entries on it."""

from django.db import migrations


def forwards(apps, schema_editor):
    Event = apps.get_model("events", "Event")
    CheckInList = apps.get_model("ticketing", "CheckInList")
    CheckIn = apps.get_model("ticketing", "CheckIn")
    Ticket = apps.get_model("ticketing", "Ticket")
    for event in Event.objects.order_by("pk"):
        default, _ = CheckInList.objects.get_or_create(event=event, is_default=True, defaults={"name": "Main entrance"})
        admitted = Ticket.objects.filter(ticket_type__event=event, status="checked_in").order_by("pk")
        CheckIn.objects.bulk_create(
            [
                CheckIn(
                    check_in_list=default,
                    ticket_id=t.pk,
                    kind="entry",
                    active=True,
                    scanned_at=t.checked_in_at,
                    by_id=t.checked_in_by_id,
                )
                for t in admitted
            ],
            batch_size=1000,
        )


class Migration(migrations.Migration):
    dependencies = [("ticketing", "0008_door"), ("events", "0002_event_cancellation_deadline_event_cancelled_at")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
