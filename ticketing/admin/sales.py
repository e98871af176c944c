import csv

from django.contrib import admin
from django.db.models import F
from django.db.models.functions import Coalesce
from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy as _

from events import formatting
from ticketing.admin.actions import CanCancel, cancel_orders, cancel_tickets, reissue_tickets
from ticketing.exports import neutralised
from ticketing.models import AuditEntry, Order, Ticket, TicketRequest
from ticketing.services import csvlog


class ReadOnlyAdmin(admin.ModelAdmin):
    """Queue and audit records change only through the ticketing services (the actions call them)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(TicketRequest)
class TicketRequestAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "user",
        "event",
        "ticket_type",
        "quantity",
        "status",
        "reason",
        "created_at",
        "processed_at",
    ]
    list_filter = ["status", "reason", "event", "ticket_type"]
    search_fields = ["user__email", "user__name", "idempotency_key"]
    list_select_related = ["user", "event", "ticket_type"]
    date_hierarchy = "created_at"


class TicketInline(admin.TabularInline):
    model = Ticket
    extra = 0
    fields = ["qr_token", "status", "checked_in_at", "checked_in_by", "cancelled_at"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Order)
class OrderAdmin(CanCancel, ReadOnlyAdmin):
    list_display = [
        "id",
        "user",
        "event",
        "ticket_type",
        "status",
        "quantity",
        "active",
        "total_display",
        "refunded_display",
    ]
    list_filter = ["status", "event", "ticket_type"]
    actions = [cancel_orders]
    search_fields = ["user__email", "user__name", "id"]
    list_select_related = ["user", "event", "ticket_type"]
    inlines = [TicketInline]

    @admin.display(description=_("total"), ordering="total")
    def total_display(self, obj):
        return formatting.money(obj.total, obj.event.currency)

    @admin.display(description=_("refunded"), ordering="refunded")
    def refunded_display(self, obj):
        return formatting.money(obj.refunded, obj.event.currency)


@admin.register(Ticket)
class TicketAdmin(CanCancel, ReadOnlyAdmin):
    list_display = ["id", "ticket_type", "holder", "status", "version", "checked_in_at", "checked_in_by"]
    list_filter = ["status", "ticket_type__event", "ticket_type"]
    actions = [cancel_tickets, reissue_tickets]
    search_fields = ["qr_token", "order__user__email"]
    list_select_related = ["ticket_type__event", "order__user", "checked_in_by"]

    @admin.display(description=_("holder"), ordering="order__user__email")
    def holder(self, obj):
        return obj.order.user


class _Echo:
    def write(self, value):
        return value


# After the log's own columns, who and what each row is about, by name. The buyer is the
# order's, since a check-in's user is the door staff member.
EXPORT_EXTRA_COLUMNS = ["buyer_email", "buyer_name", "event_name", "currency"]
EXPORT_EXTRA_FIELDS = {
    "buyer_email": Coalesce("order__user__email", "user__email"),
    "buyer_name": Coalesce("order__user__name", "user__name"),
    "event_name": F("event__name"),
    # The currency of the log's amount column.
    "currency": F("event__currency"),
}


@admin.action(description=_("Export selected transactions as CSV"))
def export_csv(modeladmin, request, queryset):
    rows = (
        queryset.annotate(**{f"export_{k}": v for k, v in EXPORT_EXTRA_FIELDS.items()})
        .order_by("id")
        .values_list(*csvlog.LOG_FIELDS, *(f"export_{k}" for k in EXPORT_EXTRA_COLUMNS))
    )
    writer = csv.writer(_Echo())
    own = len(csvlog.LOG_FIELDS)

    def lines():
        yield writer.writerow(csvlog.COLUMNS + EXPORT_EXTRA_COLUMNS)
        for row in rows.iterator():
            extra = ["" if v is None else v for v in row[own:]]
            # Names and reasons are typed by people; a spreadsheet must not run them as formulas.
            yield writer.writerow([neutralised(v) for v in csvlog.format_row(row[:own]) + extra])

    response = StreamingHttpResponse(lines(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="transactions.csv"'
    return response


@admin.register(AuditEntry)
class TransactionAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "kind",
        "event",
        "ticket_type",
        "request_id",
        "user",
        "quantity",
        "reason",
        "csv_logged",
    ]
    list_filter = ["kind", "event", "csv_logged"]
    search_fields = ["user__email", "request__id"]
    list_select_related = ["event", "ticket_type", "user"]
    date_hierarchy = "created_at"
    actions = [export_csv]
