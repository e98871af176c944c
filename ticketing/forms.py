"""Forms of the ticketing pages: they parse input; the services decide."""

import uuid
from decimal import Decimal
from urllib.parse import urlsplit

from django import forms
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events import formatting
from ticketing import errors, selectors_events, services
from ticketing.models import Ticket


class TicketTypeRadios(forms.RadioSelect):
    """Radios that carry each type's price and limit for the page's script, and disable the types
    that may not be chosen."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.disabled_pks: set[int] = set()

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        ticket_type = getattr(value, "instance", None)
        if ticket_type is not None:
            currency = ticket_type.event.currency
            option["attrs"].update(
                {
                    "data-price-minor": selectors_events.minor_units(ticket_type.price, currency),
                    "data-max": ticket_type.max_per_request,
                }
            )
            if ticket_type.pk in self.disabled_pks:
                option["attrs"]["disabled"] = True
        return option


class TicketTypeChoiceField(forms.ModelChoiceField):
    widget = TicketTypeRadios

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waiting_list = True

    def label_from_instance(self, obj):
        price = formatting.money(obj.price, obj.event.currency)
        if services.tickets_on_sale(obj) > 0:
            return f"{obj.name} · {price}"
        if self.waiting_list:
            return _("%(type)s · %(price)s · Sold out – join the waiting list") % {
                "type": obj.name,
                "price": price,
            }
        return _("%(type)s · %(price)s · Sold out") % {"type": obj.name, "price": price}


class TicketRequestForm(forms.Form):
    ticket_type = TicketTypeChoiceField(queryset=None, empty_label=None, label=gettext_lazy("Ticket type"))
    # The range depends on the chosen type: clean() judges it with the service's own rule.
    quantity = forms.IntegerField(initial=1, label=gettext_lazy("Quantity"))
    # A fresh key per rendered form: a double click or a resubmitted POST joins the queue once.
    idempotency_key = forms.CharField(widget=forms.HiddenInput, required=False, max_length=100)
    # The types this page showed as sold out, offering their waiting list: choosing one of them
    # is joining that list, while a type that sells out after the page was shown is refused with
    # a message, so nobody lands on a waiting list they were not offered.
    waiting_offered = forms.CharField(widget=forms.HiddenInput, required=False, max_length=1000)

    def __init__(self, *args, ticket_types, waiting_list: bool = True, **kwargs):
        """ticket_types: the event's types with their counters (selectors.ticket_types_with_queue);
        waiting_list: whether a sold-out type offers its waiting list (else it cannot be chosen)."""
        super().__init__(*args, **kwargs)
        self.ticket_types = ticket_types
        field = self.fields["ticket_type"]
        field.queryset = ticket_types
        field.waiting_list = waiting_list
        sold_out = [t for t in ticket_types if services.tickets_on_sale(t) <= 0]
        if not waiting_list:
            field.widget.disabled_pks = {t.pk for t in sold_out}
        most = max((t.max_per_request for t in ticket_types), default=1)
        # The widget's bounds for the browser; clean() judges against the chosen type.
        self.fields["quantity"].widget.attrs.update(
            {"min": 1, "max": most, "inputmode": "numeric", "aria-describedby": "quantity-limits"}
        )
        if not self.is_bound:
            self.initial["idempotency_key"] = uuid.uuid4().hex
            self.initial["waiting_offered"] = " ".join(str(t.pk) for t in sold_out) if waiting_list else ""
            # Never a sold-out type: joining a waiting list is a choice the buyer makes.
            first = next((t for t in ticket_types if services.tickets_on_sale(t) > 0), None)
            if first is not None:
                self.initial["ticket_type"] = first.pk

    def clean(self):
        cleaned = super().clean()
        chosen, quantity = cleaned.get("ticket_type"), cleaned.get("quantity")
        if chosen is not None and quantity is not None:
            try:
                services.check_quantity(ticket_type=chosen, quantity=quantity)
            except errors.InvalidQuantity as refusal:
                self.add_error("quantity", refusal.message)
        return cleaned

    def shown_type(self):
        """The type shown as chosen: the one posted, else the default (None when none is)."""
        pk = str(self["ticket_type"].value())
        return next((t for t in self.ticket_types if str(t.pk) == pk), None)

    def shown_limit(self) -> int:
        """The per-request limit shown beside the quantity: the shown type's, else the largest."""
        chosen = self.shown_type()
        if chosen is not None:
            return chosen.max_per_request
        return max((t.max_per_request for t in self.ticket_types), default=1)

    def shown_quantity(self) -> int:
        """The quantity the total is shown for: the one entered when it is allowed, else 1."""
        chosen = self.shown_type()
        try:
            quantity = int(self["quantity"].value())
        except (TypeError, ValueError):
            return 1
        return quantity if chosen is not None and 1 <= quantity <= chosen.max_per_request else 1

    def shown_total(self):
        """The price of the shown quantity of the shown type (None when no type is chosen)."""
        chosen = self.shown_type()
        return None if chosen is None else chosen.price * self.shown_quantity()

    def wants_waiting_list(self) -> bool:
        """Whether the chosen type was offered with its waiting list."""
        offered = self.cleaned_data.get("waiting_offered", "").split()
        return str(self.cleaned_data["ticket_type"].pk) in offered


class CheckInForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Ticket code or link"),
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
            raise forms.ValidationError(_("That link is not an EventTix ticket."))
        return match.kwargs["qr_token"]


class CancelTicketsForm(forms.Form):
    """Which of an order's valid tickets to cancel; staff also give a reason and may record a refund."""

    tickets = forms.ModelMultipleChoiceField(
        queryset=None,
        widget=forms.CheckboxSelectMultiple,
        label=gettext_lazy("Tickets to cancel"),
        error_messages={"required": gettext_lazy("Choose at least one ticket to cancel.")},
    )
    reason = forms.CharField(
        max_length=200, required=False, label=gettext_lazy("Reason (kept in the audit log)")
    )
    refund = forms.DecimalField(
        max_digits=12,
        decimal_places=2,
        min_value=0,
        required=False,
        label=gettext_lazy("Refund recorded (optional)"),
    )

    def __init__(self, *args, order, staff: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tickets"].queryset = order.tickets.filter(status=Ticket.Status.VALID).order_by("pk")
        self.fields["tickets"].label_from_instance = lambda t: (
            _("%(type)s · ticket #%(number)s")
            % {
                "type": t.ticket_type.name,
                "number": t.pk,
            }
        )
        if not self.is_bound:
            self.initial["tickets"] = list(self.fields["tickets"].queryset)
        if not staff:
            del self.fields["reason"], self.fields["refund"]


class RefundForm(forms.Form):
    amount = forms.DecimalField(
        max_digits=12, decimal_places=2, min_value=Decimal("0.01"), label=gettext_lazy("Amount")
    )
    reason = forms.CharField(
        max_length=200, required=False, label=gettext_lazy("Reason (kept in the audit log)")
    )
