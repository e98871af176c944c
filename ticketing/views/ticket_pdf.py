"""The buyer's tickets of an order as a PDF download, linked from the order page."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.cache import never_cache

from ticketing import errors
from ticketing.services import ticket_pdf


@never_cache
@login_required
def order_tickets_pdf(request, pk):
    try:
        order, pdf = ticket_pdf.own_order_tickets_pdf(user=request.user, order_id=pk)
    except errors.NotFound as exc:
        raise Http404(exc.message) from None
    except errors.NoValidTickets as exc:
        messages.error(request, exc.message)
        return redirect("ticketing:order", pk=pk)
    disposition = f'attachment; filename="{ticket_pdf.pdf_filename(order)}"'
    return HttpResponse(pdf, content_type="application/pdf", headers={"Content-Disposition": disposition})
