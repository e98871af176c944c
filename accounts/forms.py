"""Forms of the account pages; the rules themselves are in accounts.services."""

from django import forms
from django.contrib.auth import forms as auth_forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from accounts.services import revoke_all_sessions


class LoginForm(AuthenticationForm):
    # Django's message says both fields may be case-sensitive; the email address is not.
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _(
            "Please enter a correct email address and password. "
            "The password is case-sensitive; the email address is not."
        ),
    }
    username = forms.EmailField(
        label=_("Email address"), widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )


class RegisterForm(forms.Form):
    name = forms.CharField(
        label=_("Your name"), max_length=150, widget=forms.TextInput(attrs={"autocomplete": "name"})
    )
    email = forms.EmailField(
        label=_("Email address"), widget=forms.EmailInput(attrs={"autocomplete": "email"})
    )
    password = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("At least 8 characters, not a common password, not all digits."),
    )
    password_again = forms.CharField(
        label=_("Password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password") and cleaned.get("password") != cleaned.get("password_again"):
            self.add_error("password_again", _("The two passwords differ."))
        return cleaned


class RevokingSaveMixin:
    """A password form whose save also logs the user out everywhere (a new password ends every
    session and token the old one opened)."""

    def save(self, commit=True):
        user = super().save(commit=commit)
        if commit:
            revoke_all_sessions(user=user)
        return user


class PasswordChangeForm(RevokingSaveMixin, auth_forms.PasswordChangeForm):
    pass


class ResetPasswordForm(RevokingSaveMixin, auth_forms.SetPasswordForm):
    pass


class AdminPasswordChangeForm(RevokingSaveMixin, auth_forms.AdminPasswordChangeForm):
    pass
