from django.urls import path
from django.views.generic import RedirectView

from events import views

app_name = "events"
urlpatterns = [
    path("", RedirectView.as_view(pattern_name="events:list"), name="home"),
    path("events/", views.event_list, name="list"),
    path("events/<int:pk>/", views.event_detail, name="detail"),
]
