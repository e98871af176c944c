"""The seed's demo data: Demo Event with VIP and Regular tickets, a buyer and staff."""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone

from events.models import Event, TicketType
from ticketing.setup import ensure_door_staff_group

DEMO_USER = ("demo@local.test", "Passw0rd!", "Demo Buyer")
STAFF_USER = ("staff@local.test", "Staff-Passw0rd!", "Staff Admin")
DOOR_USER = ("door@local.test", "Door-Passw0rd!", "Door Volunteer")


@dataclass
class DemoData:
    event: Event
    created: bool


@transaction.atomic
def seed_demo() -> DemoData:
    """Create the demo records that are missing; never touch ones that exist."""
    now = timezone.now()
    event = Event.objects.filter(slug="demo-event").first()
    created = event is None
    if created:
        event = Event.objects.create(
            pk=None if Event.objects.filter(pk=1).exists() else 1,
            name="Demo Event",
            slug="demo-event",
            description="The demo on-sale: VIP tickets are served before Regular ones.",
            venue="Main Hall",
            starts_at=(now + timedelta(days=30)).replace(hour=19, minute=0, second=0, microsecond=0),
            sale_opens_at=now,
            max_tickets_per_user=10,
        )
        # An explicit id does not move PostgreSQL's sequence; move it past the rows there are.
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Event]):
                cursor.execute(sql)
    TicketType.objects.get_or_create(
        event=event,
        name="VIP",
        defaults={"price": Decimal("150.00"), "capacity": 20, "priority": 10, "max_per_request": 4},
    )
    TicketType.objects.get_or_create(
        event=event,
        name="Regular",
        defaults={"price": Decimal("50.00"), "capacity": 80, "priority": 0, "max_per_request": 4},
    )

    User = get_user_model()
    email, password, name = DEMO_USER
    if not User.objects.filter(email__iexact=email).exists():
        User.objects.create_user(email, password, name=name)
    email, password, name = STAFF_USER
    if not User.objects.filter(email__iexact=email).exists():
        User.objects.create_superuser(email, password, name=name)
    email, password, name = DOOR_USER
    if not User.objects.filter(email__iexact=email).exists():
        door = User.objects.create_user(email, password, name=name)
        door.groups.add(ensure_door_staff_group())
    return DemoData(event=event, created=created)
