"""The API's JWT authentication: simplejwt's, refusing access tokens issued before a revocation."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings

from accounts import revocation
from accounts.services import REVOKED


def _refuse():
    raise AuthenticationFailed(REVOKED, code="token_revoked")


class RevocableJWTAuthentication(JWTAuthentication):
    """Bearer JWTs whose account is read from the database, its mark with it."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if revocation.issued_before(
            issued_at=validated_token.get("iat", 0), mark=user.access_tokens_valid_after
        ):
            _refuse()
        return user


class RevocableStatelessJWTAuthentication(JWTStatelessUserAuthentication):
    """Bearer JWTs trusted without reading the account; the mark is read from the cache."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        user_id = validated_token[api_settings.USER_ID_CLAIM]
        if revocation.access_token_revoked(user_id=user_id, issued_at=validated_token.get("iat", 0)):
            _refuse()
        return user


class RevocableJWTScheme(SimpleJWTScheme):
    """The OpenAPI schema's bearer JWT for the revocable authentication (simplejwt's scheme)."""

    target_class = "accounts.authentication.RevocableJWTAuthentication"
    match_subclasses = True
