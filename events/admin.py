from django.contrib import admin
from django.db.models import Count, F, Q

from events.models import Event, TicketType


class TicketTypeInline(admin.TabularInline):
    model = TicketType
    extra = 0
    fields = ["name", "price", "capacity", "sold", "priority", "max_per_request"]
    readonly_fields = ["sold"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["name", "venue", "starts_at", "sale_opens_at", "sale_closes_at", "max_tickets_per_user"]
    list_filter = ["starts_at", "sale_opens_at"]
    search_fields = ["name", "venue", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    date_hierarchy = "starts_at"
    inlines = [TicketTypeInline]


@admin.register(TicketType)
class TicketTypeAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "event",
        "price",
        "priority",
        "capacity",
        "sold",
        "remaining_display",
        "queued_display",
    ]
    list_filter = ["event"]
    search_fields = ["name", "event__name"]
    list_select_related = ["event"]
    readonly_fields = ["sold"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                queued=Count("ticket_requests", filter=Q(ticket_requests__status="queued")),
                remaining_n=F("capacity") - F("sold"),
            )
        )

    @admin.display(description="remaining", ordering="remaining_n")
    def remaining_display(self, obj):
        return obj.remaining_n

    @admin.display(description="queued requests", ordering="queued")
    def queued_display(self, obj):
        return obj.queued
