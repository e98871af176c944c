"""A buyer's orders and tickets, the printable ticket page, and cancelling tickets of an order."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from events import formatting
from ticketing import selectors, services
from ticketing.forms import CancelTicketsForm, RefundForm
from ticketing.models import TicketRequest
from ticketing.views.base import attempt


@never_cache
@login_required
def my_tickets(request):
    orders = selectors.user_orders(user=request.user)
    waiting = selectors.user_requests(user=request.user).filter(status__in=TicketRequest.PENDING)
    return render(request, "ticketing/my_tickets.html", {"orders": orders, "waiting": waiting})


def _order_or_404(request, pk):
    # Buyers see their own orders; staff who may view orders see any (the admin's "View on site").
    order = selectors.order_for(user=request.user, order_id=pk)
    if order is None:
        raise Http404(_("No such order."))
    return order


def _order_page(request, order, *, cancel_form=None, refund_form=None, status=200):
    staff = services.can_manage_orders(request.user)
    may_cancel = staff or services.buyer_may_cancel(event=order.event)
    context = {
        "order": order,
        "staff": staff,
        # Staff who may only view orders, on someone else's: no cancel or refund forms.
        "read_only": not staff and order.user_id != request.user.pk,
        "may_cancel": may_cancel,
        "cancel_form": cancel_form or CancelTicketsForm(order=order, staff=staff),
        "refund_form": refund_form or RefundForm(),
    }
    return render(request, "ticketing/order.html", context, status=status)


@never_cache
@login_required
def order_detail(request, pk):
    return _order_page(request, _order_or_404(request, pk))


@never_cache
@require_POST
@login_required
def order_cancel(request, pk):
    order = _order_or_404(request, pk)
    staff = services.can_manage_orders(request.user)
    form = CancelTicketsForm(request.POST, order=order, staff=staff)
    if form.is_valid():
        outcome = attempt(
            services.cancel_order,
            form=form,
            user=request.user,
            order_id=order.pk,
            ticket_ids=[t.pk for t in form.cleaned_data["tickets"]],
            reason=form.cleaned_data.get("reason", ""),
            refund=form.cleaned_data.get("refund") or None,
        )
        if outcome.error is None:
            n = len(form.cleaned_data["tickets"])
            messages.success(
                request,
                ngettext("%(count)s ticket cancelled.", "%(count)s tickets cancelled.", n) % {"count": n},
            )
            return redirect(order)
    return _order_page(request, order, cancel_form=form, status=400)


@never_cache
@require_POST
@login_required
def order_refund(request, pk):
    order = _order_or_404(request, pk)
    if not services.can_manage_orders(request.user):
        raise PermissionDenied
    form = RefundForm(request.POST)
    if form.is_valid():
        outcome = attempt(
            services.record_refund,
            form=form,
            user=request.user,
            order_id=order.pk,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"],
        )
        if outcome.error is None:
            amount = formatting.money(form.cleaned_data["amount"], order.event.currency)
            messages.success(request, _("Refund of %(amount)s recorded.") % {"amount": amount})
            return redirect(order)
    return _order_page(request, order, refund_form=form, status=400)


@never_cache
@login_required
def ticket_detail(request, qr_token):
    ticket = selectors.ticket_by_token(qr_token=qr_token)
    # The holder sees the ticket, and so does door staff asked about it; to anyone else it is missing.
    if ticket is None or not (ticket.order.user_id == request.user.pk or services.can_check_in(request.user)):
        raise Http404(_("No such ticket."))
    return render(request, "ticketing/ticket.html", {"ticket": ticket})
