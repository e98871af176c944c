"""The door in the admin: check-in lists, and the scans recorded on them (undone by an action)."""

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from ticketing import services
from ticketing.admin.actions import confirmed
from ticketing.admin.sales import ReadOnlyAdmin
from ticketing.models import CheckIn, CheckInList


class CheckInListForm(forms.ModelForm):
    class Meta:
        model = CheckInList
        fields = ["event", "name", "ticket_types", "allow_reentry", "staff"]

    def clean(self):
        data = super().clean()
        event = data.get("event") or getattr(self.instance, "event", None)
        others = [
            t.name for t in data.get("ticket_types", []) if event is not None and t.event_id != event.pk
        ]
        if others:
            self.add_error(
                "ticket_types",
                _("Not ticket types of %(event)s: %(types)s.")
                % {"event": event.name, "types": ", ".join(others)},
            )
        return data


@admin.register(CheckInList)
class CheckInListAdmin(admin.ModelAdmin):
    form = CheckInListForm
    list_display = ["name", "event", "is_default", "allow_reentry"]
    list_filter = ["event"]
    search_fields = ["name", "event__name"]
    list_select_related = ["event"]
    filter_horizontal = ["ticket_types", "staff"]
    readonly_fields = ["is_default"]

    def get_readonly_fields(self, request, obj=None):
        # A list's scans name its event: once it exists, the event stays.
        return [*self.readonly_fields, "event"] if obj is not None else self.readonly_fields

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (
            obj and (obj.is_default or obj.check_ins.exists())
        )


@admin.action(description=_("Undo selected check-ins…"), permissions=["fix"])
def undo_check_ins(modeladmin, request, queryset):
    entries = queryset.filter(kind=CheckIn.Kind.ENTRY, active=True).order_by("pk")
    return confirmed(
        modeladmin,
        request,
        entries,
        title=_("Undo check-ins"),
        confirm=_("Yes, undo check-ins"),
        consequence=_("Each ticket may be checked in again on its list. The undo is kept in the audit log."),
        reason_help=_("Kept in the audit log."),
        perform=lambda entry, reason: services.undo_check_in(
            ticket_id=entry.ticket_id,
            staff_user=request.user,
            check_in_list_id=entry.check_in_list_id,
            reason=reason,
        ),
    )


@admin.register(CheckIn)
class CheckInAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "ticket",
        "check_in_list",
        "kind",
        "active",
        "scanned_at",
        "by",
        "offline",
        "undone_at",
    ]
    list_filter = ["kind", "active", "offline", "check_in_list__event", "check_in_list"]
    search_fields = ["ticket__order__user__name", "ticket__order__user__email", "nonce", "device"]
    list_select_related = ["ticket", "check_in_list__event", "by"]
    date_hierarchy = "scanned_at"
    actions = [undo_check_ins]

    def has_fix_permission(self, request):
        return services.can_fix_check_ins(request.user)
