"""A buyer's ticket requests, queue position and orders; each buyer sees only their own."""

from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import RevocableStatelessJWTAuthentication
from eventtix.api.parsers import JSONParser
from eventtix.api.schema import ErrorOut, error_responses
from eventtix.api.throttles import TicketRequestRateThrottle
from ticketing import errors, selectors, services
from ticketing.api.serializers import (
    IdempotencyKeyHeader,
    OrderCancelIn,
    OrderOut,
    QueuePositionOut,
    QueuePositionQuery,
    TicketRequestCreatedOut,
    TicketRequestIn,
    TicketRequestOut,
)

TAG = "ticket requests"
NO_SUCH_REQUEST = gettext_lazy("There is no such ticket request.")


def token_trusting_authenticators() -> list:
    """For the on-sale's hottest calls (joining, polling): the token is trusted without reading the
    user, because the call's own statement checks the account is still active; its revocation is
    checked in the cache. (The schema generator is given the usual ones: the same bearer JWT.)"""
    return [RevocableStatelessJWTAuthentication(), SessionAuthentication()]


def own_request_or_404(*, user, request_id: int):
    ticket_request = selectors.user_request(user=user, request_id=request_id)
    if ticket_request is None:
        raise NotFound(NO_SUCH_REQUEST)
    return ticket_request


class TicketRequestListView(APIView):
    """The user's ticket requests (GET), or a new one put in the event's queue (POST)."""

    # Under overload a new request is refused fast (eventtix/middleware.py), never left to wait.
    sheddable = True
    permission_classes = [IsAuthenticated]
    throttle_classes = [TicketRequestRateThrottle]

    def get_authenticators(self):
        # Joining the queue: enqueue_request checks the account in the statement that locks it.
        if getattr(self.request, "method", None) == "POST" and not getattr(self, "swagger_fake_view", False):
            return token_trusting_authenticators()
        return super().get_authenticators()

    @extend_schema(
        tags=[TAG],
        operation_id="ticket_requests_list",
        responses={200: TicketRequestOut(many=True), **error_responses(401)},
    )
    def get(self, request):
        requests = selectors.user_requests(user=request.user).select_related("order")
        return Response(TicketRequestOut(requests, many=True).data)

    @extend_schema(
        tags=[TAG],
        operation_id="ticket_requests_create",
        summary="Join the queue for tickets",
        description="The request waits in the event's queue and is served all or nothing, in "
        "priority order (VIP first). Poll `/api/queue/position` to follow it. With "
        "`wait_if_sold_out`, a request that finds too few tickets joins the type's waiting list "
        "(`status: waiting`) instead of being refused. A repeated `Idempotency-Key` returns the "
        "request it first created instead of a new one; reused for a different body it is a 422.",
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Any string up to 100 characters; a retry with the same key is not queued twice.",
            )
        ],
        request=TicketRequestIn,
        responses={
            202: TicketRequestCreatedOut,
            **error_responses(400, 401, 422, 429, s409=(ErrorOut, "Sold out.")),
        },
    )
    def post(self, request):
        payload = TicketRequestIn(data=request.data)
        payload.is_valid(raise_exception=True)
        header = IdempotencyKeyHeader(data={"idempotency_key": request.headers.get("Idempotency-Key", "")})
        header.is_valid(raise_exception=True)
        ticket_request = services.enqueue_request(
            user=request.user,
            ticket_type_id=payload.validated_data["ticket_type_id"],
            quantity=payload.validated_data["quantity"],
            wait_if_sold_out=payload.validated_data["wait_if_sold_out"],
            idempotency_key=header.validated_data["idempotency_key"] or None,
        )
        position = selectors.arrival_position(ticket_request=ticket_request)
        services.poll_hint(position, event=ticket_request.event)
        body = TicketRequestCreatedOut(ticket_request, context={"queue_position": position}).data
        return Response(body, status=status.HTTP_202_ACCEPTED)


class TicketRequestDetailView(APIView):
    """One of the user's ticket requests (GET), or leaving the queue or waiting list (DELETE)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        operation_id="ticket_requests_retrieve",
        responses={200: TicketRequestOut, **error_responses(401, 404)},
    )
    def get(self, request, pk: int):
        return Response(TicketRequestOut(own_request_or_404(user=request.user, request_id=pk)).data)

    @extend_schema(
        tags=[TAG],
        operation_id="ticket_requests_cancel",
        summary="Leave the queue or the waiting list",
        responses={
            204: OpenApiResponse(description="Cancelled."),
            **error_responses(401, 404, s409=(ErrorOut, "Already served; too late to cancel.")),
        },
    )
    def delete(self, request, pk: int):
        services.cancel_request(user=request.user, request_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class QueuePositionView(APIView):
    """Where one of the user's requests stands in the queue, with an estimated wait."""

    permission_classes = [IsAuthenticated]

    def get_authenticators(self):
        # Every buyer in a crowd polls this: polled_request checks the account in its one statement.
        if not getattr(self, "swagger_fake_view", False):
            return token_trusting_authenticators()
        return super().get_authenticators()

    @extend_schema(
        tags=[TAG],
        operation_id="queue_position_retrieve",
        parameters=[OpenApiParameter("request_id", int, required=True, description="The request's id.")],
        responses={200: QueuePositionOut, **error_responses(400, 401, 404)},
    )
    def get(self, request):
        query = QueuePositionQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        active, ticket_request = selectors.polled_request(
            user_id=request.user.pk, request_id=query.validated_data["request_id"]
        )
        if not active:
            raise errors.AccountUnavailable()
        if ticket_request is None:
            raise NotFound(NO_SUCH_REQUEST)
        services.wake_if_unplaced(ticket_request)
        position = selectors.queue_position(ticket_request=ticket_request)
        retry_after = services.poll_hint(position, event=ticket_request.event)
        headers = {"Retry-After": retry_after} if retry_after else None
        return Response(QueuePositionOut(position).data, headers=headers)


@method_decorator(never_cache, name="dispatch")
class OrderListView(APIView):
    """The user's orders, newest first, each with its tickets and their QR tokens (never stored)."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=["orders"],
        operation_id="orders_list",
        responses={200: OrderOut(many=True), **error_responses(401)},
    )
    def get(self, request):
        return Response(OrderOut(selectors.user_orders(user=request.user), many=True).data)


@method_decorator(never_cache, name="dispatch")
class OrderCancelView(APIView):
    """Cancel the user's order, or some of its tickets, until the event's cancellation deadline."""

    permission_classes = [IsAuthenticated]
    # JSON only: a form-encoded list of ids could pass Django's field-count limit, a 400 in HTML.
    parser_classes = [JSONParser]

    @extend_schema(
        tags=["orders"],
        operation_id="orders_cancel",
        summary="Cancel an order or some of its tickets",
        description="Cancels every ticket of the order not yet used, or the `ticket_ids` given. "
        "Buyers may until the event's `cancellation_deadline` (none: only staff can); a checked-in "
        "ticket cannot be cancelled. The tickets go back on sale, to the waiting list first.",
        request=OrderCancelIn,
        responses={
            200: OrderOut,
            **error_responses(400, 401, 404, s409=(ErrorOut, "Too late, or nothing left to cancel.")),
        },
    )
    def post(self, request, pk: int):
        payload = OrderCancelIn(data=request.data)
        payload.is_valid(raise_exception=True)
        order = services.cancel_order(
            user=request.user, order_id=pk, ticket_ids=payload.validated_data.get("ticket_ids")
        )
        return Response(OrderOut(selectors.order_for(user=request.user, order_id=order.pk)).data)
