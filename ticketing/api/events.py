"""Events and their availability: public reads."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from events.models import Event
from eventtix.api.schema import error_responses
from ticketing import selectors
from ticketing.api.serializers import AvailabilityOut, AvailabilityQuery, EventOut

TAG = "events"


class EventListView(APIView):
    """The events on sale or coming, soonest first, with their ticket types."""

    @extend_schema(tags=[TAG], operation_id="events_list", responses={200: EventOut(many=True)})
    def get(self, request):
        return Response(EventOut(selectors.events_listed(), many=True).data)


class EventDetailView(APIView):
    """One event with its ticket types."""

    @extend_schema(
        tags=[TAG], operation_id="events_retrieve", responses={200: EventOut, **error_responses(404)}
    )
    def get(self, request, pk: int):
        event = get_object_or_404(Event.objects.prefetch_related("ticket_types"), pk=pk)
        return Response(EventOut(event).data)


class AvailabilityView(APIView):
    """Capacity, sold, remaining and queued requests for each of an event's ticket types."""

    @extend_schema(
        tags=[TAG],
        operation_id="availability_retrieve",
        parameters=[OpenApiParameter("event_id", int, required=True, description="The event's id.")],
        responses={200: AvailabilityOut, **error_responses(400, 404)},
    )
    def get(self, request):
        query = AvailabilityQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        event = get_object_or_404(Event, pk=query.validated_data["event_id"])
        availability = {
            "event_id": event.pk,
            "sale_state": event.sale_state(),
            "ticket_types": selectors.ticket_types_with_queue(event_id=event.pk),
        }
        return Response(AvailabilityOut(availability).data)
