"""The door: check-in lists, the scans recorded on them, and the keys that sign tickets."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CheckInList(models.Model):
    """Where tickets are checked in: each ticket is valid once per list (or again after an exit
    where re-entry is allowed). Every event has a default list; staff add more, for example per
    gate or per day, limited to some ticket types or to some door staff."""

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="check_in_lists"
    )
    name = models.CharField(verbose_name=_("name"), max_length=100)
    # None chosen: every ticket type of the event.
    ticket_types = models.ManyToManyField(
        "events.TicketType", verbose_name=_("ticket types"), blank=True, related_name="+"
    )
    allow_reentry = models.BooleanField(
        verbose_name=_("allow reentry"),
        default=False,
        help_text=_("An exit scan lets the ticket in again on this list."),
    )
    # None chosen: every member of door staff.
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff"),
        blank=True,
        related_name="+",
        help_text=_("Door staff who may scan on this list; leave empty for all door staff."),
    )
    is_default = models.BooleanField(verbose_name=_("is default"), default=False, editable=False)

    class Meta:
        ordering = ["event_id", "-is_default", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "name"],
                name="checkinlist_unique_name",
                violation_error_message=_("This event already has a check-in list with that name."),
            ),
            models.UniqueConstraint(
                fields=["event"],
                condition=Q(is_default=True),
                name="checkinlist_one_default",
                violation_error_message=_("This event already has a default check-in list."),
            ),
        ]
        verbose_name = _("check in list")
        verbose_name_plural = _("check in lists")

    def __str__(self):
        return f"{self.name} ({self.event.name})"


class CheckIn(models.Model):
    """One scan that admitted a ticket on a list, or let it out; kept when undone."""

    class Kind(models.TextChoices):
        ENTRY = "entry", _("Entry")
        EXIT = "exit", _("Exit")

    check_in_list = models.ForeignKey(
        CheckInList, verbose_name=_("check in list"), on_delete=models.PROTECT, related_name="check_ins"
    )
    ticket = models.ForeignKey(
        "ticketing.Ticket", verbose_name=_("ticket"), on_delete=models.PROTECT, related_name="check_ins"
    )
    kind = models.CharField(verbose_name=_("kind"), max_length=5, choices=Kind.choices, default=Kind.ENTRY)
    # An entry that keeps the ticket from entering again on its list: until it is undone, or
    # (where re-entry is allowed) until an exit. The unique constraint below is what makes one of
    # many simultaneous scans the admission.
    active = models.BooleanField(verbose_name=_("active"), default=False)
    # When the scan happened (an offline scan: the device's clock), and when the server heard of it.
    scanned_at = models.DateTimeField(verbose_name=_("scanned at"))
    recorded_at = models.DateTimeField(verbose_name=_("recorded at"), auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # An offline upload's client nonce: the same scan uploaded twice is recorded once.
    nonce = models.CharField(verbose_name=_("nonce"), max_length=64, null=True, blank=True, unique=True)
    device = models.CharField(verbose_name=_("device"), max_length=100, blank=True)
    offline = models.BooleanField(verbose_name=_("offline"), default=False)
    # An offline entry uploaded after another device had already admitted the ticket on this
    # list: recorded (the guest is in), never active, and pointing at the entry that came first.
    duplicate_of = models.ForeignKey(
        "self",
        verbose_name=_("duplicate of"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="duplicates",
    )
    undone_at = models.DateTimeField(verbose_name=_("undone at"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("undone by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["check_in_list", "ticket"],
                condition=Q(active=True),
                name="checkin_once_per_list",
                violation_error_message=_("This ticket is already checked in on this list."),
            ),
        ]
        indexes = [models.Index(fields=["check_in_list", "active"], name="checkin_list_active")]
        verbose_name = _("check in")
        verbose_name_plural = _("check ins")

    def __str__(self):
        return f"{self.get_kind_display()} of ticket #{self.ticket_id}"


class EventKey(models.Model):
    """An event's Ed25519 key pair, which signs its tickets' QR codes (services.signing).

    The private key never leaves the server: no page, API answer or admin form shows it. A rotated
    key is kept, retired, so the audit log can name it; it verifies nothing any more.
    """

    event = models.ForeignKey(
        "events.Event", verbose_name=_("event"), on_delete=models.CASCADE, related_name="+"
    )
    # Raw 32-byte keys, as cryptography's private_bytes_raw() and public_bytes_raw() give them.
    private_key = models.BinaryField(verbose_name=_("private key"), editable=False)
    public_key = models.BinaryField(verbose_name=_("public key"), editable=False)
    created_at = models.DateTimeField(verbose_name=_("created at"), auto_now_add=True)
    retired_at = models.DateTimeField(verbose_name=_("retired at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event"],
                condition=Q(retired_at__isnull=True),
                name="eventkey_one_active",
                violation_error_message=_("This event already has an active signing key."),
            ),
        ]
        verbose_name = _("event key")
        verbose_name_plural = _("event keys")

    def __str__(self):
        return f"Signing key #{self.pk} of event {self.event_id}"
