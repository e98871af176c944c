from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email):
        return self.get(email__iexact=email)

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        extra_fields.setdefault("name", email.split("@")[0])
        return self._create_user(email, password, **extra_fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A buyer or staff member; the email address is the login."""

    email = models.EmailField(verbose_name=_("email address"), max_length=254, unique=True)
    name = models.CharField(verbose_name=_("name"), max_length=150)
    is_staff = models.BooleanField(
        verbose_name=_("is staff"), default=False, help_text=_("Can log in to the admin and see staff pages.")
    )
    is_active = models.BooleanField(verbose_name=_("is active"), default=True)
    date_joined = models.DateTimeField(verbose_name=_("date joined"), default=timezone.now)
    # Kept by accounts.services.remember_language from the pages and the API the person uses (a
    # code of LANGUAGES; no choices here, so a new language needs no migration).
    language = models.CharField(
        verbose_name=_("language"),
        max_length=10,
        blank=True,
        default="",
        # In the database too: rows written without the ORM (the benchmark's COPY) get it.
        db_default="",
        help_text=_("The language of the emails sent to this person; empty: the site's."),
    )
    # Moved by accounts.services.revoke_all_sessions: tokens issued before it, and every page
    # session opened before it, are refused.
    tokens_valid_after = models.DateTimeField(
        verbose_name=_("tokens valid after"), null=True, blank=True, editable=False
    )
    # Moved by every revocation, an API log-out too: access tokens issued before it are refused.
    access_tokens_valid_after = models.DateTimeField(
        verbose_name=_("access tokens valid after"), null=True, blank=True, editable=False, db_index=True
    )

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="user_email_ci_unique",
                violation_error_message=_("A user with that email address already exists."),
            )
        ]
        verbose_name = _("user")
        verbose_name_plural = _("users")

    def __str__(self):
        return f"{self.name} <{self.email}>"

    def clean(self):
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self):
        return self.name

    def get_short_name(self):
        return self.name

    def get_session_auth_hash(self):
        # The mark is part of the hash Django checks every session against, so moving it ends
        # every session opened before; a never-revoked account keeps Django's own hash.
        if self.tokens_valid_after is None:
            return super().get_session_auth_hash()
        return self._hash_with_mark(settings.SECRET_KEY)

    def get_session_auth_fallback_hash(self):
        if self.tokens_valid_after is None:
            yield from super().get_session_auth_fallback_hash()
            return
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._hash_with_mark(secret)

    def _hash_with_mark(self, secret):
        value = f"{self.password}|{self.tokens_valid_after.isoformat()}"
        return salted_hmac(
            "accounts.User.session_auth_hash", value, secret=secret, algorithm="sha256"
        ).hexdigest()
