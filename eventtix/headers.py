"""Response headers every page gets: nothing a logged-in person saw is kept by a cache."""

from django.utils.cache import add_never_cache_headers


class PrivatePagesMiddleware:
    """Marks every answer to a logged-in session `no-store`, unless its view chose caching itself.

    A shared computer's back button or a proxy must not show the next person someone's tickets,
    orders or the door's lists.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not response.has_header("Cache-Control"):
            add_never_cache_headers(response)
        return response
