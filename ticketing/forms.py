"""Forms of the ticketing pages: they parse input; the services decide."""

import uuid
from decimal import Decimal
from urllib.parse import urlsplit

from django import forms
from django.urls import Resolver404, resolve

from ticketing import services
from ticketing.models import Ticket


class TicketTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        if services.tickets_on_sale(obj) <= 0:
            return f"{obj.name} · {obj.price} · sold out: join the waiting list"
        return f"{obj.name} · {obj.price}"


class TicketRequestForm(forms.Form):
    ticket_type = TicketTypeChoiceField(queryset=None, widget=forms.RadioSelect, empty_label=None)
    quantity = forms.IntegerField(min_value=1, initial=1)
    # A fresh key per rendered form: a double click or a resubmitted POST joins the queue once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)
    # The types this page showed as sold out, offering their waiting list: choosing one of them
    # is joining that list, while a type that sells out after the page was shown is refused with
    # a message, so nobody lands on a waiting list they were not offered.
    waiting_offered = forms.CharField(widget=forms.HiddenInput, required=False, max_length=1000)

    def __init__(self, *args, ticket_types, **kwargs):
        """ticket_types: the event's types with their counters (selectors.ticket_types_with_queue)."""
        super().__init__(*args, **kwargs)
        self.fields["ticket_type"].queryset = ticket_types
        self.fields["ticket_type"].label = "Ticket type"
        most = max((t.max_per_request for t in ticket_types), default=1)
        # The widget's bound for the browser; clean() judges against the chosen type.
        self.fields["quantity"].widget.attrs.update(max=most, inputmode="numeric")
        if not self.is_bound:
            self.initial["idempotency_key"] = uuid.uuid4().hex
            self.initial["waiting_offered"] = " ".join(
                str(t.pk) for t in ticket_types if services.tickets_on_sale(t) <= 0
            )
            first = next((t for t in ticket_types if services.tickets_on_sale(t) > 0), None)
            if first is not None:
                self.initial["ticket_type"] = first.pk

    def clean(self):
        cleaned = super().clean()
        chosen, quantity = cleaned.get("ticket_type"), cleaned.get("quantity")
        if chosen is not None and quantity is not None and quantity > chosen.max_per_request:
            self.add_error(
                "quantity", f"You can ask for 1 to {chosen.max_per_request} {chosen.name} tickets at a time."
            )
        return cleaned

    def wants_waiting_list(self) -> bool:
        """Whether the chosen type was offered with its waiting list."""
        offered = self.cleaned_data.get("waiting_offered", "").split()
        return str(self.cleaned_data["ticket_type"].pk) in offered


class CheckInForm(forms.Form):
    code = forms.CharField(
        label="Ticket code or link",
        max_length=500,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false", "autofocus": True}
        ),
    )

    def clean_code(self):
        """Accept the raw token the QR code holds, or a link to a ticket page."""
        code = self.cleaned_data["code"].strip()
        if "/" not in code:
            return code
        try:
            match = resolve(urlsplit(code).path)
        except Resolver404:
            match = None
        if match is None or match.view_name != "ticketing:ticket":
            raise forms.ValidationError("That link is not an EventTix ticket.")
        return match.kwargs["qr_token"]


class CancelTicketsForm(forms.Form):
    """Which of an order's valid tickets to cancel; staff also give a reason and may record a refund."""

    tickets = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label="Tickets to cancel",
        error_messages={"required": "Choose at least one ticket to cancel."},
    )
    reason = forms.CharField(max_length=200, required=False, label="Reason (kept in the audit log)")
    refund = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=0, required=False, label="Refund recorded (optional)"
    )

    def __init__(self, *args, order, staff: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tickets"].queryset = order.tickets.filter(status=Ticket.Status.VALID).order_by("pk")
        self.fields["tickets"].label_from_instance = lambda t: f"{t.ticket_type.name} · ticket #{t.pk}"
        if not self.is_bound:
            self.initial["tickets"] = list(self.fields["tickets"].queryset)
        if not staff:
            del self.fields["reason"], self.fields["refund"]


class RefundForm(forms.Form):
    amount = forms.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"), label="Amount")
    reason = forms.CharField(max_length=200, required=False, label="Reason (kept in the audit log)")
