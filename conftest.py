"""Fixtures shared by every app's tests."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from events.models import Event, TicketType

requires_postgres = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="needs PostgreSQL's row locks and concurrent writers; run with DATABASE_URL=postgres://...",
)


@pytest.fixture(autouse=True)
def _clear_cache():
    # Throttle counters and wake-up keys live in the cache; each test starts clean.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(django_user_model):
    counter = iter(range(1, 1_000_000))

    def make(email=None, password="Str0ng-Passw0rd!", name=None, **extra):
        n = next(counter)
        email = email or f"buyer{n}@example.test"
        return django_user_model.objects.create_user(email, password, name=name or f"Buyer {n}", **extra)

    return make


@pytest.fixture
def buyer(make_user):
    return make_user(email="alice@example.test", name="Alice")


@pytest.fixture
def other_buyer(make_user):
    return make_user(email="bob@example.test", name="Bob")


@pytest.fixture
def door_staff(make_user):
    from ticketing.setup import ensure_door_staff_group

    user = make_user(email="door@example.test", name="Door Volunteer")
    user.groups.add(ensure_door_staff_group())
    return user


@pytest.fixture
def supervisor(make_user):
    """Door staff who may also undo a check-in and check a guest in by name."""
    from ticketing.setup import ensure_door_supervisors_group

    user = make_user(email="lead@example.test", name="Door Lead")
    user.groups.add(ensure_door_supervisors_group())
    return user


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin@example.test", "Adm1n-Passw0rd!", name="Admin")


@pytest.fixture
def make_event():
    counter = iter(range(1, 1_000_000))

    def make(
        *, vip=20, regular=80, opens_in=timedelta(minutes=-1), closes_in=None, waiting_room=None, **extra
    ):
        n = next(counter)
        now = timezone.now()
        event = Event.objects.create(
            name=extra.pop("name", f"Event {n}"),
            slug=f"event-{n}",
            venue="Hall",
            starts_at=now + timedelta(days=10),
            sale_opens_at=now + opens_in,
            sale_closes_at=now + closes_in if closes_in is not None else None,
            waiting_room_opens_at=now + waiting_room if waiting_room is not None else None,
            **extra,
        )
        if vip is not None:
            TicketType.objects.create(
                event=event, name="VIP", price=Decimal("150.00"), capacity=vip, priority=10, max_per_request=4
            )
        if regular is not None:
            TicketType.objects.create(
                event=event,
                name="Regular",
                price=Decimal("50.00"),
                capacity=regular,
                priority=0,
                max_per_request=4,
            )
        return event

    return make


@pytest.fixture
def event(make_event):
    return make_event()


@pytest.fixture
def vip(event):
    return event.ticket_types.get(name="VIP")


@pytest.fixture
def regular(event):
    return event.ticket_types.get(name="Regular")


@pytest.fixture
def ticket(buyer, vip):
    """The buyer's one VIP ticket, served by the real drain."""
    from ticketing import services
    from ticketing.models import Ticket

    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    services.drain_event_queue(event_id=vip.event_id)
    return Ticket.objects.get()


@pytest.fixture
def api():
    from rest_framework.test import APIClient

    return APIClient()


def buy(user, ticket_type, quantity=1):
    """The buyer's tickets of the type after one request of quantity, served by the real drain."""
    from ticketing import services
    from ticketing.models import Ticket

    services.enqueue_request(user=user, ticket_type_id=ticket_type.pk, quantity=quantity)
    services.drain_event_queue(event_id=ticket_type.event_id)
    return list(Ticket.objects.filter(order__user=user, ticket_type=ticket_type).order_by("pk"))


def as_user(api, user):
    """Authenticate the API client as user with a real access token."""
    from rest_framework_simplejwt.tokens import AccessToken

    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return api
