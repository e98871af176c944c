import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse

from events.models import Event, TicketType


class TicketRequest(models.Model):
    """A buyer's place in an event's queue: the durable queue entry, served all or nothing."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        FULFILLED = "fulfilled", "Fulfilled"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"

    class Reason(models.TextChoices):
        SOLD_OUT = "sold_out", "Sold out"
        SALE_CLOSED = "sale_closed", "The sale has closed"
        LIMIT_EXCEEDED = "limit_exceeded", "Over the per-buyer limit"

    # Neither foreign key needs an index of its own: ticketrequest_user_event leads with the
    # user, and the unique place constraint with the event. Every arrival writes each index.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ticket_requests", db_index=False
    )
    # Copied from the ticket type so that the queue's order and counts come from one index.
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="ticket_requests", db_index=False)
    ticket_type = models.ForeignKey(TicketType, on_delete=models.CASCADE, related_name="ticket_requests")
    priority = models.SmallIntegerField()
    quantity = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    reason = models.CharField(max_length=20, choices=Reason.choices, blank=True)
    # The place within the event's queue for this priority: 1, 2, 3... in the order arrivals
    # committed (see QueueCounter). Waiting-room arrivals swap their numbers for a random order
    # when the sale opens (services.places.place_waiting_room).
    seq = models.BigIntegerField()
    # A waiting-room arrival's random draw, cleared once its place is given.
    draw = models.BigIntegerField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=100, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

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
            # Cancelled requests ahead of a place (few: most requests leave by being served).
            models.Index(
                fields=["event", "priority", "seq"],
                name="ticketrequest_cancelled",
                condition=Q(status="cancelled"),
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
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="ticketrequest_quantity_positive"),
            # Every place is held by one request: the counts behind queue positions rely on it.
            models.UniqueConstraint(fields=["event", "priority", "seq"], name="ticketrequest_place_unique"),
        ]

    # Not stored: set by services.enqueue_request on the request it has just queued, so the
    # answer can give its place without another read (selectors.arrival_position).
    ahead_on_arrival: int | None = None

    def __str__(self):
        return f"Request #{self.pk} ({self.quantity} × {self.ticket_type.name}, {self.status})"

    def get_absolute_url(self):
        return reverse("ticketing:request", args=[self.pk])

    @property
    def is_queued(self) -> bool:
        return self.status == self.Status.QUEUED


class QueueCounter(models.Model):
    """How many requests of one priority have joined an event's queue, and how many have left it.

    Every arrival takes the next number from `arrived` in the transaction that queues it, so the
    numbers have no gaps and follow commit order; the drain serves them in that order and adds
    to `decided`, and a cancellation adds to `cancelled`. A request's place then comes from
    these totals without counting the queue (selectors.requests_ahead).
    """

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="queue_counters")
    priority = models.SmallIntegerField()
    arrived = models.BigIntegerField(default=0)
    decided = models.BigIntegerField(default=0)
    cancelled = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "priority"], name="queuecounter_event_priority"),
            models.CheckConstraint(
                condition=Q(decided__gte=0, cancelled__gte=0, arrived__gte=F("decided") + F("cancelled")),
                name="queuecounter_no_more_left_than_arrived",
            ),
        ]

    def __str__(self):
        return f"Queue counter {self.event_id}/{self.priority}"


class Order(models.Model):
    """The tickets a fulfilled request bought; one per fulfilled request."""

    request = models.OneToOneField(TicketRequest, on_delete=models.CASCADE, related_name="order")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="orders")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="orders")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.CASCADE, related_name="orders")
    quantity = models.PositiveSmallIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)
    total = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["user", "event"], name="order_user_event")]

    def __str__(self):
        return f"Order #{self.pk}"

    def get_absolute_url(self):
        return reverse("ticketing:order", args=[self.pk])


def new_qr_token() -> str:
    return secrets.token_urlsafe(24)


class Ticket(models.Model):
    """One admission; its unguessable QR token is what the door scans."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="tickets")
    ticket_type = models.ForeignKey(TicketType, on_delete=models.CASCADE, related_name="tickets")
    qr_token = models.CharField(max_length=64, unique=True, default=new_qr_token, editable=False)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["id"]
        permissions = [("check_in_ticket", "Can check in tickets at the door")]
        indexes = [models.Index(fields=["ticket_type", "checked_in_at"], name="ticket_checkins")]

    def __str__(self):
        return f"Ticket #{self.pk}"

    def get_absolute_url(self):
        return reverse("ticketing:ticket", args=[self.qr_token])

    @property
    def status(self) -> str:
        return "checked_in" if self.checked_in_at else "valid"


def _audit_reference(model):
    return models.ForeignKey(
        model,
        on_delete=models.DO_NOTHING,
        null=True,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )


class AuditEntry(models.Model):
    """An append-only record of one state change; the CSV transaction log is written from these."""

    class Kind(models.TextChoices):
        QUEUED = "queued", "Queued"
        FULFILLED = "fulfilled", "Fulfilled"
        REJECTED = "rejected", "Rejected"
        CANCELLED = "cancelled", "Cancelled"
        CHECKED_IN = "checked_in", "Checked in"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The entry names what it is about by id, and keeps the id after that row is deleted: no
    # database constraint ties it to the row, and no index either: every request writes two
    # entries, and their foreign key checks and six indexes cost the on-sale about a fifth of
    # its database throughput (BENCHMARKS.md).
    event = _audit_reference(Event)
    ticket_type = _audit_reference(TicketType)
    request = _audit_reference(TicketRequest)
    order = _audit_reference(Order)
    ticket = _audit_reference(Ticket)
    user = _audit_reference(settings.AUTH_USER_MODEL)
    quantity = models.PositiveSmallIntegerField(default=0)
    reason = models.CharField(max_length=40, blank=True)
    # Set once the row is in the CSV log; see services.csvlog.
    csv_logged = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["id"], name="auditentry_csv_pending", condition=Q(csv_logged=False)),
        ]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"
