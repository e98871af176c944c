from django.urls import path

from ticketing.views import dashboard, door, queue, tickets

app_name = "ticketing"
urlpatterns = [
    path("requests/<int:pk>/", queue.request_detail, name="request"),
    path("requests/<int:pk>/cancel/", queue.request_cancel, name="request_cancel"),
    path("tickets/", tickets.my_tickets, name="my_tickets"),
    path("tickets/<str:qr_token>/", tickets.ticket_detail, name="ticket"),
    path("orders/<int:pk>/", tickets.order_detail, name="order"),
    path("door/", door.door, name="door"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
]
