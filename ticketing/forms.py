"""Forms of the ticketing pages: they parse input; the services decide."""

import uuid
from urllib.parse import urlsplit

from django import forms
from django.urls import Resolver404, resolve


class TicketTypeChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.name} · {obj.price}"


class TicketRequestForm(forms.Form):
    ticket_type = TicketTypeChoiceField(queryset=None, widget=forms.RadioSelect, empty_label=None)
    quantity = forms.IntegerField(min_value=1, initial=1)
    # A fresh key per rendered form: a double click or a resubmitted POST joins the queue once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)

    def __init__(self, *args, ticket_types, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["ticket_type"].queryset = ticket_types
        self.fields["ticket_type"].label = "Ticket type"
        most = max((t.max_per_request for t in ticket_types), default=1)
        self.fields["quantity"].max_value = most
        self.fields["quantity"].widget.attrs.update(max=most, inputmode="numeric")
        if not self.is_bound:
            self.initial["idempotency_key"] = uuid.uuid4().hex
            first = next(iter(ticket_types), None)
            if first is not None:
                self.initial["ticket_type"] = first.pk


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
