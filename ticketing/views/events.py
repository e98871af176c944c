"""The public pages: what is on sale, and one event with its request form."""

from django.contrib.auth.views import redirect_to_login
from django.shortcuts import get_object_or_404, redirect, render

from events.models import Event
from eventtix.load import sheddable
from eventtix.throttling import TICKET_REQUESTS, throttle_page
from ticketing import selectors, selectors_events, services
from ticketing.forms import TicketRequestForm
from ticketing.views.base import attempt


def event_list(request):
    return render(request, "events/list.html", {"events": selectors.events_listed()})


@sheddable
@throttle_page(TICKET_REQUESTS)
def event_detail(request, pk):
    event = get_object_or_404(Event, pk=pk)
    page = selectors_events.event_page(event=event)
    form_kwargs = {"ticket_types": page.ticket_types, "waiting_list": page.waiting_list}
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.path)
        form = TicketRequestForm(request.POST, **form_kwargs)
        if form.is_valid():
            outcome = attempt(
                services.enqueue_request,
                form=form,
                user=request.user,
                ticket_type_id=form.cleaned_data["ticket_type"].pk,
                quantity=form.cleaned_data["quantity"],
                wait_if_sold_out=form.wants_waiting_list(),
                idempotency_key=form.cleaned_data["idempotency_key"] or None,
            )
            if outcome.error is None:
                return redirect(outcome.value)
    else:
        form = TicketRequestForm(**form_kwargs)
    context = {"event": event, "page": page, "ticket_types": page.ticket_types, "form": form}
    return render(request, "events/detail.html", context, status=400 if form.errors else 200)
