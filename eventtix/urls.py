from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts import views as accounts_views
from eventtix import throttling
from ticketing.urls import event_patterns

# The API answers in JSON even for a URL none of its routes match; the pages keep their 404 page.
handler404 = "ticketing.api.exceptions.not_found"
handler500 = "ticketing.api.exceptions.server_error"


def favicon(request):
    """Browsers ask for /favicon.ico whatever the page names; the icon is the static SVG."""
    # Not permanent: the static file's name carries a hash that changes with the icon.
    return redirect(static("img/favicon.svg"))


admin.site.site_header = _("EventTix staff")
admin.site.site_title = _("EventTix staff")
admin.site.index_title = _("Events, queues and tickets")

urlpatterns = [
    path("favicon.ico", favicon),
    # The admin's log-in, throttled as the site's; matched before the admin's own route to it.
    path("admin/login/", throttling.throttle_page(throttling.LOGIN, standalone=True)(admin.site.login)),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's set-up script as a file, as the CSP requires (no inline script).
    path("docs", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("ticketing.api.urls")),
    path("accounts/", include("accounts.urls")),
    # Django's language switch, which also keeps a logged-in person's choice for their emails.
    path("i18n/setlang/", accounts_views.set_language, name="set_language"),
    path("", include((event_patterns, "events"))),
    path("", include("ticketing.urls")),
]
