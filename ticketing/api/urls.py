from django.urls import path

from accounts import api as accounts_api
from ticketing.api import events, requests, ticket_pdf, tickets

# The seed's paths, without trailing slashes, so its clients work unchanged.
urlpatterns = [
    path("auth/register", accounts_api.RegisterView.as_view(), name="api-register"),
    path("auth/login", accounts_api.LoginView.as_view(), name="api-login"),
    path("auth/refresh", accounts_api.RefreshView.as_view(), name="api-refresh"),
    path("auth/logout", accounts_api.LogoutView.as_view(), name="api-logout"),
    path("auth/me", accounts_api.MeView.as_view(), name="api-me"),
    path("events", events.EventListView.as_view(), name="api-events"),
    path("events/<int:pk>", events.EventDetailView.as_view(), name="api-event"),
    path("availability", events.AvailabilityView.as_view(), name="api-availability"),
    path("ticket-requests", requests.TicketRequestListView.as_view(), name="api-ticket-requests"),
    path("ticket-requests/<int:pk>", requests.TicketRequestDetailView.as_view(), name="api-ticket-request"),
    path("queue/position", requests.QueuePositionView.as_view(), name="api-queue-position"),
    path("orders", requests.OrderListView.as_view(), name="api-orders"),
    path("orders/<int:pk>/cancel", requests.OrderCancelView.as_view(), name="api-order-cancel"),
    path(
        "orders/<int:pk>/tickets.pdf", ticket_pdf.OrderTicketsPdfView.as_view(), name="api-order-tickets-pdf"
    ),
    path("tickets/verify/<str:qr_token>", tickets.TicketVerifyView.as_view(), name="api-ticket-verify"),
    path("tickets/checkin/<str:qr_token>", tickets.TicketCheckInView.as_view(), name="api-ticket-checkin"),
    path(
        "tickets/checkin/<str:qr_token>/undo",
        tickets.TicketUndoCheckInView.as_view(),
        name="api-ticket-checkin-undo",
    ),
    path("tickets/checkout/<str:qr_token>", tickets.TicketCheckOutView.as_view(), name="api-ticket-checkout"),
    path("check-in-lists", tickets.CheckInListsView.as_view(), name="api-check-in-lists"),
    path("check-in-lists/<int:pk>/scans", tickets.OfflineScansView.as_view(), name="api-offline-scans"),
    path("check-in-lists/<int:pk>/offline", tickets.OfflineDataView.as_view(), name="api-offline-data"),
]
