"""Who may call which API operation, beyond being logged in."""

from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission

from ticketing import services


class CanCheckIn(BasePermission):
    """Allows access only to users who hold the door check-in permission."""

    message = gettext_lazy("Only door staff can check tickets in.")

    def has_permission(self, request, view):
        return services.can_check_in(request.user)
