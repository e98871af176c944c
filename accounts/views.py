"""Sign-up and the account page; log-in, log-out and password reset are Django's own views."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_POST

from accounts.forms import PasswordChangeForm, RegisterForm, ResetPasswordForm
from accounts.services import register_user, remember_language, revoke_all_sessions
from eventtix.throttling import REGISTER, throttle_page

# Named, not imported: accounts does not import ticketing, which owns the door.
DOOR_PERMISSION = "ticketing.check_in_ticket"
DOOR_URL_NAME = "ticketing:door"


def _next_url(request) -> str:
    url = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return resolve_url(settings.LOGIN_REDIRECT_URL)


@throttle_page(REGISTER)
def register(request):
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = register_user(
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            remember_language(user=user, language=request.LANGUAGE_CODE)
            return redirect(_next_url(request))
    status = 400 if form.errors else 200
    return render(
        request, "accounts/register.html", {"form": form, "next": _next_url(request)}, status=status
    )


@login_required
def account(request):
    """The account page: change the password, or log out everywhere."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()  # also ends every other session and every token
        update_session_auth_hash(request, user)
        messages.success(request, _("Your password was changed; every other session and app was logged out."))
        return redirect("account")
    status = 400 if form.errors else 200
    return render(request, "accounts/account.html", {"form": form}, status=status)


@login_required
@require_POST
def log_out_everywhere(request):
    """Ends every session and token of the account, this one too."""
    revoke_all_sessions(user=request.user)
    logout(request)
    messages.success(request, _("You were logged out everywhere: every browser and app."))
    return redirect("login")


class LoginView(auth_views.LoginView):
    """Django's log-in; without a ?next=, door-only staff land on the door page, the rest on events."""

    def form_valid(self, form):
        response = super().form_valid(form)
        remember_language(user=form.get_user(), language=self.request.LANGUAGE_CODE)
        return response

    def get_default_redirect_url(self):
        user = self.request.user
        if not user.is_staff and user.has_perm(DOOR_PERMISSION):
            return reverse(DOOR_URL_NAME)
        return super().get_default_redirect_url()


@require_POST
def set_language(request):
    """Django's language switch; a logged-in person's emails follow the choice too."""
    response = i18n.set_language(request)
    if request.user.is_authenticated:
        remember_language(user=request.user, language=request.POST.get("language"))
    return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's, with a form whose save also logs the account out everywhere."""

    form_class = ResetPasswordForm
