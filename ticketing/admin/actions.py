"""Admin actions that cancel, undo or re-issue, each behind a confirmation page that asks for a reason."""

from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from ticketing import errors, services
from ticketing.services import signing


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=200, label=_("Reason"), help_text=_("Kept in the audit log; buyers are emailed.")
    )

    def __init__(self, *args, reason_help: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if reason_help:
            self.fields["reason"].help_text = reason_help


class CanCancel:
    """Staff who manage orders may use the cancelling actions (Django checks has_cancel_permission)."""

    def has_cancel_permission(self, request):
        return services.can_manage_orders(request.user)


def confirmed(
    modeladmin,
    request,
    queryset,
    *,
    title: str,
    confirm: str,
    consequence: str,
    perform,
    items=None,
    reason_help=None,
):
    """The confirmation page, or after it, perform(item, reason) for each item (the selected
    objects unless given) and report what was done and what was refused."""
    form = ReasonForm(request.POST if "confirm" in request.POST else None, reason_help=reason_help)
    if form.is_valid():
        done, refused = 0, []
        for label, item in items if items is not None else [(str(obj), obj) for obj in queryset]:
            try:
                perform(item, form.cleaned_data["reason"])
                done += 1
            except errors.TicketingError as exc:
                refused.append(_("%(item)s: %(error)s") % {"item": label, "error": exc.message})
        if done:
            message = ngettext("%(title)s: %(count)s done.", "%(title)s: %(count)s done.", done)
            modeladmin.message_user(request, message % {"title": title, "count": done}, messages.SUCCESS)
        for line in refused:
            modeladmin.message_user(request, line, messages.WARNING)
        return None
    context = {
        **modeladmin.admin_site.each_context(request),
        "title": title,
        "confirm": confirm,
        "consequence": consequence,
        "objects": list(queryset),
        "form": form,
        "opts": modeladmin.model._meta,
        "action": request.POST.get("action", ""),
        "selected": request.POST.getlist(ACTION_CHECKBOX_NAME),
        "action_checkbox_name": ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/ticketing/confirm_cancel.html", context)


@admin.action(description=_("Cancel selected orders…"), permissions=["cancel"])
def cancel_orders(modeladmin, request, queryset):
    return confirmed(
        modeladmin,
        request,
        queryset,
        title=_("Cancel orders"),
        confirm=_("Yes, cancel orders"),
        consequence=_(
            "Every ticket of these orders not yet checked in stops admitting anyone and goes "
            "back on sale, to the waiting list first. Each buyer is emailed. Refunds are recorded on the "
            "order's page."
        ),
        perform=lambda order, reason: services.cancel_order(
            user=request.user, order_id=order.pk, reason=reason
        ),
    )


@admin.action(description=_("Cancel selected tickets…"), permissions=["cancel"])
def cancel_tickets(modeladmin, request, queryset):
    by_order = defaultdict(list)
    for ticket in queryset.order_by("pk"):
        by_order[ticket.order_id].append(ticket.pk)
    return confirmed(
        modeladmin,
        request,
        queryset,
        title=_("Cancel tickets"),
        confirm=_("Yes, cancel tickets"),
        consequence=_(
            "These tickets stop admitting anyone and go back on sale, to the waiting list "
            "first; checked-in tickets cannot be cancelled. Each buyer is emailed."
        ),
        # One cancellation per order, so each order moves (and is audited) once.
        items=[
            (_("Order #%(id)s") % {"id": order_id}, (order_id, ids))
            for order_id, ids in sorted(by_order.items())
        ],
        perform=lambda item, reason: services.cancel_order(
            user=request.user, order_id=item[0], ticket_ids=item[1], reason=reason
        ),
    )


@admin.action(description=_("Cancel selected events…"), permissions=["cancel"])
def cancel_events(modeladmin, request, queryset):
    return confirmed(
        modeladmin,
        request,
        queryset,
        title=_("Cancel events"),
        confirm=_("Yes, cancel events"),
        consequence=_(
            "Every queued or waiting request is cancelled, every ticket not yet checked in "
            "stops admitting anyone, and every buyer is emailed. This cannot be undone."
        ),
        perform=lambda event, reason: services.cancel_event(
            user=request.user, event_id=event.pk, reason=reason
        ),
    )


@admin.action(description=_("Re-issue selected tickets…"), permissions=["cancel"])
def reissue_tickets(modeladmin, request, queryset):
    return confirmed(
        modeladmin,
        request,
        queryset,
        title=_("Re-issue tickets"),
        confirm=_("Yes, re-issue tickets"),
        consequence=_(
            "Each ticket gets a new code: the codes it had, printed, saved or shared, stop "
            "admitting anyone. The buyer finds the new code under My tickets. Cancelled tickets are refused."
        ),
        reason_help=_("Kept in the audit log."),
        items=[(str(ticket), ticket.pk) for ticket in queryset.order_by("pk")],
        perform=lambda ticket_id, reason: signing.reissue_ticket(
            ticket_id, actor=request.user, reason=reason
        ),
    )


@admin.action(description=_("Rotate signing key…"), permissions=["cancel"])
def rotate_signing_keys(modeladmin, request, queryset):
    return confirmed(
        modeladmin,
        request,
        queryset,
        title=_("Rotate signing keys"),
        confirm=_("Yes, rotate signing keys"),
        consequence=_(
            "Each event gets a new signing key: every signed code of its tickets changes, and "
            "the codes shown or printed before stop admitting anyone (random codes of tickets issued "
            "before signed tickets still work). Buyers find the new codes under My tickets."
        ),
        reason_help=_("Kept in the audit log."),
        perform=lambda event, reason: signing.rotate_key(event, actor=request.user, reason=reason),
    )
