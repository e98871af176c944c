from django.contrib import admin
from django.db.models import F
from django.db.models.functions import Coalesce
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from events import formatting
from events.models import Event, TicketType
from ticketing.admin.actions import CanCancel, cancel_events, rotate_signing_keys
from ticketing.admin.event_form import EventForm, event_zone
from ticketing.services import ledger


class CapacityAudited:
    """Records every saved capacity change in the audit log (and wakes the waiting list on a raise)."""

    def record_capacity(self, request, ticket_type, old):
        if old is not None and old != ticket_type.capacity:
            ledger.capacity_changed(ticket_type=ticket_type, old=old, actor_id=request.user.pk)


# Offered on a new event's form; a row left as it is is not saved (its form has not changed).
SUGGESTED_TICKET_TYPES = [
    {"name": _("VIP"), "priority": 10, "max_per_request": 2},
    {"name": _("Regular"), "priority": 0, "max_per_request": 4},
]


class TicketTypeInline(admin.TabularInline):
    model = TicketType
    extra = 0
    fields = ["name", "price", "capacity", "sold", "priority", "max_per_request"]
    readonly_fields = ["sold"]

    def get_extra(self, request, obj=None, **kwargs):
        return len(SUGGESTED_TICKET_TYPES) if obj is None else 0


def event_links(event_id) -> list[dict]:
    """The staff pages about one event, for its admin page: the dashboard and the attendee exports."""
    links = [{"label": _("Dashboard"), "url": reverse("ticketing:dashboard")}]
    for label, name in [
        (_("Attendees (CSV)"), "ticketing:attendees_csv"),
        (_("Attendees (Excel)"), "ticketing:attendees_xlsx"),
    ]:
        try:
            links.append({"label": label, "url": reverse(name, kwargs={"event_id": event_id})})
        except NoReverseMatch:
            pass  # the exports are not installed yet
    return links


@admin.register(Event)
class EventAdmin(CanCancel, CapacityAudited, admin.ModelAdmin):
    form = EventForm
    list_display = ["name", "venue", "starts_at", "sale_opens_at", "sale_closes_at", "cancelled_at"]
    actions = [cancel_events, rotate_signing_keys]
    list_filter = ["starts_at", "sale_opens_at"]
    search_fields = ["name", "venue", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "starts_at"
    readonly_fields = ["cancelled_at", "created_at"]
    inlines = [TicketTypeInline]
    # Every Event field is named here: a field left out would silently vanish from the form.
    fieldsets = [
        (None, {"fields": ["name", "slug", "description", "venue", "starts_at"]}),
        (
            _("Sale window"),
            {
                "fields": ["sale_opens_at", "sale_closes_at", "max_tickets_per_user"],
                "description": _(
                    "Buyers can ask for tickets from when the sale opens until it closes. Leave "
                    "“closes” empty to keep the sale open until you cancel or close it."
                ),
            },
        ),
        (
            _("Waiting room"),
            {
                "fields": ["waiting_room_opens_at"],
                "description": _(
                    "Optional. There is a waiting room only when this time is set: from then until "
                    "the sale opens, requests wait and are shuffled fairly at opening. Leave it "
                    "empty for no waiting room."
                ),
            },
        ),
        (
            _("Time zone and currency"),
            {
                "fields": ["time_zone", "currency"],
                "description": _(
                    "The times on this form are in the event's time zone: type them as the clock "
                    "at the venue shows them. Pages show them to buyers in that zone, and prices "
                    "in the event's currency."
                ),
            },
        ),
        (
            _("Cancellation"),
            {"fields": ["cancellation_deadline", "cancelled_at", "created_at"]},
        ),
    ]

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        # The form shows and reads its times in the event's zone (EventForm re-reads them in the
        # zone chosen on it); the list and every other page keep the server's.
        event = Event.objects.filter(pk=object_id).first() if object_id else None
        with timezone.override(event_zone(event)):
            response = super().changeform_view(request, object_id, form_url, extra_context)
            # Rendered here: a template response would otherwise render after the zone is left.
            return response.render() if hasattr(response, "render") else response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "event_links": event_links(object_id)}
        return super().change_view(request, object_id, form_url, extra_context)

    def get_formset_kwargs(self, request, obj, inline, prefix):
        kwargs = super().get_formset_kwargs(request, obj, inline, prefix)
        if isinstance(inline, TicketTypeInline) and obj.pk is None:
            # On the POST too: an untouched suggestion then counts as unchanged and is skipped.
            kwargs["initial"] = SUGGESTED_TICKET_TYPES
        return kwargs

    def save_formset(self, request, form, formset, change):
        # Read before the save: the admin's whole save is one transaction, so this is exact.
        old = (
            dict(TicketType.objects.filter(event_id=form.instance.pk).values_list("pk", "capacity"))
            if form.instance.pk
            else {}
        )
        super().save_formset(request, form, formset, change)
        if formset.model is TicketType:
            for ticket_type in formset.new_objects + [obj for obj, _ in formset.changed_objects]:
                self.record_capacity(request, ticket_type, old.get(ticket_type.pk))


@admin.register(TicketType)
class TicketTypeAdmin(CapacityAudited, admin.ModelAdmin):
    list_display = [
        "name",
        "event",
        "price_display",
        "priority",
        "capacity",
        "sold",
        "remaining_display",
        "queued_display",
        "waiting_display",
    ]
    list_filter = ["event"]
    search_fields = ["name", "event__name"]
    list_select_related = ["event", "counter"]
    readonly_fields = ["sold"]

    def get_queryset(self, request):
        # From the ledger's counters: the list costs the same however long the queue.
        return (
            super()
            .get_queryset(request)
            .annotate(
                queued=Coalesce(F("counter__queued"), 0),
                waiting=Coalesce(F("counter__waiting"), 0),
                remaining_n=F("capacity") - F("sold"),
            )
        )

    def save_model(self, request, obj, form, change):
        old = (
            TicketType.objects.filter(pk=obj.pk).values_list("capacity", flat=True).first()
            if change
            else None
        )
        super().save_model(request, obj, form, change)
        self.record_capacity(request, obj, old)

    @admin.display(description=_("price"), ordering="price")
    def price_display(self, obj):
        return formatting.money(obj.price, obj.event.currency)

    @admin.display(description=_("remaining"), ordering="remaining_n")
    def remaining_display(self, obj):
        return obj.remaining_n

    @admin.display(description=_("queued requests"), ordering="queued")
    def queued_display(self, obj):
        return obj.queued

    @admin.display(description=_("waiting list"), ordering="waiting")
    def waiting_display(self, obj):
        return obj.waiting
