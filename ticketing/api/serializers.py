"""The API's input shapes (checked here, judged by the services) and output shapes."""

import copy

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events.models import Event, SaleState, TicketType
from ticketing.models import Order, Ticket, TicketRequest

# Ids beyond a 64-bit integer cannot exist; refusing them here keeps them out of SQL.
MAX_ID = 2**63 - 1


def id_field(**kwargs) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


TICKET_STATUSES = ["valid", "checked_in"]


# Inputs


class AvailabilityQuery(serializers.Serializer):
    event_id = id_field()


class TicketRequestIn(serializers.Serializer):
    ticket_type_id = id_field()
    # Only the shape is checked here: the allowed range depends on the ticket type, so the
    # enqueue service judges it and says why.
    quantity = serializers.IntegerField(min_value=-(2**31), max_value=2**31 - 1)


class IdempotencyKeyHeader(serializers.Serializer):
    idempotency_key = serializers.CharField(
        max_length=TicketRequest._meta.get_field("idempotency_key").max_length,
        required=False,
        allow_blank=True,
    )


class QueuePositionQuery(serializers.Serializer):
    request_id = id_field()


# Outputs


class TicketTypeOut(serializers.ModelSerializer):
    remaining = serializers.IntegerField(read_only=True)

    class Meta:
        model = TicketType
        fields = ["id", "name", "price", "capacity", "sold", "remaining", "priority", "max_per_request"]


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
            "max_tickets_per_user",
            "sale_state",
            "ticket_types",
        ]


class TicketTypeAvailabilityOut(serializers.ModelSerializer):
    remaining = serializers.IntegerField(read_only=True)
    queued = serializers.IntegerField(read_only=True, help_text="Requests waiting in the queue.")

    class Meta:
        model = TicketType
        fields = ["id", "name", "capacity", "sold", "remaining", "queued"]


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
    created_at = serializers.DateTimeField(read_only=True)
    processed_at = serializers.DateTimeField(read_only=True, allow_null=True)
    order_id = serializers.IntegerField(
        source="order.pk", read_only=True, allow_null=True, help_text="Set once fulfilled."
    )

    def get_fields(self):
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class TicketRequestCreatedOut(TicketRequestOut):
    # From the position already read for the answer, not a second query for the order.
    order_id = serializers.SerializerMethodField(help_text="Set once fulfilled.")
    position = serializers.SerializerMethodField(
        help_text="1-based place in the queue; null in the waiting room, where order is drawn at opening."
    )
    waiting_room = serializers.SerializerMethodField()

    def get_order_id(self, obj) -> int | None:
        return self.context["queue_position"].order_id

    def get_position(self, obj) -> int | None:
        return self.context["queue_position"].position

    def get_waiting_room(self, obj) -> bool:
        return self.context["queue_position"].waiting_room


class QueuePositionOut(serializers.Serializer):
    request_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=TicketRequest.Status.choices)
    position = serializers.IntegerField(allow_null=True, help_text="1-based; null once served.")
    ahead = serializers.IntegerField(allow_null=True, help_text="Requests served before this one.")
    eta_seconds = serializers.FloatField(
        allow_null=True, help_text="From the measured serving rate; null when there is none yet."
    )
    waiting_room = serializers.BooleanField(
        help_text="True before the sale opens: arrivals are shuffled at opening, so no place yet."
    )
    order_id = serializers.IntegerField(allow_null=True)


class NamedRefOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class TicketOut(serializers.ModelSerializer):
    status = serializers.ChoiceField(choices=TICKET_STATUSES, read_only=True)

    class Meta:
        model = Ticket
        fields = ["id", "qr_token", "status", "checked_in_at"]


class OrderOut(serializers.ModelSerializer):
    event = NamedRefOut()
    ticket_type = NamedRefOut()
    tickets = TicketOut(many=True)

    class Meta:
        model = Order
        fields = [
            "id",
            "request_id",
            "event",
            "ticket_type",
            "quantity",
            "unit_price",
            "total",
            "created_at",
            "tickets",
        ]


class EventRefOut(serializers.ModelSerializer):
    class Meta:
        model = Event
        fields = ["id", "name", "venue", "starts_at"]


class TicketVerifyOut(serializers.ModelSerializer):
    valid = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=TICKET_STATUSES, read_only=True)
    event = EventRefOut(source="ticket_type.event")
    ticket_type = NamedRefOut()

    class Meta:
        model = Ticket
        fields = ["valid", "id", "status", "event", "ticket_type", "checked_in_at"]

    def get_valid(self, obj) -> bool:
        return True


class TicketVerifyStaffOut(TicketVerifyOut):
    holder_name = serializers.CharField(
        source="order.user.name", required=False, help_text="Shown only to door staff."
    )

    class Meta(TicketVerifyOut.Meta):
        fields = [*TicketVerifyOut.Meta.fields, "holder_name"]


class TicketUnknownOut(serializers.Serializer):
    valid = serializers.BooleanField(default=False)
    detail = serializers.CharField()


class CheckInOut(TicketVerifyStaffOut):
    checked_in = serializers.SerializerMethodField()

    class Meta(TicketVerifyStaffOut.Meta):
        fields = ["checked_in", *TicketVerifyStaffOut.Meta.fields]

    @extend_schema_field(serializers.BooleanField())
    def get_checked_in(self, obj):
        return True
