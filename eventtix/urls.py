from django.contrib import admin
from django.urls import path

admin.site.site_header = "EventTix staff"
admin.site.site_title = "EventTix staff"
admin.site.index_title = "Events, queues and tickets"

urlpatterns = [
    path("admin/", admin.site.urls),
]
