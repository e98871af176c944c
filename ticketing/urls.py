from django.urls import path
from django.views.generic import RedirectView

from ticketing.views import dashboard, door, events, queue, ticket_pdf, tickets

app_name = "ticketing"
urlpatterns = [
    path("requests/<int:pk>/", queue.request_detail, name="request"),
    path("requests/<int:pk>/cancel/", queue.request_cancel, name="request_cancel"),
    path("tickets/", tickets.my_tickets, name="my_tickets"),
    path("tickets/<str:qr_token>/", tickets.ticket_detail, name="ticket"),
    path("orders/<int:pk>/", tickets.order_detail, name="order"),
    path("orders/<int:pk>/cancel/", tickets.order_cancel, name="order_cancel"),
    path("orders/<int:pk>/refund/", tickets.order_refund, name="order_refund"),
    path("orders/<int:pk>/tickets.pdf", ticket_pdf.order_tickets_pdf, name="order_tickets_pdf"),
    path("door/", door.door, name="door"),
    path("door/sw.js", door.door_service_worker, name="door_sw"),
    path("door/<int:list_id>/", door.door_list, name="door_list"),
    path("door/<int:list_id>/counts/", door.door_counts, name="door_counts"),
    path("door/<int:list_id>/search/", door.door_search, name="door_search"),
    path("door/<int:list_id>/admit/<int:ticket_id>/", door.door_admit_by_name, name="door_admit"),
    path("door/<int:list_id>/undo/<int:ticket_id>/", door.door_undo, name="door_undo"),
    path("dashboard/", dashboard.dashboard, name="dashboard"),
    path("dashboard/events/<int:event_id>/attendees.csv", dashboard.attendees_csv, name="attendees_csv"),
    path("dashboard/events/<int:event_id>/attendees.xlsx", dashboard.attendees_xlsx, name="attendees_xlsx"),
]

# The public pages keep the "events" namespace of their URLs: what is on sale, and one event.
event_patterns = [
    path("", RedirectView.as_view(pattern_name="events:list"), name="home"),
    path("events/", events.event_list, name="list"),
    path("events/<int:pk>/", events.event_detail, name="detail"),
]
