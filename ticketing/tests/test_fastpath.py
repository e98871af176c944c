"""Each hand-written statement and private-API use of the fast path gives the plain ORM's or DRF's answer."""

import copy
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from events.models import Event, TicketType
from ticketing import selectors, services
from ticketing.api.serializers import TicketRequestOut
from ticketing.models import AuditEntry, Order, QueueCounter, TicketRequest, TicketTypeCounter
from ticketing.services import fastpath, fastqueue, places

pytestmark = pytest.mark.django_db


def enqueue(user, ticket_type, quantity):
    return services.enqueue_request(user=user, ticket_type_id=ticket_type.pk, quantity=quantity)


def test_insert_rows_stores_what_bulk_create_stores(buyer, vip):
    now = timezone.now()
    fields = {f.attname: f for f in AuditEntry._meta.concrete_fields}
    columns = ["created_at", "kind", "event_id", "user_id", "quantity", "amount", "reason", "csv_logged"]
    values = [now, "refunded", vip.event_id, buyer.pk, 2, Decimal("12.50"), 'a, "quoted" reason', False]
    prepared = tuple(
        fields[c].get_db_prep_save(v, connection_for()) for c, v in zip(columns, values, strict=True)
    )
    [(pk,)] = fastpath.insert_rows(AuditEntry, columns, [prepared], returning="id")
    fastpath.insert_rows(AuditEntry, columns, [prepared] * 3)  # several rows: PostgreSQL's unnest path
    AuditEntry.objects.bulk_create([AuditEntry(**dict(zip(columns, values, strict=True)))])
    stored = list(AuditEntry.objects.order_by("id").values_list(*columns[1:]))
    assert len(stored) == 5 and set(stored) == {tuple(values[1:])}
    # bulk_create stamps its own created_at; the fast path writes the one it is given.
    fast_rows = AuditEntry.objects.filter(pk__lte=pk + 3)
    assert set(fast_rows.values_list("created_at", flat=True)) == {now}


def connection_for():
    from django.db import connection

    return connection


def test_insert_instance_stores_what_save_stores(buyer, vip):
    fast = AuditEntry(
        kind="queued", event_id=vip.event_id, user_id=buyer.pk, quantity=3, amount=Decimal("1.10")
    )
    fastpath.insert_instance(fast)
    slow = AuditEntry(
        kind="queued", event_id=vip.event_id, user_id=buyer.pk, quantity=3, amount=Decimal("1.10")
    )
    slow.save()
    assert fast.pk and not fast._state.adding
    names = [f.attname for f in AuditEntry._meta.concrete_fields if f.attname not in ("id", "created_at")]
    assert AuditEntry.objects.filter(pk=fast.pk).values(*names).get() == (
        AuditEntry.objects.filter(pk=slow.pk).values(*names).get()
    )
    assert AuditEntry.objects.get(pk=fast.pk).created_at is not None


def test_id_list_sql_matches_pk_in(make_user):
    users = [make_user() for _ in range(5)]
    from django.contrib.auth import get_user_model
    from django.db import connection

    User = get_user_model()
    wanted = [users[1].pk, users[3].pk]
    membership, params = fastpath.id_list_sql(wanted)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {User._meta.db_table} WHERE id {membership} ORDER BY id", params)
        fast = [row[0] for row in cursor.fetchall()]
    assert fast == list(User.objects.filter(pk__in=wanted).order_by("id").values_list("id", flat=True))


def test_set_column_matches_orm_updates(make_user, vip):
    requests = [
        services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=1) for _ in range(3)
    ]
    new = {r.pk: 1000 + i for i, r in enumerate(requests)}
    fastpath.set_column(TicketRequest, "seq", new, clear="draw")
    assert dict(TicketRequest.objects.values_list("pk", "seq")) == new
    assert not TicketRequest.objects.filter(draw__isnull=False).exists()


@pytest.mark.parametrize("column", ["queued", "waiting"])
def test_take_queue_number_is_the_next_place_and_counts_the_arrival(make_user, event, vip, regular, column):
    for t in (vip, regular, regular):
        services.enqueue_request(user=make_user(), ticket_type_id=t.pk, quantity=1)
    before = TicketTypeCounter.objects.values("queued", "waiting").get(ticket_type=regular)
    with transaction.atomic():
        number, ahead = fastqueue.take_queue_number(
            event_id=event.pk, priority=regular.priority, ticket_type_id=regular.pk, column=column
        )
        counter = QueueCounter.objects.get(event=event, priority=regular.priority)
        assert number == counter.arrived == 3
        probe = TicketRequest(event=event, priority=regular.priority, seq=number)
        assert ahead == selectors.requests_ahead(ticket_request=probe) == 3
        after = TicketTypeCounter.objects.values("queued", "waiting").get(ticket_type=regular)
        assert after == {**before, column: before[column] + 1}
        transaction.set_rollback(True)


def test_take_queue_number_creates_both_counters_for_a_first_arrival(event, vip):
    with transaction.atomic():
        assert fastqueue.take_queue_number(
            event_id=event.pk, priority=vip.priority, ticket_type_id=vip.pk, column="queued"
        ) == (1, 0)
        counter = TicketTypeCounter.objects.get(ticket_type=vip)
        assert (counter.event_id, counter.queued, counter.waiting) == (event.pk, 1, 0)
        transaction.set_rollback(True)


def test_insert_with_audit_stores_what_two_saves_store(buyer, vip):
    def pair(seq):
        request = TicketRequest(
            user=buyer,
            event_id=vip.event_id,
            ticket_type=vip,
            priority=vip.priority,
            quantity=2,
            unit_price=vip.price,
            status=TicketRequest.Status.QUEUED,
            seq=seq,
        )
        entry = AuditEntry(kind="queued", event_id=vip.event_id, ticket_type=vip, user=buyer, quantity=2)
        return request, entry

    fast, fast_entry = pair(7)
    fastpath.insert_with_audit(fast, fast_entry, link="request_id")
    slow, slow_entry = pair(8)
    slow.save()
    slow_entry.request = slow
    slow_entry.save()
    assert fast.pk and fast_entry.pk and not fast._state.adding and not fast_entry._state.adding
    assert fast_entry.request_id == fast.pk
    assert AuditEntry.objects.get(pk=fast_entry.pk).request_id == fast.pk

    def stored(model, pk, *skip):
        names = [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", *skip)]
        return model.objects.filter(pk=pk).values(*names).get()

    assert stored(TicketRequest, fast.pk, "created_at", "seq") == (
        stored(TicketRequest, slow.pk, "created_at", "seq")
    )
    assert stored(AuditEntry, fast_entry.pk, "created_at", "request_id") == (
        stored(AuditEntry, slow_entry.pk, "created_at", "request_id")
    )


def new_arrival(buyer, ticket_type, status):
    """An unsaved request for one ticket and its audit entry, as joining the queue builds them."""
    event = ticket_type.event
    request = TicketRequest(
        user=buyer,
        event=event,
        ticket_type=ticket_type,
        priority=ticket_type.priority,
        quantity=1,
        unit_price=ticket_type.price,
        status=status,
    )
    entry = AuditEntry(kind=status, event=event, ticket_type=ticket_type, user=buyer, quantity=1)
    return request, entry


@pytest.mark.parametrize("column", ["queued", "waiting"])
def test_join_queue_does_what_its_four_plain_calls_do(buyer, make_user, event, vip, regular, column):
    enqueue(buyer, regular, 2)
    for t in (vip, regular, vip):
        enqueue(make_user(), t, 1)

    def arrival():
        return new_arrival(buyer, regular, column)

    def written(request, entry):
        names = [
            f.attname for f in TicketRequest._meta.concrete_fields if f.attname not in ("id", "created_at")
        ]
        entry_names = [
            f.attname for f in AuditEntry._meta.concrete_fields if f.attname not in ("id", "created_at")
        ]
        counters = TicketTypeCounter.objects.values("queued", "waiting").get(ticket_type=regular)
        queue = QueueCounter.objects.values("arrived", "decided", "skipped").get(priority=regular.priority)
        row = TicketRequest.objects.filter(pk=request.pk).values(*names).get()
        entry_row = AuditEntry.objects.filter(pk=entry.pk).values(*entry_names).get()
        return {**row, "id": None}, {**entry_row, "request_id": None}, counters, queue

    with transaction.atomic():
        held = fastqueue.tickets_held(user_id=buyer.pk, event_id=event.pk)
        plain, plain_entry = arrival()
        plain.seq, plain_ahead = fastqueue.take_queue_number(
            event_id=event.pk, priority=regular.priority, ticket_type_id=regular.pk, column=column
        )
        fastpath.insert_with_audit(plain, plain_entry, link="request_id")
        if column == "waiting":
            places.count_left(event_id=event.pk, by_priority={regular.priority: 1}, how="skipped")
        expected = (plain.seq, plain_ahead, held), written(plain, plain_entry)
        transaction.set_rollback(True)
    with transaction.atomic():
        fast, fast_entry = arrival()
        got = fastqueue.join_queue(fast, fast_entry, column=column, most_held=2)
        assert got == expected[0] == (3, 4, 2)
        assert fast.seq == 3 and fast_entry.request_id == fast.pk
        assert not fast._state.adding and not fast_entry._state.adding
        assert written(fast, fast_entry) == expected[1]
        transaction.set_rollback(True)


def test_join_queue_writes_nothing_for_a_buyer_over_the_bound(buyer, event, regular):
    enqueue(buyer, regular, 2)
    before = (TicketRequest.objects.count(), AuditEntry.objects.count())
    counters = list(TicketTypeCounter.objects.values_list("queued", "waiting"))
    queue = list(QueueCounter.objects.values_list("arrived", "decided", "skipped"))
    request, entry = new_arrival(buyer, regular, "queued")

    assert fastqueue.join_queue(request, entry, column="queued", most_held=1) == (None, None, 2)
    assert request.pk is None and entry.pk is None
    assert (TicketRequest.objects.count(), AuditEntry.objects.count()) == before
    assert list(TicketTypeCounter.objects.values_list("queued", "waiting")) == counters
    assert list(QueueCounter.objects.values_list("arrived", "decided", "skipped")) == queue


def test_bump_type_counters_matches_orm_updates(vip, regular):
    fastpath.bump_type_counters({(vip.pk, vip.event_id): {"queued": 2, "waiting": 1}})
    fastpath.bump_type_counters({(vip.pk, vip.event_id): {"queued": -1, "checked_in": 4}})
    TicketTypeCounter.objects.create(ticket_type=regular, event_id=regular.event_id)
    TicketTypeCounter.objects.filter(ticket_type=regular).update(
        queued=F("queued") + 2, waiting=F("waiting") + 1, checked_in=F("checked_in") + 4
    )
    TicketTypeCounter.objects.filter(ticket_type=regular).update(queued=F("queued") - 1)
    fields = ("queued", "waiting", "checked_in", "cancelled")
    assert TicketTypeCounter.objects.filter(ticket_type=vip).values_list(*fields).get() == (
        TicketTypeCounter.objects.filter(ticket_type=regular).values_list(*fields).get()
    )


def test_tickets_held_matches_the_orm_sum(buyer, make_event):
    event = make_event(vip=2, regular=10, cancellation_deadline=timezone.now() + timezone.timedelta(days=1))
    vip, regular = event.ticket_types.get(name="VIP"), event.ticket_types.get(name="Regular")
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=3)
    services.drain_event_queue(event_id=event.pk)
    order = Order.objects.get()
    services.cancel_order(user=buyer, order_id=order.pk, ticket_ids=[order.tickets.first().pk])
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    services.drain_event_queue(event_id=event.pk)
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1, wait_if_sold_out=True)
    pending = TicketRequest.objects.filter(user=buyer, event=event, status__in=TicketRequest.PENDING)
    bought = Order.objects.filter(user=buyer, event=event)
    orm = (pending.aggregate(n=Sum("quantity"))["n"] or 0) + (bought.aggregate(n=Sum("active"))["n"] or 0)
    assert fastqueue.tickets_held(user_id=buyer.pk, event_id=event.pk) == orm == 6


def test_insert_request_audit_writes_what_an_orm_entry_would(make_user, vip):
    requests = [
        services.enqueue_request(user=make_user(), ticket_type_id=vip.pk, quantity=2) for _ in range(2)
    ]
    services.drain_event_queue(event_id=vip.event_id)
    fulfilled = AuditEntry.objects.filter(kind="fulfilled").order_by("id")
    for entry, r in zip(fulfilled, requests, strict=True):
        order = Order.objects.get(request=r)
        expected = {
            "event_id": r.event_id,
            "ticket_type_id": r.ticket_type_id,
            "request_id": r.pk,
            "order_id": order.pk,
            "user_id": r.user_id,
            "quantity": 2,
            "amount": order.total,
            "reason": "",
            "ticket_id": None,
            "actor_id": None,
        }
        assert {k: getattr(entry, k) for k in expected} == expected


def test_lock_buyer_and_read_type_reads_what_the_orm_reads(buyer, vip):
    TicketTypeCounter.objects.create(ticket_type=vip, event_id=vip.event_id, waiting=3)
    with transaction.atomic():
        found, fast, earlier = fastqueue.lock_buyer_and_read_type(user_id=buyer.pk, ticket_type_id=vip.pk)
    slow = TicketType.objects.select_related("event").get(pk=vip.pk)
    assert found and fast.waiting == 3 and earlier is None
    for name in fastqueue._TYPE_FIELDS:
        assert getattr(fast, name) == getattr(slow, name), name
    for name in fastqueue._EVENT_FIELDS:
        assert getattr(fast.event, name) == getattr(slow.event, name), name
    assert fast.event.sale_opens_at.tzinfo is not None and isinstance(fast.price, Decimal)
    assert fastqueue.lock_buyer_and_read_type(user_id=buyer.pk, ticket_type_id=10**9) == (True, None, None)
    type(buyer).objects.filter(pk=buyer.pk).update(is_active=False)
    assert fastqueue.lock_buyer_and_read_type(user_id=buyer.pk, ticket_type_id=vip.pk) == (False, None, None)
    assert Event.objects.count() == 1


def test_lock_buyer_and_read_type_finds_the_request_its_key_made(buyer, vip, other_buyer):
    made = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2, idempotency_key="k-1")
    services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1, idempotency_key="k-2")
    with transaction.atomic():
        _, _, earlier = fastqueue.lock_buyer_and_read_type(
            user_id=buyer.pk, ticket_type_id=10**9, idempotency_key="k-1"
        )
        _, _, none_without_key = fastqueue.lock_buyer_and_read_type(user_id=buyer.pk, ticket_type_id=vip.pk)
        _, _, not_anothers = fastqueue.lock_buyer_and_read_type(
            user_id=buyer.pk, ticket_type_id=vip.pk, idempotency_key="k-2"
        )
    slow = TicketRequest.objects.get(user=buyer, idempotency_key="k-1")
    assert earlier.pk == made.pk and none_without_key is None and not_anothers is None
    for name in fastqueue._REQUEST_FIELDS:
        assert getattr(earlier, name) == getattr(slow, name), name
    assert earlier.created_at.tzinfo is not None and isinstance(earlier.unit_price, Decimal)


def test_shallow_fields_serialize_as_drfs_own_copy(buyer, vip):
    request = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)

    class DeepCopied(TicketRequestOut):
        def get_fields(self):
            return copy.deepcopy(self._declared_fields)

    assert TicketRequestOut(request).data == DeepCopied(request).data
    fields = fastpath.shallow_fields(TicketRequestOut())
    assert fields.keys() == TicketRequestOut._declared_fields.keys()
    assert all(fields[n] is not TicketRequestOut._declared_fields[n] for n in fields)


@pytest.mark.parametrize(
    "data",
    [
        {"ticket_type_id": 3, "quantity": 2},
        {"ticket_type_id": 3, "quantity": 2, "wait_if_sold_out": True},
        {"ticket_type_id": "x", "quantity": 2**40},
        {"quantity": "two"},
        {},
    ],
)
def test_shallow_fields_validate_input_as_drfs_own_copy(data):
    from ticketing.api.serializers import IdempotencyKeyHeader, TicketRequestIn

    def deep(serializer_class):
        class DeepCopied(serializer_class):
            def get_fields(self):
                return copy.deepcopy(self._declared_fields)

        return DeepCopied

    for serializer_class, given in (
        (TicketRequestIn, data),
        (IdempotencyKeyHeader, {"idempotency_key": "k" * 101}),
    ):
        for _ in range(2):  # a second use must not see the first one's state
            fast, slow = serializer_class(data=given), deep(serializer_class)(data=given)
            assert fast.is_valid() == slow.is_valid()
            assert fast.errors == slow.errors
            assert (fast.validated_data if not fast.errors else None) == (
                slow.validated_data if not slow.errors else None
            )


def test_read_own_request_matches_the_orm_and_checks_the_account(buyer, other_buyer, vip):
    mine = services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    theirs = services.enqueue_request(user=other_buyer, ticket_type_id=vip.pk, quantity=1)

    active, fast = fastqueue.read_own_request(user_id=buyer.pk, request_id=mine.pk)
    slow = TicketRequest.objects.select_related("event").get(pk=mine.pk)
    assert active
    names = [f.attname for f in TicketRequest._meta.concrete_fields]
    assert [getattr(fast, n) for n in names] == [getattr(slow, n) for n in names]
    assert fast.event.pk == slow.event.pk
    assert [getattr(fast.event, n) for n in ("sale_opens_at", "sale_closes_at", "waiting_room_opens_at")] == [
        getattr(slow.event, n) for n in ("sale_opens_at", "sale_closes_at", "waiting_room_opens_at")
    ]
    assert fast.event.sale_state() == slow.event.sale_state()
    # Someone else's request is as good as missing; an unknown id too.
    assert fastqueue.read_own_request(user_id=buyer.pk, request_id=theirs.pk) == (True, None)
    assert fastqueue.read_own_request(user_id=buyer.pk, request_id=10**9) == (True, None)
    # A deactivated or deleted account reads nothing.
    type(buyer).objects.filter(pk=buyer.pk).update(is_active=False)
    assert fastqueue.read_own_request(user_id=buyer.pk, request_id=mine.pk) == (False, None)
    assert fastqueue.read_own_request(user_id=10**9, request_id=mine.pk) == (False, None)


def test_queue_counters_ahead_match_the_orm(make_user, event, vip, regular):
    from django.db.models import Count, Subquery
    from django.db.models.functions import Coalesce

    requests = [
        services.enqueue_request(user=make_user(), ticket_type_id=t.pk, quantity=1)
        for t in (vip, regular, regular, vip, regular, regular)
    ]
    services.cancel_request(user=requests[1].user, request_id=requests[1].pk)  # skipped, ahead of others
    services.drain_event_queue(event_id=event.pk, batch_size=1, time_budget=0)
    for r in TicketRequest.objects.filter(pk__in=[x.pk for x in requests]):
        skipped_before = (
            TicketRequest.objects.filter(
                event_id=r.event_id, priority=r.priority, skipped=True, seq__lt=r.seq
            )
            .order_by()
            .values("event_id")
            .annotate(n=Count("id"))
            .values("n")
        )
        orm = QueueCounter.objects.filter(event_id=r.event_id, priority__gte=r.priority).annotate(
            skipped_before=Coalesce(Subquery(skipped_before), 0)
        )
        expected = {
            (c.priority, c.arrived, c.decided, c.skipped, c.skipped_before if c.priority == r.priority else 0)
            for c in orm
        }
        fast = fastqueue.queue_counters_ahead(event_id=r.event_id, priority=r.priority, seq=r.seq)
        assert {tuple(int(x) for x in row) for row in fast} == expected


def test_the_joins_statements_are_prepared_on_postgresql_and_nothing_else(buyer, other_buyer, vip):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    if not connection.settings_dict["OPTIONS"].get("server_side_binding"):
        pytest.skip("with client-side binding (DB_SERVER_SIDE_BINDING=false) psycopg prepares nothing")
    connection.ensure_connection()
    threshold = connection.connection.prepare_threshold
    for user in (buyer, other_buyer):
        services.enqueue_request(user=user, ticket_type_id=vip.pk, quantity=1)
    selectors.queue_position(ticket_request=TicketRequest.objects.filter(user=buyer).get())
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        statements = [row[0] for row in cursor.fetchall()]
    # The buyer's lock and the join are prepared (once per connection: the connection may have
    # prepared them in an earlier test, and the join has one text per counter column); the reads
    # around them (the position, the order lookup) are not; and the threshold is as it was.
    lock = [s for s in statements if "FOR NO KEY UPDATE" in s]
    join = [s for s in statements if s.startswith("WITH held")]
    assert len(lock) == 1 and 1 <= len(join) <= 2, statements
    assert len(lock) + len(join) == len(statements), statements
    assert connection.connection.prepare_threshold == threshold
