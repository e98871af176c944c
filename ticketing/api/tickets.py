"""Verifying a ticket's QR code, and checking it in at the door."""

import re

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from eventtix.api.schema import AlreadyCheckedInOut, error_responses
from ticketing import errors, selectors, services
from ticketing.api.permissions import CanCheckIn
from ticketing.api.serializers import CheckInOut, TicketUnknownOut, TicketVerifyOut, TicketVerifyStaffOut

TAG = "tickets"
UNKNOWN_TICKET = "Unknown ticket: this code is not one of ours."
# Tokens are secrets.token_urlsafe; anything else (a NUL byte, say) is unknown without asking SQL.
QR_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
QR_TOKEN_PARAMETER = OpenApiParameter(
    "qr_token", str, OpenApiParameter.PATH, description="The token in the ticket's QR code."
)


class TicketVerifyView(APIView):
    """Whether a QR code is one of ours and already used; door staff also see the holder's name."""

    @extend_schema(
        tags=[TAG],
        operation_id="tickets_verify",
        parameters=[QR_TOKEN_PARAMETER],
        responses={
            200: TicketVerifyStaffOut,
            404: OpenApiResponse(TicketUnknownOut, description="Not a ticket of ours."),
        },
    )
    def get(self, request, qr_token: str):
        ticket = selectors.ticket_by_token(qr_token=qr_token) if QR_TOKEN.fullmatch(qr_token) else None
        if ticket is None:
            return Response(TicketUnknownOut({"valid": False, "detail": UNKNOWN_TICKET}).data, status=404)
        out = TicketVerifyStaffOut if services.can_check_in(request.user) else TicketVerifyOut
        return Response(out(ticket).data)


class TicketCheckInView(APIView):
    """Admits a ticket once; of simultaneous scans of one ticket exactly one succeeds."""

    permission_classes = [IsAuthenticated, CanCheckIn]

    @extend_schema(
        tags=[TAG],
        operation_id="tickets_checkin",
        parameters=[QR_TOKEN_PARAMETER],
        request=None,
        responses={
            200: CheckInOut,
            **error_responses(
                401,
                403,
                404,
                409,
                s409=(AlreadyCheckedInOut, "Already checked in; `checked_in_at` says when."),
            ),
        },
    )
    def post(self, request, qr_token: str):
        if not QR_TOKEN.fullmatch(qr_token):
            raise errors.NotFound(UNKNOWN_TICKET)
        ticket = services.check_in_ticket(qr_token=qr_token, staff_user=request.user)
        return Response(CheckInOut(ticket).data)
