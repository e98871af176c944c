"""Account rules shared by the pages, the admin and the API: sign-up, log-out and revocation."""

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework_simplejwt.exceptions import ExpiredTokenError, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import revocation


def register_user(*, name: str, email: str, password: str):
    """Create a buyer account; raise ValidationError with per-field messages when refused."""
    User = get_user_model()
    name = (name or "").strip()
    email = User.objects.normalize_email((email or "").strip()).lower()
    errors = {}
    if not name:
        errors["name"] = [_("Please tell us your name.")]
    elif len(name) > User._meta.get_field("name").max_length:
        errors["name"] = [_("That name is too long (150 characters at most).")]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = [_("Enter a valid email address.")]
    else:
        if User.objects.filter(email__iexact=email).exists():
            errors["email"] = [_("An account with this email address already exists.")]
    try:
        password_validation.validate_password(password or "", User(email=email, name=name))
    except ValidationError as exc:
        errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            return User.objects.create_user(email, password, name=name)
    except IntegrityError:
        # A concurrent sign-up with the same address won the race.
        raise ValidationError({"email": [_("An account with this email address already exists.")]}) from None


class TokenRefused(Exception):
    """A refresh token that may not be used (revoked, reused, invalid or expired)."""


class NotYourToken(Exception):
    """A refresh token of another account."""


REVOKED = gettext_lazy("This token was revoked; log in again.")
REUSED = gettext_lazy(
    "This refresh token was already used. In case it was stolen, every session and token of "
    "the account has been logged out; log in again."
)


def remember_language(*, user, language: str | None) -> None:
    """Keep the language a person uses the site in (one EventTix speaks), for the emails sent later."""
    if language not in dict(settings.LANGUAGES) or user.language == language:
        return
    get_user_model().objects.filter(pk=user.pk).update(language=language)
    user.language = language


def revoke_all_sessions(*, user) -> None:
    """Log the user out everywhere: every page session, refresh token and access token ends."""
    now = timezone.now()
    with transaction.atomic():
        user.tokens_valid_after = user.access_tokens_valid_after = now
        user.save(update_fields=["tokens_valid_after", "access_tokens_valid_after"])
        live = OutstandingToken.objects.filter(user=user, expires_at__gt=now, blacklistedtoken__isnull=True)
        BlacklistedToken.objects.bulk_create(
            [BlacklistedToken(token_id=pk) for pk in live.values_list("pk", flat=True)], ignore_conflicts=True
        )
    _publish(user_id=user.pk, mark=now)


def deactivate_user(*, user) -> None:
    """Close the account: it can no longer log in, and every session and token of it ends."""
    with transaction.atomic():
        user.is_active = False
        user.save(update_fields=["is_active"])
        revoke_all_sessions(user=user)


def log_out(*, user, refresh_token: str) -> None:
    """Blacklist the user's refresh token and end the access tokens issued to them until now.

    The user's other refresh tokens (other devices) and page sessions stay valid: an access
    token cannot be ended alone without a read per request, so the other devices' access
    tokens end too and each gets a new one with its next refresh.
    """
    try:
        token = RefreshToken(refresh_token)
    except ExpiredTokenError:
        return  # nothing left to revoke
    except TokenError as exc:
        raise TokenRefused(_("That is not a valid refresh token.")) from exc
    if str(token.get(api_settings.USER_ID_CLAIM)) != str(user.pk):
        raise NotYourToken(_("That refresh token belongs to another account."))
    now = timezone.now()
    with transaction.atomic():
        token.blacklist()
        get_user_model().objects.filter(pk=user.pk).update(access_tokens_valid_after=now)
    _publish(user_id=user.pk, mark=now)


def rotate_refresh_token(*, refresh_token: str) -> RefreshToken:
    """Blacklist a refresh token and return its successor.

    A refresh token that was already blacklisted (rotated or logged out) is being replayed,
    perhaps by someone who stole it: every token and session of its account is revoked.
    """
    try:
        token = _UncheckedRefreshToken(refresh_token)
    except TokenError as exc:
        raise TokenRefused(exc.args[0]) from exc
    user = get_user_model().objects.filter(pk=token.get(api_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active:
        raise TokenRefused(_("No active account found for the given token."))
    if revocation.issued_before(issued_at=token.get("iat", 0), mark=user.tokens_valid_after):
        # Already revoked with the rest of the account's tokens: refused, not revoked again.
        raise TokenRefused(REVOKED)
    with transaction.atomic():
        # A token issued before the blacklist app has no row yet; the lock makes two uses of one
        # token at once a rotation and a reuse, never two rotations.
        token.outstand()
        outstanding = OutstandingToken.objects.select_for_update().get(jti=token[api_settings.JTI_CLAIM])
        reused = BlacklistedToken.objects.filter(token=outstanding).exists()
        if not reused:
            BlacklistedToken.objects.create(token=outstanding)
            token.set_jti()
            token.set_exp()
            token.set_iat()
            token.outstand()
    if reused:
        revoke_all_sessions(user=user)
        raise TokenRefused(REUSED)
    return token


class _UncheckedRefreshToken(RefreshToken):
    """A refresh token whose blacklisting rotate_refresh_token checks itself, under a lock."""

    def check_blacklist(self) -> None:
        pass


def _publish(*, user_id: int, mark) -> None:
    # At once, so this process refuses the tokens from now on, and again after the commit, in
    # case a concurrent read cached the old mark in between.
    revocation.remember(user_id=user_id, mark=mark)
    transaction.on_commit(lambda: revocation.remember(user_id=user_id, mark=mark))
