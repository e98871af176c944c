"""The whole lifecycle, driven at random: after every step the books balance and the queue is fair.

A hypothesis state machine runs one small event (two ticket types of 3 to 8 places, VIP before
Regular, three to five buyers, a limit of five to seven tickets each, so that sell-outs, waiting
lists and limits come often) through random sequences of the real services: joining the queue or a
waiting list (with and without an idempotency key), cancelling a request, draining (sometimes in
small batches), cancelling orders and single tickets as staff and as the buyer, recording refunds,
raising a capacity as the admin does, checking in at the door, closing the sale, letting the
cancellation deadline pass and cancelling the event. Most examples start with the sale under way
(a crowd has bought all but a few tickets, and a few more of them queue or wait), and the rules'
preconditions keep steps off idle drains and certain refusals, so that tickets coming back to a
waiting list while others queue is a few steps away rather than out of reach.

Each call is judged by the rules: a refusal must be the one they give and change no row at all; a
success must do what they say. After every step:

1. a type's `sold` equals its valid and checked-in tickets, and never exceeds its capacity;
2. each TicketTypeCounter column equals the rows it counts (no row counts as zeros);
3. each QueueCounter equals the requests that joined its queue, left it, and left out of turn;
4. an order holds one ticket per admission, `active` counts those not cancelled, its status
   follows them, and its refunds (never more than its total) match its refund entries; every
   fulfilled request has one order at its price, and no other request has any;
5. the audit log holds one entry per change: each request's entries trace a valid path, through
   every status it was seen in, to its status now; each checked-in or cancelled ticket has
   exactly one entry saying so and a valid ticket none; a cancelled order has one entry; and
   each order owes its buyer one email saying whether it came from the waiting list;
6. a drain serves the waiting lists first, each in queue order, every request that fits and
   none that does not, then the queue in order: its outcomes, and the order its orders were
   created in, are replayed from the state before it (see `check_drain` for the one case where
   only the order within a waiting list is checked);
7. a queued buyer is shown their rank in service order, a waiting buyer their rank on the
   type's waiting list;
8. no buyer holds, queues and waits for more tickets than the event's limit.

Each hypothesis example gets an event, ticket types and buyers of its own, so every counter starts
from nothing, and the cache (wake-ups, the drain rate) is cleared. The services' durable
transactions nest in the test's transaction as Django's TestCase allows, and their on-commit
wake-ups never run: nothing but the calls made here moves the state. The seed is fixed and no
example database is kept, so every run explores the same examples;
EVENTTIX_PROPERTY_EXAMPLES, EVENTTIX_PROPERTY_STEPS and EVENTTIX_PROPERTY_SEED widen or vary a run.
"""

import itertools
import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import hypothesis
import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from events.models import Event, SaleState, TicketType
from ticketing import errors, selectors, services
from ticketing.models import (
    AuditEntry,
    Order,
    OutboxEmail,
    QueueCounter,
    Ticket,
    TicketRequest,
    TicketTypeCounter,
)
from ticketing.services import ledger

pytestmark = pytest.mark.django_db

EXAMPLES = int(os.environ.get("EVENTTIX_PROPERTY_EXAMPLES", "60"))
STEPS = int(os.environ.get("EVENTTIX_PROPERTY_STEPS", "30"))
SEED = int(os.environ.get("EVENTTIX_PROPERTY_SEED", "11"))

Status = TicketRequest.Status
Reason = TicketRequest.Reason
Kind = AuditEntry.Kind
PENDING = set(TicketRequest.PENDING)
HELD = set(Ticket.HELD)
# Where a request may go from each status; its audit entries must follow these edges.
NEXT = {
    Status.QUEUED: {Status.WAITING, Status.FULFILLED, Status.REJECTED, Status.CANCELLED},
    Status.WAITING: {Status.FULFILLED, Status.REJECTED, Status.CANCELLED},
    Status.FULFILLED: set(),
    Status.REJECTED: set(),
    Status.CANCELLED: set(),
}
REQUEST_KINDS = {Kind.QUEUED, Kind.WAITING, Kind.FULFILLED, Kind.REJECTED, Kind.CANCELLED}
# Idempotency keys: mostly none, sometimes one used before.
KEYS = st.sampled_from([None, None, None, "k1", "k2"])
# Mostly a buyer chosen for the step to go through; sometimes anyone.
ANYONE = st.sampled_from([False, False, False, True])
# Mostly staff, sometimes a buyer trying a staff-only call.
AS_STAFF = st.sampled_from([True, True, True, False])
# Slugs unique across the examples of one test, which share its transaction.
_numbers = itertools.count(1)


def service_order(r: TicketRequest) -> tuple:
    return (-r.priority, r.seq)


def by_pk(rows) -> dict:
    return {row.pk: row for row in rows}


def is_subsequence(part, whole) -> bool:
    rest = iter(whole)
    return all(any(x == y for y in rest) for x in part)


@dataclass
class World:
    """Every row of one example, read in a handful of queries (the ORM's cost is the test's time)."""

    event: Event
    types: dict[int, TicketType]
    requests: dict[int, TicketRequest]
    orders: dict[int, Order]
    tickets: dict[int, Ticket]
    type_counters: dict[int, tuple]
    queue_counters: dict[int, tuple]
    audit: list[tuple]
    emails: list[tuple]

    @classmethod
    def read(cls, event_id: int) -> "World":
        return cls(
            event=Event.objects.get(pk=event_id),
            types=by_pk(TicketType.objects.filter(event_id=event_id).order_by("pk")),
            requests=by_pk(TicketRequest.objects.filter(event_id=event_id).order_by("pk")),
            orders=by_pk(Order.objects.filter(event_id=event_id).order_by("pk")),
            tickets=by_pk(Ticket.objects.filter(order__event_id=event_id).order_by("pk")),
            type_counters={
                pk: rest
                for pk, *rest in TicketTypeCounter.objects.filter(event_id=event_id).values_list(
                    "ticket_type_id", "queued", "waiting", "checked_in", "cancelled"
                )
            },
            queue_counters={
                priority: rest
                for priority, *rest in QueueCounter.objects.filter(event_id=event_id).values_list(
                    "priority", "arrived", "decided", "skipped"
                )
            },
            audit=list(
                AuditEntry.objects.filter(event_id=event_id)
                .order_by("pk")
                .values_list("kind", "request_id", "order_id", "ticket_id", "amount")
            ),
            emails=list(
                OutboxEmail.objects.filter(event_id=event_id).order_by("pk").values_list("kind", "order_id")
            ),
        )

    def rows(self) -> tuple:
        """What any write would change, to compare before and after a refusal."""
        e = self.event
        return (
            (e.sale_closes_at, e.cancellation_deadline, e.cancelled_at, e.max_tickets_per_user),
            [(t.pk, t.sold, t.capacity) for t in self.types.values()],
            [(r.pk, r.status, r.reason, r.skipped, r.seq, r.processed_at) for r in self.requests.values()],
            [(o.pk, o.status, o.active, o.refunded, o.cancelled_at) for o in self.orders.values()],
            [(t.pk, t.status, t.checked_in_at, t.cancelled_at) for t in self.tickets.values()],
            self.type_counters,
            self.queue_counters,
            self.audit,
            self.emails,
        )

    def pending(self, status=None) -> list[TicketRequest]:
        """Queued or waiting requests (or those of one status), in service order."""
        wanted = {status} if status else PENDING
        return sorted((r for r in self.requests.values() if r.status in wanted), key=service_order)

    def held(self, user_id: int) -> int:
        """Tickets a buyer holds, queues and waits for (what the per-buyer limit counts)."""
        pending = sum(r.quantity for r in self.pending() if r.user_id == user_id)
        return pending + sum(o.active for o in self.orders.values() if o.user_id == user_id)


class Lifecycle(RuleBasedStateMachine):
    """The rules and the properties; the test binds `admin`, `clerk`, `door` and `make_user`."""

    admin = clerk = door = None
    make_user = None

    @initialize(
        vip=st.integers(3, 8),
        regular=st.integers(3, 8),
        buyers=st.integers(3, 5),
        limit=st.integers(5, 7),
        per_request=st.integers(2, 4),
        left=st.sampled_from([1, None, 0, 2, 3]),
        later=st.lists(st.tuples(st.sampled_from([0, 1]), st.integers(1, 4)), max_size=3),
    )
    def open_sale(self, vip, regular, buyers, limit, per_request, left, later):
        cache.clear()
        n = next(_numbers)
        now = timezone.now()
        event = Event.objects.create(
            name=f"Property event {n}",
            slug=f"property-event-{n}",
            starts_at=now + timedelta(days=10),
            sale_opens_at=now - timedelta(hours=1),
            max_tickets_per_user=limit,
            cancellation_deadline=now + timedelta(days=1),
        )
        types = [
            TicketType.objects.create(
                event=event,
                name=name,
                price=price,
                capacity=capacity,
                priority=priority,
                max_per_request=per_request,
            )
            for name, price, capacity, priority in [
                ("VIP", Decimal("150.00"), vip, 10),
                ("Regular", Decimal("50.00"), regular, 0),
            ]
        ]
        # Mostly a sale under way: a crowd has bought all but `left` tickets of each type, and a
        # few more of them queue or wait for `later` (type, quantity), so that sell-outs, waiting
        # lists and tickets coming back to them are a step or two away.
        self.crowd = []
        for t in types if left is not None else []:
            for start in range(0, max(t.capacity - left, 0), per_request):
                self.crowd.append(self.make_user())
                quantity = min(per_request, t.capacity - left - start)
                services.enqueue_request(user=self.crowd[-1], ticket_type_id=t.pk, quantity=quantity)
        services.drain_event_queue(event_id=event.pk)
        for i, quantity in later if left is not None else []:
            self.crowd.append(self.make_user())
            services.enqueue_request(
                user=self.crowd[-1],
                ticket_type_id=types[i].pk,
                quantity=min(quantity, per_request),
                wait_if_sold_out=True,
            )
        self.buyers = [self.make_user() for _ in range(buyers)]
        self.users = {u.pk: u for u in [*self.buyers, *self.crowd, self.admin, self.clerk, self.door]}
        # The statuses each request was seen in after a step: its audit path must pass through them.
        self.seen = defaultdict(list)
        # The rules pick from the world as the last check read it, after the previous step.
        self.world = World.read(event.pk)
        self.steps = 0

    # Helpers

    def refused(self, error, call):
        """The call must raise `error` and leave every row as it was."""
        before = self.world.rows()
        with pytest.raises(error):
            call()
        assert World.read(self.world.event.pk).rows() == before

    def pick(self, data, label, items):
        return data.draw(st.sampled_from(list(items)), label=label)

    def has(self, what) -> bool:
        return bool(getattr(self.world, what))

    def short_of_tickets(self) -> list[int]:
        """Ticket types sold out or with a waiting list."""
        waiting = {r.ticket_type_id for r in self.world.pending(Status.WAITING)}
        return [pk for pk, t in self.world.types.items() if t.remaining == 0 or pk in waiting]

    def cancelled_orders(self) -> list[Order]:
        """Orders with a cancelled ticket."""
        return [o for o in self.world.orders.values() if o.active < o.quantity]

    def drain_has_work(self) -> bool:
        """Whether a drain has something to do, with arrivals let in twos and threes between drains.

        Idle drains reach no new state, and a drain of one arrival at a time would never see a
        queued request compete with a waiting one for tickets that came back.
        """
        w = self.world
        if w.event.sale_state() != SaleState.OPEN:
            return bool(w.pending())
        fits = any(r.quantity <= w.types[r.ticket_type_id].remaining for r in w.pending(Status.WAITING))
        return fits or len(w.pending(Status.QUEUED)) >= 2

    def busy(self) -> bool:
        # The sale ends only after some business, so that most steps are taken while it is open.
        return self.steps >= 12

    # Rules

    # A few requests at a time between drains, as wake-ups would have it: sell-outs come sooner.
    @precondition(lambda self: len(self.world.pending(Status.QUEUED)) < 4)
    @rule(data=st.data(), key=KEYS, anyone=ANYONE)
    def ask(self, data, key, anyone):
        self.enqueue(data, key, anyone, wait=False)

    @precondition(lambda self: len(self.world.pending(Status.QUEUED)) < 4)
    @rule(data=st.data(), key=KEYS, anyone=ANYONE)
    def ask_or_wait(self, data, key, anyone):
        self.enqueue(data, key, anyone, wait=True)

    def enqueue(self, data, key, anyone, wait):
        w = self.world
        # Mostly a buyer with room left under the limit: steps spent on refusals reach no new state.
        room = [b for b in self.buyers if w.held(b.pk) < w.event.max_tickets_per_user]
        buyer = self.pick(data, "buyer", room if room and not anyone else self.buyers)
        # And, for a buyer who will not wait, mostly a type with tickets on sale.
        waited_for = {r.ticket_type_id for r in w.pending(Status.WAITING)}
        on_sale = [t for t in w.types.values() if t.remaining and t.pk not in waited_for]
        ticket_type = self.pick(
            data, "type", on_sale if on_sale and not (wait or anyone) else w.types.values()
        )
        quantity = data.draw(st.integers(1, ticket_type.max_per_request), label="quantity")
        asked = {"ticket_type_id": ticket_type.pk, "quantity": quantity, "wait_if_sold_out": wait}

        def call():
            return services.enqueue_request(user=buyer, idempotency_key=key, **asked)

        earlier = next(
            (r for r in w.requests.values() if key and (r.user_id, r.idempotency_key) == (buyer.pk, key)),
            None,
        )
        if earlier is not None:
            # A repeated key answers with the request it made, or is refused if it asked for another.
            if any(getattr(earlier, name) != value for name, value in asked.items()):
                self.refused(errors.IdempotencyKeyReused, call)
            else:
                before = w.rows()
                assert call().pk == earlier.pk
                assert World.read(w.event.pk).rows() == before
            return

        waiting_list = w.pending(Status.WAITING)
        ahead_waiting = sum(1 for r in waiting_list if r.ticket_type_id == ticket_type.pk)
        # Tickets that come back are held for the waiting list: none are on sale while it has anyone.
        on_sale = 0 if ahead_waiting else ticket_type.remaining
        if w.event.sale_state() != SaleState.OPEN:
            self.refused(errors.SaleClosed, call)
        elif quantity > on_sale and not wait:
            self.refused(errors.SoldOut, call)
        elif w.held(buyer.pk) + quantity > w.event.max_tickets_per_user:
            self.refused(errors.LimitExceeded, call)
        else:
            made = call()
            expected = Status.WAITING if quantity > on_sale else Status.QUEUED
            assert (made.status, made.quantity, made.unit_price) == (expected, quantity, ticket_type.price)
            # Joining the waiting list is leaving the queue out of turn.
            assert made.skipped == (expected == Status.WAITING)
            if expected == Status.WAITING:
                assert made.ahead_on_arrival == ahead_waiting
            else:
                # The place promised on arrival: last of its priority, behind every higher one.
                assert made.ahead_on_arrival == sum(
                    1 for r in w.pending(Status.QUEUED) if r.priority >= made.priority
                )

    @precondition(lambda self: self.world.pending())
    @rule(
        data=st.data(),
        as_owner=st.sampled_from([True, True, True, False]),
        any_status=st.sampled_from([False, False, False, True]),
    )
    def cancel_request(self, data, as_owner, any_status):
        w = self.world
        pending = w.pending()
        # Mostly a request that can still be cancelled; sometimes any.
        pool = w.requests.values() if any_status or not pending else pending
        target = self.pick(data, "request", pool)
        others = [b for b in self.buyers if b.pk != target.user_id]
        user = self.users[target.user_id] if as_owner else self.pick(data, "other", others)

        def call():
            return services.cancel_request(user=user, request_id=target.pk)

        if not as_owner:
            self.refused(errors.NotFound, call)
        elif target.status not in PENDING:
            self.refused(errors.NotCancellable, call)
        else:
            done = call()
            assert (done.status, done.reason) == (Status.CANCELLED, Reason.BY_BUYER)
            # Leaving the queue before its turn is skipping it; leaving the waiting list skips nothing.
            assert done.skipped == (target.skipped or target.status == Status.QUEUED)

    @precondition(lambda self: self.drain_has_work())
    @rule()
    def drain(self):
        self.check_drain(batch_size=None)

    @precondition(lambda self: self.drain_has_work())
    @rule(batch_size=st.integers(1, 3))
    def drain_in_small_batches(self, batch_size):
        self.check_drain(batch_size=batch_size)

    def check_drain(self, batch_size):
        w = self.world
        before = {r.pk: r for r in w.pending()}
        expected = self.replay_drain(w)
        result = services.drain_event_queue(event_id=w.event.pk, batch_size=batch_size)
        after = {
            pk: (status, reason)
            for pk, status, reason in TicketRequest.objects.filter(pk__in=before).values_list(
                "pk", "status", "reason"
            )
        }
        # Orders are created in service order (their ids tell it).
        served = list(
            Order.objects.filter(request_id__in=before).order_by("pk").values_list("request_id", flat=True)
        )
        # Whatever the batch size, the outcome and the order of service are the greedy replay's:
        # each batch takes the waiting requests that fit what is left, and the queue only after.
        assert after == expected
        assert served == [pk for pk, (status, _) in expected.items() if status == Status.FULFILLED]
        moved = Counter(status for pk, (status, _) in after.items() if status != before[pk].status)
        assert (result.fulfilled, result.rejected, result.waiting, result.cancelled) == (
            moved[Status.FULFILLED],
            moved[Status.REJECTED],
            moved[Status.WAITING],
            moved[Status.CANCELLED],
        )
        assert result.tickets == sum(before[pk].quantity for pk in served)
        assert not result.more
        # The queue is emptied whatever the batch size.
        assert Status.QUEUED not in {status for status, _ in after.values()}

    @staticmethod
    def replay_drain(w: World) -> dict[int, tuple[str, str]]:
        """The (status, reason) each queued or waiting request must have after a drain, in the
        order the drain decides them.

        Waiting lists first, then the queue, each in service order: a request is served whole if
        its type has the tickets and its buyer the room; a waiting one that does not fit stays;
        a queued one joins the waiting list if it asked to, or is rejected as sold out.
        """
        waiting, queued = w.pending(Status.WAITING), w.pending(Status.QUEUED)
        state = w.event.sale_state()
        if state == SaleState.CANCELLED:
            return {r.pk: (Status.CANCELLED, Reason.EVENT_CANCELLED) for r in [*waiting, *queued]}
        if state != SaleState.OPEN:
            return {r.pk: (Status.REJECTED, Reason.SALE_CLOSED) for r in [*waiting, *queued]}
        remaining = {pk: t.remaining for pk, t in w.types.items()}
        bought = Counter()
        for o in w.orders.values():
            bought[o.user_id] += o.active
        outcome = {}
        for r in [*waiting, *queued]:
            if bought[r.user_id] + r.quantity > w.event.max_tickets_per_user:
                outcome[r.pk] = (Status.REJECTED, Reason.LIMIT_EXCEEDED)
            elif remaining[r.ticket_type_id] >= r.quantity:
                outcome[r.pk] = (Status.FULFILLED, "")
                remaining[r.ticket_type_id] -= r.quantity
                bought[r.user_id] += r.quantity
            elif r.status == Status.WAITING:
                outcome[r.pk] = (Status.WAITING, r.reason)
            elif r.wait_if_sold_out:
                outcome[r.pk] = (Status.WAITING, "")
            else:
                outcome[r.pk] = (Status.REJECTED, Reason.SOLD_OUT)
        return outcome

    @precondition(lambda self: self.has("orders"))
    @rule(
        data=st.data(),
        anyone=ANYONE,
        refund=st.sampled_from([None, None, Decimal("10.00"), "all", "too much"]),
    )
    def staff_cancel(self, data, anyone, refund):
        order = self.pick_order(data, anyone)
        staff = self.pick(data, "staff", [self.admin, self.clerk])
        left = order.total - order.refunded
        amount = {"all": left, "too much": left + Decimal("0.01")}.get(refund, refund)
        self.cancel_tickets(data, staff, order, amount)

    @precondition(lambda self: self.has("orders"))
    @rule(data=st.data(), anyone=ANYONE, as_owner=st.sampled_from([True, True, True, False]))
    def buyer_cancel(self, data, anyone, as_owner):
        order = self.pick_order(data, anyone)
        others = [b for b in self.buyers if b.pk != order.user_id]
        user = self.users[order.user_id] if as_owner else self.pick(data, "other", others)
        self.cancel_tickets(data, user, order, None)

    def pick_order(self, data, anyone) -> Order:
        """Mostly an order with a valid ticket to give back; sometimes any."""
        w = self.world
        live = {t.order_id for t in w.tickets.values() if t.status == Ticket.Status.VALID}
        orders = [o for o in w.orders.values() if anyone or o.pk in live] or list(w.orders.values())
        return self.pick(data, "order", orders)

    def cancel_tickets(self, data, user, order, amount):
        w = self.world
        tickets = {pk: t for pk, t in w.tickets.items() if t.order_id == order.pk}
        # All its valid tickets (None), or some of them whatever their status.
        chosen = data.draw(
            st.none() | st.lists(st.sampled_from(sorted(tickets)), min_size=1, unique=True), label="tickets"
        )

        def call():
            return services.cancel_order(user=user, order_id=order.pk, ticket_ids=chosen, refund=amount)

        named = tickets.values() if chosen is None else [tickets[pk] for pk in chosen]
        valid = [t.pk for t in named if t.status == Ticket.Status.VALID]
        # Named tickets must all be valid; "all of them" means those still valid.
        not_valid = chosen is not None and len(valid) < len(chosen)
        deadline_passed = timezone.now() >= w.event.cancellation_deadline
        if not user.is_staff and user.pk != order.user_id:
            self.refused(errors.NotFound, call)
        elif (not user.is_staff and deadline_passed) or not valid or not_valid:
            self.refused(errors.NotCancellable, call)
        elif amount is not None and (amount <= 0 or order.refunded + amount > order.total):
            # The refund is judged last, in the same transaction: the cancellation is undone with it.
            # (A refund of nothing, all being refunded already, is refused like any other.)
            self.refused(errors.InvalidRefund, call)
        else:
            done = call()
            assert done.active == order.active - len(valid)
            assert done.refunded == order.refunded + (amount or 0)
            now = dict(Ticket.objects.filter(pk__in=tickets).values_list("pk", "status"))
            assert now == {
                pk: Ticket.Status.CANCELLED if pk in valid else t.status for pk, t in tickets.items()
            }
            sold = TicketType.objects.get(pk=order.ticket_type_id).sold
            assert sold == w.types[order.ticket_type_id].sold - len(valid)

    # Money is given back for tickets that were cancelled.
    @precondition(lambda self: self.cancelled_orders())
    @rule(
        data=st.data(),
        as_staff=AS_STAFF,
        amount=st.sampled_from([Decimal("1.00"), Decimal("25.00"), "all", "too much"]),
    )
    def record_refund(self, data, as_staff, amount):
        order = self.pick(data, "order", self.cancelled_orders())
        user = self.pick(data, "user", [self.admin, self.clerk] if as_staff else self.buyers)
        left = order.total - order.refunded
        money = {"all": left, "too much": left + Decimal("0.01")}.get(amount, amount)

        def call():
            return services.record_refund(user=user, order_id=order.pk, amount=money, reason="property")

        if not user.is_staff:
            self.refused(errors.NotAllowed, call)
        elif money <= 0 or order.refunded + money > order.total:
            self.refused(errors.InvalidRefund, call)
        else:
            assert call().refunded == order.refunded + money

    # What an organiser does when a type sells out or has a waiting list.
    @precondition(lambda self: self.short_of_tickets())
    @rule(data=st.data(), by=st.integers(1, 3))
    def raise_capacity(self, data, by):
        ticket_type = TicketType.objects.get(pk=self.pick(data, "type", self.short_of_tickets()))
        old = ticket_type.capacity
        # What the admin's save does: the new capacity and its audit entry in one transaction.
        with transaction.atomic():
            ticket_type.capacity = old + by
            ticket_type.save()
            ledger.capacity_changed(ticket_type=ticket_type, old=old, actor_id=self.admin.pk)
        assert TicketType.objects.get(pk=ticket_type.pk).capacity == old + by
        entry = AuditEntry.objects.filter(ticket_type_id=ticket_type.pk).latest("pk")
        assert (entry.kind, entry.quantity, entry.actor_id) == (
            Kind.CAPACITY_CHANGED,
            old + by,
            self.admin.pk,
        )

    @precondition(lambda self: self.has("tickets"))
    @rule(data=st.data(), as_door=st.sampled_from([True, True, True, False]), forged=st.booleans())
    def check_in(self, data, as_door, forged):
        w = self.world
        ticket = self.pick(data, "ticket", w.tickets.values())
        staff = self.door if as_door else self.users[w.orders[ticket.order_id].user_id]
        token = ticket.qr_token + "-forged" if forged and as_door else ticket.qr_token

        def call():
            return services.check_in_ticket(qr_token=token, staff_user=staff)

        if not as_door:
            self.refused(errors.NotAllowed, call)
        elif token != ticket.qr_token:
            self.refused(errors.NotFound, call)
        elif ticket.status == Ticket.Status.CHECKED_IN:
            self.refused(errors.AlreadyCheckedIn, call)
        elif ticket.status == Ticket.Status.CANCELLED:
            self.refused(errors.TicketCancelled, call)
        else:
            admitted = call()
            assert (admitted.pk, admitted.status, admitted.checked_in_by_id) == (
                ticket.pk,
                Ticket.Status.CHECKED_IN,
                self.door.pk,
            )

    @precondition(lambda self: self.world.event.sale_closes_at is None and self.busy())
    @rule()
    def close_sale(self):
        event = self.world.event
        event.sale_closes_at = timezone.now() - timedelta(seconds=1)
        event.save(update_fields=["sale_closes_at"])

    @precondition(lambda self: self.world.event.cancellation_deadline > timezone.now() and self.busy())
    @rule()
    def pass_cancellation_deadline(self):
        event = self.world.event
        event.cancellation_deadline = timezone.now() - timedelta(seconds=1)
        event.save(update_fields=["cancellation_deadline"])

    @precondition(lambda self: self.world.event.cancelled_at is None and self.busy())
    @rule(data=st.data(), as_staff=AS_STAFF)
    def cancel_event(self, data, as_staff):
        w = self.world
        user = self.pick(data, "user", [self.admin, self.clerk] if as_staff else self.buyers)

        def call():
            return services.cancel_event(user=user, event_id=w.event.pk, reason="property")

        if not user.is_staff:
            self.refused(errors.NotAllowed, call)
            return
        call()
        after = World.read(w.event.pk)
        assert after.event.cancelled_at is not None
        for r in w.pending():
            assert (after.requests[r.pk].status, after.requests[r.pk].reason) == (
                Status.CANCELLED,
                Reason.EVENT_CANCELLED,
            )
        # Every ticket not used yet goes back; one used at the door stays used.
        for pk, t in w.tickets.items():
            assert after.tickets[pk].status == (
                Ticket.Status.CHECKED_IN if t.status == Ticket.Status.CHECKED_IN else Ticket.Status.CANCELLED
            )

    # The properties, after every step

    @invariant()
    def books_balance(self):
        self.world = w = World.read(self.world.event.pk)
        self.steps += 1
        self.check_sold(w)
        self.check_type_counters(w)
        self.check_queue_counters(w)
        self.check_orders(w)
        self.check_audit(w)
        self.check_positions(w)
        self.check_limits(w)

    def check_sold(self, w: World):  # 1
        held = Counter(t.ticket_type_id for t in w.tickets.values() if t.status in HELD)
        for t in w.types.values():
            assert t.sold == held[t.pk], f"{t.name}: sold {t.sold}, {held[t.pk]} tickets held"
            assert t.sold <= t.capacity, f"{t.name}: sold {t.sold} of {t.capacity}"

    def check_type_counters(self, w: World):  # 2
        requests = Counter((r.ticket_type_id, r.status) for r in w.requests.values())
        tickets = Counter((t.ticket_type_id, t.status) for t in w.tickets.values())
        for t in w.types.values():
            actual = (
                requests[(t.pk, Status.QUEUED)],
                requests[(t.pk, Status.WAITING)],
                tickets[(t.pk, Ticket.Status.CHECKED_IN)],
                tickets[(t.pk, Ticket.Status.CANCELLED)],
            )
            counted = tuple(w.type_counters.get(t.pk, (0, 0, 0, 0)))
            assert counted == actual, f"{t.name}: (queued, waiting, checked in, cancelled) {counted} {actual}"

    def check_queue_counters(self, w: World):  # 3
        priorities = {t.priority for t in w.types.values()} | set(w.queue_counters)
        for priority in priorities:
            arrived, decided, skipped = w.queue_counters.get(priority, (0, 0, 0))
            mine = [r for r in w.requests.values() if r.priority == priority]
            actual = (
                len(mine),
                sum(r.status != Status.QUEUED for r in mine),
                sum(r.skipped for r in mine),
            )
            counted = (arrived, decided + skipped, skipped)
            assert counted == actual, f"priority {priority}: (arrived, left, skipped) {counted} {actual}"

    def check_orders(self, w: World):  # 4
        refunds = defaultdict(Decimal)
        for kind, _, order_id, _, amount in w.audit:
            if kind == Kind.REFUNDED:
                refunds[order_id] += amount
        tickets = defaultdict(Counter)
        for t in w.tickets.values():
            tickets[t.order_id][t.status] += 1
        for o in w.orders.values():
            mine = tickets[o.pk]
            assert sum(mine.values()) == o.quantity, f"order {o.pk}: {mine}"
            assert o.active == o.quantity - mine[Ticket.Status.CANCELLED], f"order {o.pk}: {mine}"
            if o.active == o.quantity:
                status = Order.Status.CONFIRMED
            elif o.active:
                status = Order.Status.PARTLY_CANCELLED
            else:
                status = Order.Status.CANCELLED
            assert o.status == status, f"order {o.pk} with {o.active} of {o.quantity} active"
            assert (o.cancelled_at is not None) == (status == Order.Status.CANCELLED)
            assert 0 <= o.refunded <= o.total == o.unit_price * o.quantity
            assert o.refunded == refunds[o.pk]
            assert all(t.ticket_type_id == o.ticket_type_id for t in w.tickets.values() if t.order_id == o.pk)
        served = sorted(
            (r.pk, r.user_id, r.ticket_type_id, r.quantity, r.unit_price)
            for r in w.requests.values()
            if r.status == Status.FULFILLED
        )
        assert served == sorted(
            (o.request_id, o.user_id, o.ticket_type_id, o.quantity, o.unit_price) for o in w.orders.values()
        )

    def check_audit(self, w: World):  # 5
        paths = defaultdict(list)
        for kind, request_id, *_ in w.audit:
            if kind in REQUEST_KINDS:
                paths[request_id].append(kind)
        assert set(paths) == set(w.requests)
        for pk, r in w.requests.items():
            seen = self.seen[pk]
            if not seen or seen[-1] != r.status:
                seen.append(r.status)
            path = paths[pk]
            assert path[0] in (Kind.QUEUED, Kind.WAITING), f"request {pk}: {path}"
            assert all(b in NEXT[a] for a, b in itertools.pairwise(path)), f"request {pk}: {path}"
            assert path[-1] == r.status, f"request {pk} is {r.status}: {path}"
            assert is_subsequence(seen, path), f"request {pk} was seen {seen}: {path}"
        fulfilled = [
            (request_id, order_id, amount)
            for kind, request_id, order_id, _, amount in w.audit
            if kind == Kind.FULFILLED
        ]
        assert sorted(fulfilled) == sorted((o.request_id, o.pk, o.total) for o in w.orders.values())

        per_ticket = Counter(
            (ticket_id, kind)
            for kind, _, _, ticket_id, _ in w.audit
            if kind in (Kind.CHECKED_IN, Kind.TICKET_CANCELLED)
        )
        expected = Counter()
        for pk, t in w.tickets.items():
            if t.status == Ticket.Status.CHECKED_IN:
                expected[(pk, Kind.CHECKED_IN)] = 1
            elif t.status == Ticket.Status.CANCELLED:
                expected[(pk, Kind.TICKET_CANCELLED)] = 1
        assert per_ticket == expected
        whole = Counter(order_id for kind, _, order_id, _, _ in w.audit if kind == Kind.ORDER_CANCELLED)
        assert whole == Counter(o.pk for o in w.orders.values() if o.status == Order.Status.CANCELLED)
        # Each order owes its buyer one email saying how it was served: from the waiting list or not.
        served = (OutboxEmail.Kind.ORDER_CONFIRMED, OutboxEmail.Kind.WAITING_LIST_SERVED)
        owed = [(order_id, kind) for kind, order_id in w.emails if kind in served]
        assert sorted(owed) == sorted(
            (o.pk, served[Kind.WAITING in paths[o.request_id]]) for o in w.orders.values()
        )

    def check_positions(self, w: World):  # 7
        # queue_position reads selectors.requests_ahead for a queued request, waiting_ahead for a
        # waiting one: what a buyer polling their place is shown.
        for rank, r in enumerate(w.pending(Status.QUEUED), 1):
            shown = selectors.queue_position(ticket_request=r)
            assert (shown.position, shown.ahead) == (rank, rank - 1), f"request {r.pk} is number {rank}"
        ranks = Counter()
        for r in w.pending(Status.WAITING):
            shown = selectors.queue_position(ticket_request=r)
            assert (shown.position, shown.ahead) == (ranks[r.ticket_type_id] + 1, ranks[r.ticket_type_id])
            ranks[r.ticket_type_id] += 1

    def check_limits(self, w: World):  # 8
        for buyer in [*self.buyers, *self.crowd]:
            tickets = sum(
                1 for t in w.tickets.values() if t.status in HELD and w.orders[t.order_id].user_id == buyer.pk
            )
            pending = sum(r.quantity for r in w.pending() if r.user_id == buyer.pk)
            assert tickets + pending <= w.event.max_tickets_per_user, (
                f"buyer {buyer.pk}: {tickets} + {pending}"
            )
            assert tickets + pending == w.held(buyer.pk)


SETTINGS = hypothesis.settings(
    max_examples=EXAMPLES,
    stateful_step_count=STEPS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def test_the_ledger_keeps_its_books_through_any_lifecycle(
    admin_user, door_staff, make_user, django_user_model
):
    # Staff who may manage orders through the permission alone, not as a superuser.
    clerk = make_user(is_staff=True)
    clerk.user_permissions.add(
        Permission.objects.get(content_type__app_label="ticketing", codename="cancel_order")
    )
    clerk = django_user_model.objects.get(pk=clerk.pk)
    assert services.can_manage_orders(clerk) and services.can_manage_orders(admin_user)
    assert services.can_check_in(door_staff) and not services.can_check_in(clerk)
    machine = type(
        "BoundLifecycle",
        (Lifecycle,),
        {"admin": admin_user, "clerk": clerk, "door": door_staff, "make_user": staticmethod(make_user)},
    )
    run_state_machine_as_test(hypothesis.seed(SEED)(machine), settings=SETTINGS)
