"""Account rules shared by the sign-up page and the API."""

from django.contrib.auth import get_user_model, password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction


def register_user(*, name: str, email: str, password: str):
    """Create a buyer account; raise ValidationError with per-field messages when refused."""
    User = get_user_model()
    name = (name or "").strip()
    email = User.objects.normalize_email((email or "").strip()).lower()
    errors = {}
    if not name:
        errors["name"] = ["Please tell us your name."]
    elif len(name) > User._meta.get_field("name").max_length:
        errors["name"] = ["That name is too long (150 characters at most)."]
    try:
        validate_email(email)
    except ValidationError:
        errors["email"] = ["Enter a valid email address."]
    else:
        if User.objects.filter(email__iexact=email).exists():
            errors["email"] = ["An account with this email address already exists."]
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
        raise ValidationError({"email": ["An account with this email address already exists."]}) from None
