"""Who may call which API operation, beyond being logged in."""

from rest_framework.permissions import BasePermission

from ticketing import services


class CanCheckIn(BasePermission):
    """Allows access only to users who hold the door check-in permission."""

    message = "Only door staff can check tickets in."

    def has_permission(self, request, view):
        return services.can_check_in(request.user)
