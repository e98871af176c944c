import zoneinfo

from babel.numbers import list_currencies
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


def default_time_zone() -> str:
    return settings.TIME_ZONE


def default_currency() -> str:
    return settings.CURRENCY


def time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


def currency_choices() -> list[tuple[str, str]]:
    return [(code, code) for code in sorted(list_currencies())]


class SaleState(models.TextChoices):
    """Where an event's sale stands at a moment; the one vocabulary of models, services and pages."""

    UPCOMING = "upcoming", _("Upcoming")
    WAITING_ROOM = "waiting_room", _("Waiting room")
    OPEN = "open", _("On sale")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Event cancelled")

    @property
    def takes_requests(self) -> bool:
        return self in (SaleState.WAITING_ROOM, SaleState.OPEN)

    @property
    def before_opening(self) -> bool:
        return self in (SaleState.UPCOMING, SaleState.WAITING_ROOM)


class Event(models.Model):
    """Something people buy tickets for, with a sale window and a per-buyer limit."""

    name = models.CharField(verbose_name=_("name"), max_length=200)
    slug = models.SlugField(verbose_name=_("slug"), max_length=200, unique=True)
    description = models.TextField(verbose_name=_("description"), blank=True)
    venue = models.CharField(verbose_name=_("venue"), max_length=200, blank=True)
    starts_at = models.DateTimeField(verbose_name=_("starts at"))
    sale_opens_at = models.DateTimeField(
        verbose_name=_("sale opens at"),
        help_text=_(
            "When tickets go on sale. Requests made in the waiting room before then are shuffled at opening."
        ),
    )
    sale_closes_at = models.DateTimeField(verbose_name=_("sale closes at"), null=True, blank=True)
    waiting_room_opens_at = models.DateTimeField(
        verbose_name=_("waiting room opens at"),
        null=True,
        blank=True,
        help_text=_("From when requests are taken before the sale opens; empty: only once it opens."),
    )
    time_zone = models.CharField(
        verbose_name=_("time zone"),
        max_length=64,
        default=default_time_zone,
        choices=time_zone_choices,
        help_text=_("Where the event happens: its dates and sale times are shown in this zone."),
    )
    currency = models.CharField(
        verbose_name=_("currency"),
        max_length=3,
        default=default_currency,
        choices=currency_choices,
        help_text=_("The currency of its prices (an ISO 4217 code such as EUR)."),
    )
    max_tickets_per_user = models.PositiveSmallIntegerField(
        verbose_name=_("max tickets per user"), default=10, validators=[MinValueValidator(1)]
    )
    cancellation_deadline = models.DateTimeField(
        verbose_name=_("cancellation deadline"),
        null=True,
        blank=True,
        help_text=_("Until when buyers may cancel their own tickets; empty: they cannot (staff always can)."),
    )
    # Set when staff cancel the event (ticketing's services do it, with every order and request).
    cancelled_at = models.DateTimeField(verbose_name=_("cancelled at"), null=True, blank=True, editable=False)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sale_closes_at__isnull=True) | Q(sale_closes_at__gt=F("sale_opens_at")),
                name="event_sale_closes_after_it_opens",
                violation_error_message=_("The sale must close after it opens."),
            ),
            models.CheckConstraint(
                condition=Q(max_tickets_per_user__gte=1),
                name="event_max_tickets_positive",
                violation_error_message=_("Each buyer must be allowed at least one ticket."),
            ),
        ]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("events:detail", args=[self.pk])

    def sale_state(self, now=None) -> SaleState:
        """The sale's state at the given moment (now by default)."""
        now = now or timezone.now()
        if self.cancelled_at:
            return SaleState.CANCELLED
        if now < self.sale_opens_at:
            if self.waiting_room_opens_at and now >= self.waiting_room_opens_at:
                return SaleState.WAITING_ROOM
            return SaleState.UPCOMING
        if self.sale_closes_at and now >= self.sale_closes_at:
            return SaleState.CLOSED
        return SaleState.OPEN


class TicketType(models.Model):
    """A kind of admission with its own price, capacity and place in the queue."""

    event = models.ForeignKey(
        Event, verbose_name=_("event"), on_delete=models.CASCADE, related_name="ticket_types"
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)
    price = models.DecimalField(
        verbose_name=_("price"), max_digits=10, decimal_places=2, validators=[MinValueValidator(0)]
    )
    capacity = models.PositiveIntegerField(verbose_name=_("capacity"))
    # Moved only by the drain's conditional UPDATE; never edited by hand.
    sold = models.PositiveIntegerField(verbose_name=_("sold"), default=0, editable=False)
    priority = models.SmallIntegerField(
        verbose_name=_("priority"), default=0, help_text=_("Higher is served first: VIP above Regular.")
    )
    max_per_request = models.PositiveSmallIntegerField(
        verbose_name=_("max per request"), default=4, validators=[MinValueValidator(1)]
    )

    class Meta:
        ordering = ["event", "-priority", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "name"],
                name="ticket_type_name_unique",
                violation_error_message=_("This event already has a ticket type with that name."),
            ),
            models.CheckConstraint(
                condition=Q(sold__gte=0),
                name="ticket_type_sold_not_negative",
                violation_error_message=_("The number sold cannot be below zero."),
            ),
            models.CheckConstraint(
                condition=Q(sold__lte=F("capacity")),
                name="ticket_type_not_oversold",
                violation_error_message=_("The capacity cannot be lower than the number already sold."),
            ),
            models.CheckConstraint(
                condition=Q(max_per_request__gte=1),
                name="ticket_type_max_per_request_positive",
                violation_error_message=_("A request must be allowed at least one ticket."),
            ),
            models.CheckConstraint(
                condition=Q(price__gte=0),
                name="ticket_type_price_not_negative",
                violation_error_message=_("The price cannot be negative."),
            ),
        ]
        verbose_name = _("ticket type")
        verbose_name_plural = _("ticket types")

    def __str__(self):
        return f"{self.event} – {self.name}"

    def save(self, *args, **kwargs):
        # `sold` moves only through the drain's conditional UPDATE; a save from a form
        # holding a stale copy must never write it back.
        if self.pk and not self._state.adding and kwargs.get("update_fields") is None:
            kwargs["update_fields"] = [
                f.name for f in self._meta.concrete_fields if not f.primary_key and f.name != "sold"
            ]
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        stored = TicketType.objects.filter(pk=self.pk).first() if self.pk else None
        if stored is None:
            return
        if self.capacity is not None and self.capacity < stored.sold:
            raise ValidationError(
                {
                    "capacity": _("%(sold)s are already sold; capacity cannot go below that.")
                    % {"sold": stored.sold}
                }
            )
        # The reverse accessors name ticketing's rows without importing that app.
        if self.event_id != stored.event_id and (stored.sold or stored.ticket_requests.exists()):
            raise ValidationError(
                {"event": _("This ticket type has requests or sales, so it cannot move to another event.")}
            )
        counter = getattr(stored, "counter", None)
        pending = counter.queued + counter.waiting if counter else 0
        if self.priority != stored.priority and pending:
            # Queue places are numbered per priority: a request cannot change lanes mid-queue.
            raise ValidationError(
                {
                    "priority": _(
                        "%(pending)s requests for this type are queued or on its waiting list; "
                        "change the priority once they have been served."
                    )
                    % {"pending": pending}
                }
            )

    @property
    def remaining(self) -> int:
        return self.capacity - self.sold
