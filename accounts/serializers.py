"""The API's account shapes; the rules for a new account are in accounts.services."""

from django.contrib.auth import get_user_model
from rest_framework import serializers

# Long enough for any passphrase, short enough that hashing one is cheap.
PASSWORD_MAX_LENGTH = 1024


def password_field() -> serializers.CharField:
    return serializers.CharField(
        max_length=PASSWORD_MAX_LENGTH,
        trim_whitespace=False,
        write_only=True,
        style={"input_type": "password"},
    )


class RegisterIn(serializers.Serializer):
    name = serializers.CharField(max_length=1000)
    email = serializers.CharField(max_length=1000)
    password = password_field()


class LoginIn(serializers.Serializer):
    email = serializers.CharField(max_length=1000)
    password = password_field()


class RefreshIn(serializers.Serializer):
    refresh_token = serializers.CharField(max_length=4096)


class UserOut(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "name", "email"]


class MeOut(serializers.ModelSerializer):
    class Meta:
        model = get_user_model()
        fields = ["id", "name", "email", "is_staff"]


class AccessTokenOut(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.ChoiceField(choices=["bearer"])
    expires_in = serializers.IntegerField(help_text="Seconds until the access token expires.")


class TokenPairOut(AccessTokenOut):
    refresh_token = serializers.CharField(
        help_text="Send to /api/auth/refresh for a new access token and a new refresh token: "
        "each refresh token is used once."
    )
