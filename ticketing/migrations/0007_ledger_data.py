# Fills the ledger's new columns and counters from the rows already there: before this change
# no order or ticket could be cancelled, and a cancelled request had always left the queue early.

from django.db import migrations, models
from django.db.models import Count, OuterRef, Q, Subquery


def fill(apps, schema_editor):
    TicketType = apps.get_model("events", "TicketType")
    TicketRequest = apps.get_model("ticketing", "TicketRequest")
    Order = apps.get_model("ticketing", "Order")
    Ticket = apps.get_model("ticketing", "Ticket")
    TicketTypeCounter = apps.get_model("ticketing", "TicketTypeCounter")
    Order.objects.update(active=models.F("quantity"))
    TicketRequest.objects.update(
        unit_price=Subquery(TicketType.objects.filter(pk=OuterRef("ticket_type_id")).values("price")[:1])
    )
    TicketRequest.objects.filter(status="cancelled").update(skipped=True)
    Ticket.objects.filter(checked_in_at__isnull=False).update(status="checked_in")
    types = TicketType.objects.annotate(
        n_queued=Count("ticket_requests", filter=Q(ticket_requests__status="queued"), distinct=True),
        n_checked_in=Count("tickets", filter=Q(tickets__checked_in_at__isnull=False), distinct=True),
    )
    TicketTypeCounter.objects.bulk_create(
        TicketTypeCounter(
            ticket_type_id=t.pk, event_id=t.event_id, queued=t.n_queued, checked_in=t.n_checked_in
        )
        for t in types
    )


class Migration(migrations.Migration):
    dependencies = [("ticketing", "0006_ledger")]

    operations = [
        # Defaults were only for adding the columns (no SQL: Django keeps defaults in Python).
        migrations.AlterField("order", "active", models.PositiveSmallIntegerField()),
        migrations.AlterField("ticketrequest", "unit_price", models.DecimalField(max_digits=10, decimal_places=2)),
        migrations.RunPython(fill, migrations.RunPython.noop),
    ]
