# Queue places: each request's arrival number within its event and priority, and the counters
# that give a place without counting the queue. Existing requests are numbered in the order the
# old queue key served them. The counter's constraints come before the data step: PostgreSQL
# refuses to alter a table that has rows inserted in the same transaction (pending FK checks).

from collections import Counter

import django.db.models.deletion
import django.db.models.expressions
from django.db import migrations, models

# The old queue keys of waiting-room arrivals were random numbers below this bound.
OLD_WAITING_ROOM_KEY_SPAN = 2**50


def number_existing_requests(apps, schema_editor):
    TicketRequest = apps.get_model("ticketing", "TicketRequest")
    QueueCounter = apps.get_model("ticketing", "QueueCounter")
    arrived, left = Counter(), Counter()
    requests = TicketRequest.objects.order_by("event_id", "-priority", "queue_key", "id")
    for request in requests.iterator(chunk_size=2000):
        segment = (request.event_id, request.priority)
        arrived[segment] += 1
        request.seq = arrived[segment]
        unplaced = request.status == "queued" and request.queue_key < OLD_WAITING_ROOM_KEY_SPAN
        request.draw = request.queue_key if unplaced else None
        request.save(update_fields=["seq", "draw"])
        if request.status in ("fulfilled", "rejected"):
            left[(*segment, "decided")] += 1
        elif request.status == "cancelled":
            left[(*segment, "cancelled")] += 1
    QueueCounter.objects.bulk_create(
        QueueCounter(
            event_id=event_id,
            priority=priority,
            arrived=n,
            decided=left[(event_id, priority, "decided")],
            cancelled=left[(event_id, priority, "cancelled")],
        )
        for (event_id, priority), n in arrived.items()
    )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0001_initial"),
        ("ticketing", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="QueueCounter",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("priority", models.SmallIntegerField()),
                ("arrived", models.BigIntegerField(default=0)),
                ("decided", models.BigIntegerField(default=0)),
                ("cancelled", models.BigIntegerField(default=0)),
                (
                    "event",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="queue_counters",
                        to="events.event",
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="queuecounter",
            constraint=models.UniqueConstraint(
                fields=("event", "priority"), name="queuecounter_event_priority"
            ),
        ),
        migrations.AddConstraint(
            model_name="queuecounter",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    (
                        "arrived__gte",
                        django.db.models.expressions.CombinedExpression(
                            models.F("decided"), "+", models.F("cancelled")
                        ),
                    ),
                    ("cancelled__gte", 0),
                    ("decided__gte", 0),
                ),
                name="queuecounter_no_more_left_than_arrived",
            ),
        ),
        migrations.AddField(
            model_name="ticketrequest",
            name="draw",
            field=models.BigIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="ticketrequest",
            name="seq",
            field=models.BigIntegerField(null=True),
        ),
        migrations.RunPython(number_existing_requests, migrations.RunPython.noop, elidable=True),
        migrations.AlterField(
            model_name="ticketrequest",
            name="seq",
            field=models.BigIntegerField(),
        ),
        migrations.RemoveIndex(
            model_name="ticketrequest",
            name="ticketrequest_queue_order",
        ),
        migrations.RemoveField(
            model_name="ticketrequest",
            name="queue_key",
        ),
        migrations.AddIndex(
            model_name="ticketrequest",
            index=models.Index(
                models.F("event"),
                models.OrderBy(models.F("priority"), descending=True),
                models.F("seq"),
                condition=models.Q(("status", "queued")),
                name="ticketrequest_queue_order",
            ),
        ),
        migrations.AddIndex(
            model_name="ticketrequest",
            index=models.Index(
                condition=models.Q(("status", "cancelled")),
                fields=["event", "priority", "seq"],
                name="ticketrequest_cancelled",
            ),
        ),
        migrations.AddIndex(
            model_name="ticketrequest",
            index=models.Index(
                condition=models.Q(("draw__isnull", False), ("status", "queued")),
                fields=["event"],
                name="ticketrequest_unplaced",
            ),
        ),
        migrations.AddConstraint(
            model_name="ticketrequest",
            constraint=models.UniqueConstraint(
                fields=("event", "priority", "seq"), name="ticketrequest_place_unique"
            ),
        ),
    ]
