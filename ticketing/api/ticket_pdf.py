"""An order's tickets as a PDF, for its buyer."""

from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.views import APIView

from eventtix.api.schema import ErrorOut, error_responses
from ticketing.services import ticket_pdf


@method_decorator(never_cache, name="dispatch")
class OrderTicketsPdfView(APIView):
    """The order's tickets that still admit, one A4 page each with its QR code; for the buyer only."""

    permission_classes = [IsAuthenticated]

    def perform_content_negotiation(self, request, force=False):
        # The PDF is sent as it is; a client asking for application/pdf gets its errors in JSON,
        # not a 406.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        tags=["orders"],
        operation_id="orders_tickets_pdf",
        summary="Download an order's tickets as a PDF",
        description="One A4 page per ticket not cancelled: the event, its date and time in the event's"
        " time zone, the venue, the ticket type, the holder, the order number and the QR code the door"
        " scans. Only the order's buyer may download it.",
        responses={
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The PDF."),
            **error_responses(401, 404, s409=(ErrorOut, "`no_valid_tickets`: every ticket was cancelled.")),
        },
    )
    def get(self, request, pk: int):
        order, pdf = ticket_pdf.own_order_tickets_pdf(user=request.user, order_id=pk)
        disposition = f'attachment; filename="{ticket_pdf.pdf_filename(order)}"'
        return HttpResponse(pdf, content_type="application/pdf", headers={"Content-Disposition": disposition})
