"""The door: check-in lists, the scans recorded on them, and the keys that sign tickets."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class CheckInList(models.Model):
    """Where tickets are checked in: each ticket is valid once per list (or again after an exit
    where re-entry is allowed). Every event has a default list; staff add more, for example per
    gate or per day, limited to some ticket types or to some door staff."""

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="check_in_lists")
    name = models.CharField(max_length=100)
    # None chosen: every ticket type of the event.
    ticket_types = models.ManyToManyField("events.TicketType", blank=True, related_name="+")
    allow_reentry = models.BooleanField(
        default=False, help_text="An exit scan lets the ticket in again on this list."
    )
    # None chosen: every member of door staff.
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        blank=True,
        related_name="+",
        help_text="Door staff who may scan on this list; leave empty for all door staff.",
    )
    is_default = models.BooleanField(default=False, editable=False)

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

    def __str__(self):
        return f"{self.name} ({self.event.name})"


class CheckIn(models.Model):
    """One scan that admitted a ticket on a list, or let it out; kept when undone."""

    class Kind(models.TextChoices):
        ENTRY = "entry", "Entry"
        EXIT = "exit", "Exit"

    check_in_list = models.ForeignKey(CheckInList, on_delete=models.PROTECT, related_name="check_ins")
    ticket = models.ForeignKey("ticketing.Ticket", on_delete=models.PROTECT, related_name="check_ins")
    kind = models.CharField(max_length=5, choices=Kind.choices, default=Kind.ENTRY)
    # An entry that keeps the ticket from entering again on its list: until it is undone, or
    # (where re-entry is allowed) until an exit. The unique constraint below is what makes one of
    # many simultaneous scans the admission.
    active = models.BooleanField(default=False)
    # When the scan happened (an offline scan: the device's clock), and when the server heard of it.
    scanned_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    # An offline upload's client nonce: the same scan uploaded twice is recorded once.
    nonce = models.CharField(max_length=64, null=True, blank=True, unique=True)
    device = models.CharField(max_length=100, blank=True)
    offline = models.BooleanField(default=False)
    # An offline entry uploaded after another device had already admitted the ticket on this
    # list: recorded (the guest is in), never active, and pointing at the entry that came first.
    duplicate_of = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="duplicates"
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
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

    def __str__(self):
        return f"{self.get_kind_display()} of ticket #{self.ticket_id}"


class EventKey(models.Model):
    """An event's Ed25519 key pair, which signs its tickets' QR codes (services.signing).

    The private key never leaves the server: no page, API answer or admin form shows it. A rotated
    key is kept, retired, so the audit log can name it; it verifies nothing any more.
    """

    event = models.ForeignKey("events.Event", on_delete=models.CASCADE, related_name="+")
    # Raw 32-byte keys, as cryptography's private_bytes_raw() and public_bytes_raw() give them.
    private_key = models.BinaryField(editable=False)
    public_key = models.BinaryField(editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

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

    def __str__(self):
        return f"Signing key #{self.pk} of event {self.event_id}"
