"""A buyer's place in the queue: one page per request, refreshing itself until it is served."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from ticketing import selectors, services
from ticketing.views.base import attempt


def _own_request(request, pk):
    ticket_request = selectors.user_request(user=request.user, request_id=pk)
    if ticket_request is None:
        raise Http404(_("No such ticket request."))
    return ticket_request


@never_cache
@login_required
def request_detail(request, pk):
    if request.htmx:
        # The page's poll, which every waiting buyer sends: the request and its event in one
        # statement (the panel reads nothing else of them while the request is pending).
        _, ticket_request = selectors.polled_request(user_id=request.user.pk, request_id=pk)
        if ticket_request is None:
            raise Http404(_("No such ticket request."))
    else:
        ticket_request = _own_request(request, pk)
    services.wake_if_unplaced(ticket_request)
    position = selectors.queue_position(ticket_request=ticket_request)
    services.poll_hint(position, event=ticket_request.event)
    order = None
    if position.order_id:
        order = selectors.user_orders(user=request.user).filter(pk=position.order_id).first()
    context = {"ticket_request": ticket_request, "position": position, "order": order}
    # htmx polls for the status panel alone; a plain visit gets the whole page.
    template = "ticketing/_request_status.html" if request.htmx else "ticketing/request.html"
    return render(request, template, context)


@never_cache
@require_POST
@login_required
def request_cancel(request, pk):
    ticket_request = _own_request(request, pk)
    outcome = attempt(services.cancel_request, request=request, user=request.user, request_id=pk)
    if outcome.error is None:
        messages.success(request, _("Your request was cancelled."))
    return redirect(ticket_request)
