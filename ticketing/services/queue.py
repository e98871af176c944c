"""Joining and leaving an event's queue."""

import functools

from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.models.sql import Query
from django.utils import timezone

from events.models import Event, SaleState, TicketType
from ticketing import errors
from ticketing.models import AuditEntry, TicketRequest
from ticketing.services import bulk, places, wakeups

HELD_STATUSES = (TicketRequest.Status.QUEUED, TicketRequest.Status.FULFILLED)


def check_can_request(*, event: Event, now) -> None:
    """Raise unless the event takes requests at this moment."""
    state = event.sale_state(now)
    if state == SaleState.UPCOMING:
        opens = timezone.localtime(event.waiting_room_opens_at or event.sale_opens_at)
        raise errors.SaleNotOpen(f"Tickets for {event.name} go on sale at {opens:%H:%M on %d %b %Y}.")
    if state == SaleState.CLOSED:
        raise errors.SaleClosed(f"The sale for {event.name} has closed.")


def tickets_held(*, user_id: int, event_id: int) -> int:
    """Tickets a user has queued or bought for an event."""
    # Plain SQL, like the other statements of enqueue_request: the ORM's query building
    # was most of that call's CPU, the on-sale's hottest path.
    table = connection.ops.quote_name(TicketRequest._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(SUM(quantity), 0) FROM {table}"
            " WHERE user_id = %s AND event_id = %s AND status IN (%s, %s)",
            [user_id, event_id, *HELD_STATUSES],
        )
        return int(cursor.fetchone()[0])


# What a new request is judged by; other fields of the two load if they are ever read.
_EVENT_FIELDS = (
    "id",
    "name",
    "sale_opens_at",
    "sale_closes_at",
    "waiting_room_opens_at",
    "max_tickets_per_user",
)
_TYPE_FIELDS = ("id", "event_id", "name", "capacity", "sold", "priority", "max_per_request")


def lock_buyer_and_read_type(*, user_id: int, ticket_type_id: int) -> TicketType | None:
    """Lock the buyer's row until the transaction ends, and read the ticket type they ask for.

    Raises AccountUnavailable if the account is gone or inactive; returns None if there is no
    such ticket type, else the type with its event. One plain statement does both: this runs
    for every request joining a queue, and the ORM's query building cost more CPU than the
    database's answers.
    """
    with connection.cursor() as cursor:
        cursor.execute(_lock_and_read_sql(connection.vendor), [ticket_type_id, user_id])
        row = cursor.fetchone()
    if row is None:
        raise errors.AccountUnavailable()
    if row[len(_EVENT_FIELDS)] is None:
        return None
    event = _from_row(Event, _EVENT_FIELDS, row[: len(_EVENT_FIELDS)])
    ticket_type = _from_row(TicketType, _TYPE_FIELDS, row[len(_EVENT_FIELDS) :])
    ticket_type.event = event
    return ticket_type


@functools.cache
def _lock_and_read_sql(vendor: str) -> str:
    qn = connection.ops.quote_name
    # NO KEY UPDATE: a drain inserting this buyer's order (a foreign key) need not wait for it.
    lock = ""
    if connection.features.has_select_for_update:
        lock = f" {connection.ops.for_update_sql(of=('u',), no_key=True)}"
    columns = ", ".join([f"e.{qn(f)}" for f in _EVENT_FIELDS] + [f"t.{qn(f)}" for f in _TYPE_FIELDS])
    return (
        f"SELECT {columns} FROM {qn(get_user_model()._meta.db_table)} u"
        f" LEFT JOIN {qn(TicketType._meta.db_table)} t ON t.id = %s"
        f" LEFT JOIN {qn(Event._meta.db_table)} e ON e.id = t.event_id"
        f" WHERE u.id = %s AND u.is_active{lock}"
    )


def _from_row(model, attnames, values):
    """A model instance from some of its columns, converted as the ORM converts them."""
    given = dict(zip(attnames, values, strict=True))
    fields = [f for f in model._meta.concrete_fields if f.attname in given]
    attnames, values = [f.attname for f in fields], [given[f.attname] for f in fields]
    compiler = Query(model).get_compiler(connection=connection)
    converters = compiler.get_converters([f.get_col(model._meta.db_table) for f in fields])
    if converters:
        [values] = compiler.apply_converters([values], converters)
    return model.from_db(connection.alias, attnames, values)


def enqueue_request(
    *, user, ticket_type_id: int, quantity: int, idempotency_key: str | None = None, now=None
) -> TicketRequest:
    """Put a buyer's request for tickets in the event's queue, or refuse it with a clear reason.

    `user` may be a User or simplejwt's TokenUser: only its pk is read.
    """
    now = now or timezone.now()
    try:
        with transaction.atomic():
            # One buyer's requests are serialized, so parallel requests cannot beat the limit.
            # The same statement checks the account is still active: the API authenticates
            # this call from its token alone, without reading the user.
            ticket_type = lock_buyer_and_read_type(user_id=user.pk, ticket_type_id=ticket_type_id)
            if idempotency_key:
                existing = TicketRequest.objects.filter(
                    user_id=user.pk, idempotency_key=idempotency_key
                ).first()
                if existing is not None:
                    return existing
            if ticket_type is None:
                raise errors.UnknownTicketType(f"There is no ticket type with id {ticket_type_id}.")
            ticket_request = _create_request(
                user=user,
                ticket_type=ticket_type,
                quantity=quantity,
                idempotency_key=idempotency_key,
                now=now,
            )
    except IntegrityError:
        # Only a concurrent twin with the same idempotency key gets here.
        if idempotency_key:
            existing = TicketRequest.objects.filter(user_id=user.pk, idempotency_key=idempotency_key).first()
            if existing is not None:
                return existing
        raise
    return ticket_request


def _create_request(*, user, ticket_type, quantity, idempotency_key, now) -> TicketRequest:
    event = ticket_type.event
    check_can_request(event=event, now=now)
    if not 1 <= quantity <= ticket_type.max_per_request:
        raise errors.InvalidQuantity(
            f"You can ask for 1 to {ticket_type.max_per_request} {ticket_type.name} tickets at a time."
        )
    if ticket_type.remaining <= 0:
        raise errors.SoldOut(f"{ticket_type.name} tickets for {event.name} are sold out.")
    if quantity > ticket_type.remaining:
        raise errors.SoldOut(f"Only {ticket_type.remaining} {ticket_type.name} tickets are left.")
    held = tickets_held(user_id=user.pk, event_id=event.pk)
    if held + quantity > event.max_tickets_per_user:
        raise errors.LimitExceeded(
            f"You can hold at most {event.max_tickets_per_user} tickets for {event.name}; "
            f"you already have {held} queued or bought."
        )
    # The place is taken just before the writes: it locks the counter until this transaction ends.
    place = places.take_number(event_id=event.pk, priority=ticket_type.priority)
    ticket_request = TicketRequest(
        user_id=user.pk,
        event=event,
        ticket_type=ticket_type,
        priority=ticket_type.priority,
        quantity=quantity,
        seq=place.number,
        draw=places.draw_for(event=event, now=now),
        idempotency_key=idempotency_key or None,
    )
    bulk.insert_instance(ticket_request)
    ticket_request.ahead_on_arrival = place.ahead
    _audit(AuditEntry.Kind.QUEUED, ticket_request)
    transaction.on_commit(lambda: wakeups.request_drain(event.pk))
    return ticket_request


@transaction.atomic
def cancel_request(*, user, request_id: int) -> TicketRequest:
    """Take the owner's queued request out of the queue."""
    ticket_request = TicketRequest.objects.select_for_update().filter(pk=request_id, user_id=user.pk).first()
    if ticket_request is None:
        raise errors.NotFound("There is no such ticket request.")
    if ticket_request.status != TicketRequest.Status.QUEUED:
        raise errors.NotCancellable(
            f"This request was already {ticket_request.get_status_display().lower()}; "
            "it can no longer be cancelled."
        )
    ticket_request.status = TicketRequest.Status.CANCELLED
    ticket_request.processed_at = timezone.now()
    ticket_request.save(update_fields=["status", "processed_at"])
    places.count_left(
        event_id=ticket_request.event_id, by_priority={ticket_request.priority: 1}, how="cancelled"
    )
    _audit(AuditEntry.Kind.CANCELLED, ticket_request)
    return ticket_request


def _audit(kind: str, ticket_request: TicketRequest) -> None:
    """The audit entry for a change to a request, written in the same transaction."""
    entry = AuditEntry(
        kind=kind,
        event_id=ticket_request.event_id,
        ticket_type_id=ticket_request.ticket_type_id,
        request=ticket_request,
        user_id=ticket_request.user_id,
        quantity=ticket_request.quantity,
    )
    bulk.insert_instance(entry)
