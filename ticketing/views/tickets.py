"""A buyer's orders and tickets, and the printable ticket page."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render

from ticketing import selectors, services
from ticketing.models import TicketRequest


@login_required
def my_tickets(request):
    orders = selectors.user_orders(user=request.user)
    waiting = selectors.user_requests(user=request.user).filter(status=TicketRequest.Status.QUEUED)
    return render(request, "ticketing/my_tickets.html", {"orders": orders, "waiting": waiting})


@login_required
def order_detail(request, pk):
    order = selectors.user_orders(user=request.user).filter(pk=pk).first()
    if order is None:
        raise Http404("No such order.")
    return render(request, "ticketing/order.html", {"order": order})


@login_required
def ticket_detail(request, qr_token):
    ticket = selectors.ticket_by_token(qr_token=qr_token)
    # The holder sees the ticket, and so does door staff asked about it; to anyone else it is missing.
    if ticket is None or not (ticket.order.user_id == request.user.pk or services.can_check_in(request.user)):
        raise Http404("No such ticket.")
    return render(request, "ticketing/ticket.html", {"ticket": ticket})
