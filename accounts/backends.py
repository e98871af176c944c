"""Authentication backends: the account lockout in front of Django's own."""

from axes.backends import AxesStandaloneBackend


class LockoutBackend(AxesStandaloneBackend):
    """Refuses a log-in to a locked-out account (django-axes); checks no password itself."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        # A log-in has a request; code that checks a password without one (a shell, a command)
        # is not a door to lock, and django-axes would raise instead of passing.
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
