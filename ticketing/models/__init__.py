import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from events.models import Event, TicketType


class TicketRequest(models.Model):
    """A buyer's place in an event's queue: the durable queue entry, served all or nothing."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        # On the ticket type's waiting list: served when tickets come back, in queue order.
        WAITING = "waiting", _("On the waiting list")
        FULFILLED = "fulfilled", _("Fulfilled")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Cancelled")

    class Reason(models.TextChoices):
        SOLD_OUT = "sold_out", _("Sold out")
        SALE_CLOSED = "sale_closed", _("The sale has closed")
        LIMIT_EXCEEDED = "limit_exceeded", _("Over the per-buyer limit")
        # Why a request was cancelled.
        BY_BUYER = "by_buyer", _("Cancelled by the buyer")
        EVENT_CANCELLED = "event_cancelled", _("The event was cancelled")
        ACCOUNT_DEACTIVATED = "account_deactivated", _("The account was deactivated")

    PENDING = (Status.QUEUED, Status.WAITING)

    # Neither foreign key needs an index of its own: ticketrequest_user_event leads with the
    # user, and the unique place constraint with the event. Every arrival writes each index.
    # PROTECT throughout: a queued request holds a place that the counters count, and a served
    # one an order; neither may vanish with the buyer, event or type it names.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="ticket_requests",
        db_index=False,
    )
    # Copied from the ticket type so that the queue's order and counts come from one index.
    event = models.ForeignKey(
        Event,
        verbose_name=_("event"),
        on_delete=models.PROTECT,
        related_name="ticket_requests",
        db_index=False,
    )
    ticket_type = models.ForeignKey(
        TicketType, verbose_name=_("ticket type"), on_delete=models.PROTECT, related_name="ticket_requests"
    )
    priority = models.SmallIntegerField(verbose_name=_("priority"))
    quantity = models.PositiveSmallIntegerField(verbose_name=_("quantity"))
    # The price in force when the request was accepted: its order charges this, whatever changes later.
    unit_price = models.DecimalField(verbose_name=_("unit price"), max_digits=10, decimal_places=2)
    # Join the ticket type's waiting list instead of being refused when it is sold out.
    wait_if_sold_out = models.BooleanField(verbose_name=_("wait if sold out"), default=False)
    status = models.CharField(
        verbose_name=_("status"), max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    reason = models.CharField(verbose_name=_("reason"), max_length=20, choices=Reason.choices, blank=True)
    # The place within the event's queue for this priority: 1, 2, 3... in the order arrivals
    # committed (see QueueCounter). Waiting-room arrivals swap their numbers for a random order
    # when the sale opens (services.places.place_waiting_room).
    seq = models.BigIntegerField(verbose_name=_("seq"))
    # A waiting-room arrival's random draw, cleared once its place is given.
    draw = models.BigIntegerField(verbose_name=_("draw"), null=True, blank=True)
    # Left the queue before the drain reached its place: cancelled while queued, or put on the
    # waiting list on arrival. Places ahead of a request subtract these (selectors.requests_ahead).
    skipped = models.BooleanField(verbose_name=_("skipped"), default=False)
    idempotency_key = models.CharField(
        verbose_name=_("idempotency key"), max_length=100, null=True, blank=True
    )
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    processed_at = models.DateTimeField(verbose_name=_("processed at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The next batch in queue order, and the number of requests ahead of one.
            models.Index(
                "event",
                models.F("priority").desc(),
                "seq",
                name="ticketrequest_queue_order",
                condition=Q(status="queued"),
            ),
            # Requests that left ahead of a place out of turn (few: most leave by being served).
            models.Index(
                fields=["event", "priority", "seq"],
                name="ticketrequest_skipped",
                condition=Q(skipped=True),
            ),
            # A ticket type's waiting list, in queue order.
            models.Index(
                fields=["ticket_type", "seq"],
                name="ticketrequest_waiting",
                condition=Q(status="waiting"),
            ),
            # Waiting-room arrivals still to be placed.
            models.Index(
                fields=["event"],
                name="ticketrequest_unplaced",
                condition=Q(status="queued", draw__isnull=False),
            ),
            # The measured drain rate (requests served in the last minute).
            models.Index(fields=["event", "processed_at"], name="ticketrequest_processed"),
            models.Index(fields=["user", "event", "status"], name="ticketrequest_user_event"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="ticketrequest_idempotency_unique",
                violation_error_message=_("This request has already been made (same idempotency key)."),
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1),
                name="ticketrequest_quantity_positive",
                violation_error_message=_("A request must be for at least one ticket."),
            ),
            # Every place is held by one request: the counts behind queue positions rely on it.
            models.UniqueConstraint(
                fields=["event", "priority", "seq"],
                name="ticketrequest_place_unique",
                violation_error_message=_("Another request already holds this place in the queue."),
            ),
        ]
        verbose_name = _("ticket request")
        verbose_name_plural = _("ticket requests")

    # Not stored: set by services.enqueue_request on the request it has just queued, so the
    # answer can give its place without another read (selectors.arrival_position).
    ahead_on_arrival: int | None = None

    def __str__(self):
        return f"Request #{self.pk} ({self.quantity} × {self.ticket_type.name}, {self.status})"

    def get_absolute_url(self):
        return reverse("ticketing:request", args=[self.pk])


class QueueCounter(models.Model):
    """How many requests of one priority have joined an event's queue, and how many have left it.

    Every arrival takes the next number from `arrived` in the transaction that queues it, so the
    numbers have no gaps and follow commit order; the drain serves them in that order and adds
    to `decided`; a request that leaves before its turn (cancelled while queued, or put on the
    waiting list on arrival) adds to `skipped`. A request's place then comes from these totals
    without counting the queue (selectors.requests_ahead).
    """

    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="queue_counters"
    )
    priority = models.SmallIntegerField(verbose_name=_("priority"))
    arrived = models.BigIntegerField(verbose_name=_("arrived"), default=0)
    decided = models.BigIntegerField(verbose_name=_("decided"), default=0)
    skipped = models.BigIntegerField(verbose_name=_("skipped"), default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "priority"],
                name="queuecounter_event_priority",
                violation_error_message=_("This event already has a queue counter for that priority."),
            ),
            models.CheckConstraint(
                condition=Q(decided__gte=0, skipped__gte=0, arrived__gte=F("decided") + F("skipped")),
                name="queuecounter_no_more_left_than_arrived",
                violation_error_message=_("More requests cannot leave the queue than joined it."),
            ),
        ]
        verbose_name = _("queue counter")
        verbose_name_plural = _("queue counters")

    def __str__(self):
        return f"Queue counter {self.event_id}/{self.priority}"


class TicketTypeCounter(models.Model):
    """Running totals of one ticket type, kept by the ledger in the transactions that change them.

    Every count a page, the API, the dashboard, the admin or the CLI shows is read from here (and
    TicketType.sold), never by counting rows, so reading them costs the same however long the
    queue. A type without a row yet has counted nothing.
    """

    ticket_type = models.OneToOneField(
        TicketType,
        verbose_name=_("ticket type"),
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="counter",
    )
    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="+")
    # Requests, by status.
    queued = models.BigIntegerField(verbose_name=_("queued"), default=0)
    waiting = models.BigIntegerField(verbose_name=_("waiting"), default=0)
    # Tickets.
    checked_in = models.BigIntegerField(verbose_name=_("checked in"), default=0)
    cancelled = models.BigIntegerField(verbose_name=_("cancelled"), default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(queued__gte=0, waiting__gte=0, checked_in__gte=0, cancelled__gte=0),
                name="tickettypecounter_not_negative",
                violation_error_message=_("A ticket type's counts cannot go below zero."),
            ),
        ]
        verbose_name = _("ticket type counter")
        verbose_name_plural = _("ticket type counters")

    def __str__(self):
        return f"Counters of ticket type {self.ticket_type_id}"


class Order(models.Model):
    """The tickets a fulfilled request bought; one per fulfilled request."""

    class Status(models.TextChoices):
        # A payment step would add PENDING (holding its tickets until paid or expired) before
        # CONFIRMED; the ledger's moves between the others would not change.
        CONFIRMED = "confirmed", _("Confirmed")
        PARTLY_CANCELLED = "partly_cancelled", _("Partly cancelled")
        CANCELLED = "cancelled", _("Cancelled")

    # PROTECT: an order is money and admissions; it is cancelled, never deleted.
    request = models.OneToOneField(
        TicketRequest, verbose_name=_("request"), on_delete=models.PROTECT, related_name="order"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.PROTECT, related_name="orders"
    )
    event = models.ForeignKey(Event, verbose_name=_("event"), on_delete=models.PROTECT, related_name="orders")
    ticket_type = models.ForeignKey(
        TicketType, verbose_name=_("ticket type"), on_delete=models.PROTECT, related_name="orders"
    )
    status = models.CharField(
        verbose_name=_("status"), max_length=20, choices=Status.choices, default=Status.CONFIRMED
    )
    quantity = models.PositiveSmallIntegerField(verbose_name=_("quantity"))
    # Tickets of the order not cancelled: what the buyer still holds, for the per-buyer limit.
    active = models.PositiveSmallIntegerField(verbose_name=_("active"))
    unit_price = models.DecimalField(verbose_name=_("unit price"), max_digits=10, decimal_places=2)
    total = models.DecimalField(verbose_name=_("total"), max_digits=12, decimal_places=2)
    # Money given back, recorded for the books (it is moved outside EventTix).
    refunded = models.DecimalField(verbose_name=_("refunded"), max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    cancelled_at = models.DateTimeField(verbose_name=_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        permissions = [("cancel_order", "Can cancel orders, cancel tickets and record refunds")]
        indexes = [models.Index(fields=["user", "event"], name="order_user_event")]
        constraints = [
            models.CheckConstraint(
                condition=Q(active__lte=F("quantity")),
                name="order_active_within_quantity",
                violation_error_message=_("An order cannot hold more tickets than it bought."),
            ),
            models.CheckConstraint(
                condition=Q(refunded__gte=0, refunded__lte=F("total")),
                name="order_refund_within_total",
                violation_error_message=_("A refund cannot be negative or more than the order's total."),
            ),
        ]
        verbose_name = _("order")
        verbose_name_plural = _("orders")

    def __str__(self):
        return f"Order #{self.pk}"

    def get_absolute_url(self):
        return reverse("ticketing:order", args=[self.pk])


def new_qr_token() -> str:
    return secrets.token_urlsafe(24)


class Ticket(models.Model):
    """One admission; its unguessable QR token is what the door scans."""

    class Status(models.TextChoices):
        VALID = "valid", _("Valid")
        CHECKED_IN = "checked_in", _("Checked in")
        CANCELLED = "cancelled", _("Cancelled")

    HELD = (Status.VALID, Status.CHECKED_IN)

    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.PROTECT, related_name="tickets"
    )
    ticket_type = models.ForeignKey(
        TicketType, verbose_name=_("ticket type"), on_delete=models.PROTECT, related_name="tickets"
    )
    qr_token = models.CharField(
        verbose_name=_("qr token"), max_length=64, unique=True, default=new_qr_token, editable=False
    )
    # Part of the signed code (services.signing); a re-issue raises it, so older codes stop working.
    # db_default: the drain inserts tickets with its own statement (ledger._insert_tickets).
    version = models.PositiveIntegerField(verbose_name=_("version"), default=1, db_default=1, editable=False)
    status = models.CharField(
        verbose_name=_("status"), max_length=12, choices=Status.choices, default=Status.VALID
    )
    cancelled_at = models.DateTimeField(verbose_name=_("cancelled at"), null=True, blank=True)
    checked_in_at = models.DateTimeField(verbose_name=_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("checked in by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["id"]
        permissions = [
            ("check_in_ticket", "Can check in tickets at the door"),
            ("fix_check_ins", "Can undo check-ins and check guests in by name"),
        ]
        indexes = [models.Index(fields=["ticket_type", "checked_in_at"], name="ticket_checkins")]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")

    def __str__(self):
        return f"Ticket #{self.pk}"

    def get_absolute_url(self):
        return reverse("ticketing:ticket", args=[self.qr_token])


def _audit_reference(model, *, verbose_name):
    return models.ForeignKey(
        model,
        verbose_name=verbose_name,
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )


class AuditEntry(models.Model):
    """An append-only record of one state change; the CSV transaction log is written from these."""

    class Kind(models.TextChoices):
        # A request's moves: the kind is the status it moved to.
        QUEUED = "queued", _("Queued")
        WAITING = "waiting", _("Joined the waiting list")
        FULFILLED = "fulfilled", _("Fulfilled")
        REJECTED = "rejected", _("Rejected")
        CANCELLED = "cancelled", _("Request cancelled")
        # Tickets, orders and events.
        CHECKED_IN = "checked_in", _("Checked in")
        CHECK_IN_UNDONE = "check_in_undone", _("Check-in undone")
        ADMITTED_TWICE = "admitted_twice", _("Admitted twice (offline)")
        EXITED = "exited", _("Let out (re-entry allowed)")
        TICKET_CANCELLED = "ticket_cancelled", _("Ticket cancelled")
        ORDER_PARTLY_CANCELLED = "order_partly_cancelled", _("Order partly cancelled")
        ORDER_CANCELLED = "order_cancelled", _("Order cancelled")
        REFUNDED = "refunded", _("Refund recorded")
        CAPACITY_CHANGED = "capacity_changed", _("Capacity changed")
        EVENT_CANCELLED = "event_cancelled", _("Event cancelled")
        TICKET_REISSUED = "ticket_reissued", _("Ticket re-issued")
        KEY_ROTATED = "key_rotated", _("Signing key rotated")

    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True, db_index=True)
    kind = models.CharField(verbose_name=_("kind"), max_length=30, choices=Kind.choices)
    # The entry names what it is about by id, and keeps the id after that row is deleted: no
    # database constraint ties it to the row, and no index either: every request writes two
    # entries, and their foreign key checks and six indexes cost the on-sale about a fifth of
    # its database throughput (BENCHMARKS.md).
    event = _audit_reference(Event, verbose_name=_("event"))
    ticket_type = _audit_reference(TicketType, verbose_name=_("ticket type"))
    request = _audit_reference(TicketRequest, verbose_name=_("request"))
    order = _audit_reference(Order, verbose_name=_("order"))
    ticket = _audit_reference(Ticket, verbose_name=_("ticket"))
    # The buyer the change concerns (door staff, for a check-in).
    user = _audit_reference(settings.AUTH_USER_MODEL, verbose_name=_("user"))
    # Staff who made the change, when it was not the buyer or the drain.
    actor = _audit_reference(settings.AUTH_USER_MODEL, verbose_name=_("actor"))
    # Tickets or requests moved; for capacity_changed, the new capacity.
    quantity = models.IntegerField(verbose_name=_("quantity"), default=0)
    # Money: a refund's amount, or an order's total when it is fulfilled or cancelled.
    amount = models.DecimalField(
        verbose_name=_("amount"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    reason = models.CharField(verbose_name=_("reason"), max_length=200, blank=True)
    # Set once the row is in the CSV log; see services.csvlog.
    csv_logged = models.BooleanField(verbose_name=_("csv logged"), default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["id"], name="auditentry_csv_pending", condition=Q(csv_logged=False)),
        ]
        verbose_name_plural = _("audit entries")
        verbose_name = _("audit entry")

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


class OutboxEmail(models.Model):
    """An email owed to a buyer, recorded in the transaction of the change that owes it.

    The cluster sends it at least once (services.notifications): a row is claimed for a while,
    sent, and marked sent only after the mail backend accepted it; a worker killed in between
    leaves the claim to expire, and the row is sent again.
    """

    class Kind(models.TextChoices):
        ORDER_CONFIRMED = "order_confirmed", _("Order confirmation")
        WAITING_LIST_SERVED = "waiting_list_served", _("Tickets from the waiting list")
        ORDER_CANCELLED = "order_cancelled", _("Order cancellation")
        EVENT_CANCELLED = "event_cancelled", _("Event cancellation")

    kind = models.CharField(verbose_name=_("kind"), max_length=30, choices=Kind.choices)
    user = _audit_reference(settings.AUTH_USER_MODEL, verbose_name=_("user"))
    event = _audit_reference(Event, verbose_name=_("event"))
    order = _audit_reference(Order, verbose_name=_("order"))
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    claimed_until = models.DateTimeField(verbose_name=_("claimed until"), null=True, blank=True)
    claim = models.CharField(verbose_name=_("claim"), max_length=32, blank=True)
    attempts = models.PositiveSmallIntegerField(verbose_name=_("attempts"), default=0)
    sent_at = models.DateTimeField(verbose_name=_("sent at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], name="outboxemail_unsent", condition=Q(sent_at__isnull=True))]
        verbose_name = _("outbox email")
        verbose_name_plural = _("outbox emails")

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"


from ticketing.models.door import CheckIn, CheckInList, EventKey  # noqa: E402  (after Ticket, which they name)

__all__ = [
    "AuditEntry",
    "CheckIn",
    "CheckInList",
    "EventKey",
    "Order",
    "OutboxEmail",
    "QueueCounter",
    "Ticket",
    "TicketRequest",
    "TicketTypeCounter",
    "new_qr_token",
]
