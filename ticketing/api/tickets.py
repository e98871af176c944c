"""Verifying a ticket's QR code, and checking it in at the door."""

from django.utils import timezone
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from eventtix.api.parsers import JSONParser
from eventtix.api.schema import AlreadyCheckedInOut, ErrorOut, error_responses
from eventtix.api.throttles import TicketVerifyRateThrottle
from ticketing import errors, selectors, services
from ticketing.api.permissions import CanCheckIn
from ticketing.api.serializers import (
    CheckInListOut,
    CheckInListQuery,
    CheckInListRequired,
    CheckInOut,
    OfflineDataOut,
    OfflineUploadIn,
    OfflineUploadOut,
    TicketUnknownOut,
    TicketVerifyOut,
    TicketVerifyStaffOut,
)
from ticketing.services import signing

TAG = "tickets"
UNKNOWN_TICKET = gettext_lazy("Unknown ticket: this code is not one of ours.")
# Random codes are secrets.token_urlsafe, signed ones "T." and base32 (services.signing); anything
# else (a NUL byte, say) is unknown without asking SQL.
QR_TOKEN = signing.CODE_SHAPE
QR_TOKEN_PARAMETER = OpenApiParameter(
    "qr_token", str, OpenApiParameter.PATH, description="The token in the ticket's QR code."
)


class TicketVerifyView(APIView):
    """Whether a QR code is one of ours and already used; door staff also see the holder's name.
    Rate limited per client (THROTTLE_VERIFY)."""

    throttle_classes = [TicketVerifyRateThrottle]

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


def _list_id(request, serializer_class):
    """The check-in list named in the JSON body or the query string (None: not named)."""
    body = request.data if isinstance(request.data, dict) else {}
    value = body.get("check_in_list", request.query_params.get("check_in_list"))
    given = serializer_class(data={} if value in (None, "") else {"check_in_list": value})
    given.is_valid(raise_exception=True)
    return given.validated_data.get("check_in_list")


def _known_token(qr_token: str) -> str:
    if not QR_TOKEN.fullmatch(qr_token):
        raise errors.NotFound(UNKNOWN_TICKET)
    return qr_token


DOOR_REFUSALS = error_responses(
    400,
    401,
    403,
    404,
    409,
    s409=(
        AlreadyCheckedInOut,
        "Refused, nothing used up: `code` is `already_checked_in` (with when, by whom and on which list),"
        " `wrong_event`, `ticket_cancelled`, `not_on_list` or `ticket_reissued` (an out-of-date code).",
    ),
)


class TicketCheckInView(APIView):
    """Admits a ticket once per check-in list; of simultaneous scans of one ticket exactly one succeeds."""

    permission_classes = [IsAuthenticated, CanCheckIn]

    @extend_schema(
        tags=[TAG],
        operation_id="tickets_checkin",
        parameters=[QR_TOKEN_PARAMETER],
        request=CheckInListQuery,
        responses={200: CheckInOut, **DOOR_REFUSALS},
    )
    def post(self, request, qr_token: str):
        list_id = _list_id(request, CheckInListQuery)
        ticket = services.check_in_ticket(
            qr_token=_known_token(qr_token), staff_user=request.user, check_in_list_id=list_id
        )
        return Response(CheckInOut(ticket).data)


class TicketCheckOutView(APIView):
    """Lets a ticket out through a list that allows re-entry, so that it may enter again."""

    permission_classes = [IsAuthenticated, CanCheckIn]

    @extend_schema(
        tags=[TAG],
        operation_id="tickets_checkout",
        parameters=[QR_TOKEN_PARAMETER],
        request=CheckInListRequired,
        responses={
            200: OpenApiResponse(description="Let out."),
            **error_responses(
                400, 401, 403, 404, 409, s409=(ErrorOut, "`not_checked_in`, or the list has no re-entry.")
            ),
        },
    )
    def post(self, request, qr_token: str):
        list_id = _list_id(request, CheckInListRequired)
        services.let_out(qr_token=_known_token(qr_token), staff_user=request.user, check_in_list_id=list_id)
        return Response({"checked_out": True})


class TicketUndoCheckInView(APIView):
    """Undoes a mistaken check-in on a list (door supervisors); audited."""

    permission_classes = [IsAuthenticated, CanCheckIn]

    @extend_schema(
        tags=[TAG],
        operation_id="tickets_checkin_undo",
        parameters=[QR_TOKEN_PARAMETER],
        request=CheckInListRequired,
        responses={
            200: OpenApiResponse(description="Undone: the ticket may be checked in again on the list."),
            **error_responses(400, 401, 403, 404, 409, s409=(ErrorOut, "`not_checked_in`.")),
        },
    )
    def post(self, request, qr_token: str):
        list_id = _list_id(request, CheckInListRequired)
        ticket = selectors.ticket_by_token(qr_token=_known_token(qr_token))
        if ticket is None:
            raise errors.NotFound(UNKNOWN_TICKET)
        services.undo_check_in(ticket_id=ticket.pk, staff_user=request.user, check_in_list_id=list_id)
        return Response({"undone": True})


class CheckInListsView(APIView):
    """The check-in lists this member of door staff may use, today's events first, with their counts."""

    permission_classes = [IsAuthenticated, CanCheckIn]

    @extend_schema(tags=[TAG], operation_id="check_in_lists", responses={200: CheckInListOut(many=True)})
    def get(self, request):
        services.open_default_lists(now=timezone.now())
        lists = [
            check_in_list
            for _, event_lists in selectors.door_events(user=request.user)
            for check_in_list in event_lists
        ]
        for check_in_list in lists:
            check_in_list.counts = selectors.door_counts(check_in_list=check_in_list)
        return Response(CheckInListOut(lists, many=True).data)


class OfflineScansView(APIView):
    """Uploads the entries a door phone admitted while offline; answers each scan's verdict."""

    permission_classes = [IsAuthenticated, CanCheckIn]
    parser_classes = [JSONParser]

    @extend_schema(
        tags=[TAG],
        operation_id="check_in_lists_offline_scans",
        summary="Upload scans made offline",
        description="Each scan is recorded once, by its `nonce`: an upload retried after a lost answer"
        " records nothing twice and answers the same verdicts. A ticket another scan admitted first"
        " is recorded as `admitted_twice`.",
        request=OfflineUploadIn,
        responses={200: OfflineUploadOut, **error_responses(400, 401, 403, 404)},
    )
    def post(self, request, pk: int):
        upload = OfflineUploadIn(data=request.data)
        upload.is_valid(raise_exception=True)
        verdicts = services.record_offline_scans(
            check_in_list_id=pk,
            staff_user=request.user,
            device=upload.validated_data["device"],
            scans=upload.validated_data["scans"],
        )
        return Response(OfflineUploadOut({"results": verdicts}).data)


class OfflineDataView(APIView):
    """What a door phone downloads to check tickets in on a list without a network."""

    permission_classes = [IsAuthenticated, CanCheckIn]

    @extend_schema(
        tags=[TAG],
        operation_id="check_in_lists_offline_data",
        summary="Download a list for the offline door",
        description="Every ticket of the types the list admits (up to 25,000; past that `complete` is"
        " false and `tickets` empty), with its status, its holder's name, whether it is inside on this"
        " list, and a hash of its code: a phone recognises a scanned code by its hash.",
        responses={200: OfflineDataOut, **error_responses(401, 403, 404)},
    )
    def get(self, request, pk: int):
        check_in_list = services.usable_list(staff_user=request.user, check_in_list_id=pk)
        public_key = signing.event_public_key(check_in_list.event_id)
        data = selectors.door_offline_data(check_in_list=check_in_list, public_key=public_key)
        return Response(OfflineDataOut(data).data, headers={"Cache-Control": "no-store"})
