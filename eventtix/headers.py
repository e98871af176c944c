"""Response headers every answer gets: a content security policy, and no caching of what a
logged-in person saw."""

from csp.constants import HEADER
from csp.middleware import CSPMiddleware
from django.utils.cache import add_never_cache_headers

# A JSON answer loads nothing and is framed by nobody: a fixed policy that allows nothing.
JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY) for pages and scripts; JSON gets
    JSON_POLICY, a constant, instead of a policy built afresh for each of a crowd's polls."""

    def process_response(self, request, response):
        if response.get("Content-Type", "").startswith("application/json"):
            if HEADER not in response:
                response[HEADER] = JSON_POLICY
            return response
        return super().process_response(request, response)


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
