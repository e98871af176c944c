"""The API's input shapes (checked here, judged by the services) and output shapes."""

import base64

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events.models import Event, SaleState, TicketType
from ticketing.models import Order, Ticket, TicketRequest
from ticketing.services import fastpath, signing

# Ids beyond a 64-bit integer cannot exist; refusing them here keeps them out of SQL.
MAX_ID = 2**63 - 1


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


# Inputs


class AvailabilityQuery(serializers.Serializer):
    event_id = id_field()


class TicketRequestIn(serializers.Serializer):
    ticket_type_id = id_field()
    # Only the shape is checked here: the allowed range depends on the ticket type, so the
    # enqueue service judges it and says why.
    quantity = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1)
    wait_if_sold_out = serializers.BooleanField(
        default=False,
        help_text="When too few tickets are left, join the ticket type's waiting list (status `waiting`) "
        "instead of being refused; tickets that come back are served to it in queue order.",
    )

    def get_fields(self):
        # Flat fields copied shallowly per use, as TicketRequestOut's (on the hottest call).
        return fastpath.shallow_fields(self)


class OrderCancelIn(serializers.Serializer):
    ticket_ids = serializers.ListField(
        child=id_field(),
        required=False,
        allow_empty=False,
        max_length=100,
        help_text="The tickets to cancel; leave out to cancel every ticket of the order not yet used.",
    )


class IdempotencyKeyHeader(serializers.Serializer):
    idempotency_key = serializers.CharField(
        max_length=TicketRequest._meta.get_field("idempotency_key").max_length,
        required=False,
        allow_blank=True,
    )

    def get_fields(self):
        return fastpath.shallow_fields(self)


class QueuePositionQuery(serializers.Serializer):
    request_id = id_field()


# Outputs


def currency_field(source: str = "event.currency") -> serializers.CharField:
    return serializers.CharField(
        source=source, read_only=True, help_text="The ISO 4217 code of the amounts beside it (e.g. EUR)."
    )


class TicketTypeOut(serializers.ModelSerializer):
    remaining = serializers.IntegerField(read_only=True)
    currency = currency_field()

    class Meta:
        model = TicketType
        fields = [
            "id",
            "name",
            "price",
            "currency",
            "capacity",
            "sold",
            "remaining",
            "priority",
            "max_per_request",
        ]


class EventOut(serializers.ModelSerializer):
    sale_state = serializers.ChoiceField(
        choices=SaleState.choices,
        read_only=True,
        help_text="upcoming: not yet; waiting_room: requests are taken and shuffled at opening; "
        "open: served first come, first served; closed.",
    )
    ticket_types = TicketTypeOut(many=True, read_only=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "name",
            "slug",
            "description",
            "venue",
            "starts_at",
            "sale_opens_at",
            "sale_closes_at",
            "waiting_room_opens_at",
            "time_zone",
            "currency",
            "max_tickets_per_user",
            "sale_state",
            "ticket_types",
        ]


class TicketTypeAvailabilityOut(serializers.ModelSerializer):
    remaining = serializers.IntegerField(read_only=True)
    queued = serializers.IntegerField(read_only=True, help_text="Requests waiting in the queue.")
    waiting = serializers.IntegerField(
        read_only=True,
        help_text="Requests on the waiting list; while there are any, tickets that come back go to them.",
    )

    class Meta:
        model = TicketType
        fields = ["id", "name", "capacity", "sold", "remaining", "queued", "waiting"]


class AvailabilityOut(serializers.Serializer):
    event_id = serializers.IntegerField()
    sale_state = serializers.ChoiceField(choices=SaleState.choices)
    ticket_types = TicketTypeAvailabilityOut(many=True)


class TicketRequestOut(serializers.Serializer):
    # Declared rather than a ModelSerializer, which inspects the model each time it is built;
    # and each use copies its fields shallowly instead of DRF's deep copy (they are flat and
    # read-only, so bind() is the only state a use gives them). Together these were a tenth of
    # the CPU of answering a new request, the on-sale's hottest call.
    id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=TicketRequest.Status.choices, read_only=True)
    reason = serializers.ChoiceField(
        choices=TicketRequest.Reason.choices,
        allow_blank=True,
        read_only=True,
        help_text="Why it was rejected; empty otherwise.",
    )
    event_id = serializers.IntegerField(read_only=True)
    ticket_type_id = serializers.IntegerField(read_only=True)
    quantity = serializers.IntegerField(read_only=True)
    unit_price = serializers.DecimalField(
        max_digits=10, decimal_places=2, read_only=True, help_text="Per ticket, as when it was accepted."
    )
    currency = currency_field()
    wait_if_sold_out = serializers.BooleanField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    processed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    order_id = serializers.IntegerField(
        source="order.pk", read_only=True, allow_null=True, help_text="Set once fulfilled."
    )

    def get_fields(self):
        return fastpath.shallow_fields(self)


class TicketRequestCreatedOut(TicketRequestOut):
    # From the position already read for the answer, not a second query for the order.
    order_id = serializers.SerializerMethodField(help_text="Set once fulfilled.")
    position = serializers.SerializerMethodField(
        help_text="1-based place in the queue, or on the waiting list when `status` is `waiting`; "
        "null in the waiting room, where order is drawn at opening."
    )
    waiting_room = serializers.SerializerMethodField()
    poll_after_seconds = serializers.SerializerMethodField(
        help_text="Poll `/api/queue/position` after this many seconds; null once decided."
    )

    def get_poll_after_seconds(self, obj) -> float | None:
        return self.context["queue_position"].poll_after_seconds

    def get_order_id(self, obj) -> int | None:
        return self.context["queue_position"].order_id

    def get_position(self, obj) -> int | None:
        return self.context["queue_position"].position

    def get_waiting_room(self, obj) -> bool:
        return self.context["queue_position"].waiting_room


class QueuePositionOut(serializers.Serializer):
    request_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=TicketRequest.Status.choices)
    position = serializers.IntegerField(
        allow_null=True,
        help_text="1-based place in the queue, or on the waiting list when `status` is `waiting`; "
        "null once decided.",
    )
    ahead = serializers.IntegerField(allow_null=True, help_text="Requests served before this one.")
    eta_seconds = serializers.FloatField(
        allow_null=True, help_text="From the measured serving rate; null when there is none yet."
    )
    waiting_room = serializers.BooleanField(
        help_text="True before the sale opens: arrivals are shuffled at opening, so no place yet."
    )
    order_id = serializers.IntegerField(allow_null=True)
    waiting_list = serializers.BooleanField(help_text="True when the place is on the waiting list.")
    poll_after_seconds = serializers.FloatField(
        allow_null=True,
        help_text="Ask again after this many seconds (also sent as Retry-After); null once decided.",
    )


class NamedRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TicketOut(serializers.ModelSerializer):
    signed_token = serializers.SerializerMethodField(
        help_text="The code the ticket's QR code holds: signed, verifiable without the database."
    )

    class Meta:
        model = Ticket
        fields = ["id", "qr_token", "signed_token", "status", "checked_in_at", "cancelled_at"]

    def get_signed_token(self, ticket) -> str:
        return signing.signed_token(ticket)


class OrderOut(serializers.ModelSerializer):
    event = NamedRefOut()
    ticket_type = NamedRefOut()
    currency = currency_field()
    tickets = TicketOut(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "request_id",
            "event",
            "ticket_type",
            "status",
            "quantity",
            "active",
            "unit_price",
            "total",
            "refunded",
            "currency",
            "created_at",
            "cancelled_at",
            "tickets",
        ]
        extra_kwargs = {"active": {"help_text": "Tickets of the order not cancelled."}}


class EventRefOut(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "name", "venue", "starts_at"]


class TicketVerifyOut(serializers.ModelSerializer):
    valid = serializers.SerializerMethodField(help_text="False for a cancelled ticket.")
    event = EventRefOut(source="ticket_type.event")
    ticket_type = NamedRefOut()

    class Meta:
        model = Ticket
        # No internal id: a code's holder learns nothing they could use on other endpoints.
        fields = ["valid", "status", "event", "ticket_type", "checked_in_at"]

    def get_valid(self, obj) -> bool:
        return obj.status != Ticket.Status.CANCELLED


class TicketVerifyStaffOut(TicketVerifyOut):
    holder_name = serializers.CharField(
        source="order.user.name", required=False, help_text="Shown only to door staff."
    )

    class Meta(TicketVerifyOut.Meta):
        fields = [*TicketVerifyOut.Meta.fields, "holder_name"]


class TicketUnknownOut(serializers.Serializer):
    valid = serializers.BooleanField(default=False)
    detail = serializers.CharField()


class CheckInListQuery(serializers.Serializer):
    check_in_list = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="The check-in list (GET /api/check-in-lists); by default its event's default list.",
    )


class CheckInListRequired(serializers.Serializer):
    check_in_list = serializers.IntegerField(
        min_value=1, help_text="The check-in list (GET /api/check-in-lists)."
    )


class OfflineScanIn(serializers.Serializer):
    nonce = serializers.RegexField(
        r"^[A-Za-z0-9_-]{8,64}$",
        help_text="The device's id for this scan (8-64 of A-Z a-z 0-9 _ -): a retry is recorded once.",
    )
    code = serializers.CharField(max_length=200, help_text="The ticket's code as scanned.")
    scanned_at = serializers.DateTimeField(help_text="When the device admitted it (the device's clock).")


class OfflineUploadIn(serializers.Serializer):
    device = serializers.CharField(
        max_length=100, allow_blank=True, default="", help_text="A name for the phone."
    )
    scans = OfflineScanIn(many=True, allow_empty=False, max_length=500)


class OfflineVerdictOut(serializers.Serializer):
    nonce = serializers.CharField()
    verdict = serializers.CharField(
        help_text="`admitted`, `admitted_twice` (another scan admitted it first: `detail` says when and"
        " where), or the refusal's code (`ticket_cancelled`, `wrong_event`, `not_on_list`, `not_found`)."
    )
    detail = serializers.CharField()
    ticket_id = serializers.IntegerField(allow_null=True)


class OfflineUploadOut(serializers.Serializer):
    results = OfflineVerdictOut(many=True)


class OfflineTicketOut(serializers.Serializer):
    id = serializers.IntegerField()
    ticket_type_id = serializers.IntegerField()
    version = serializers.IntegerField(help_text="Its signed codes must carry this version.")
    code_hash = serializers.CharField(help_text="The first 16 bytes of the SHA-256 of its code, in hex.")
    status = serializers.ChoiceField(choices=Ticket.Status.choices)
    holder_name = serializers.CharField()
    inside = serializers.BooleanField(help_text="It has an active entry on this list.")


class OfflineListOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    event = EventRefOut()
    allow_reentry = serializers.BooleanField()


class OfflineDataOut(serializers.Serializer):
    check_in_list = OfflineListOut()
    public_key = serializers.SerializerMethodField(
        help_text="The event's Ed25519 public key, raw, base64url unpadded: signed codes verify with it."
    )
    generated_at = serializers.DateTimeField()
    ticket_types = NamedRefOut(many=True, help_text="The types it admits.")
    complete = serializers.BooleanField(help_text="False past the size limit: `tickets` is then empty.")
    ticket_count = serializers.IntegerField()
    tickets = OfflineTicketOut(many=True)

    def get_public_key(self, data) -> str:
        return base64.urlsafe_b64encode(data["public_key"]).decode().rstrip("=")


class DoorCountOut(serializers.Serializer):
    ticket_type = serializers.CharField()
    inside = serializers.IntegerField(
        help_text="Tickets with an entry on this list (inside, where re-entry is allowed)."
    )
    valid = serializers.IntegerField(help_text="Tickets of this type not cancelled.")


class CheckInListOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    event = EventRefOut()
    is_default = serializers.BooleanField()
    allow_reentry = serializers.BooleanField()
    counts = DoorCountOut(many=True)


class CheckInOut(TicketVerifyStaffOut):
    checked_in = serializers.SerializerMethodField()
    check_in_list = serializers.SerializerMethodField(help_text="The list it was admitted on.")

    class Meta(TicketVerifyStaffOut.Meta):
        fields = ["checked_in", "check_in_list", *TicketVerifyStaffOut.Meta.fields]

    @extend_schema_field(serializers.BooleanField())
    def get_checked_in(self, obj):
        return True

    @extend_schema_field(serializers.CharField())
    def get_check_in_list(self, obj) -> str:
        return obj.admission.check_in_list.name
