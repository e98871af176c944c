"""The API's JWT authentication: simplejwt's, refusing access tokens issued before a revocation."""

import functools

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework_simplejwt.authentication import JWTAuthentication, JWTStatelessUserAuthentication
from rest_framework_simplejwt.exceptions import AuthenticationFailed, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.utils import aware_utcnow

from accounts import revocation
from accounts.services import REVOKED


def _refuse():
    raise AuthenticationFailed(REVOKED, code="token_revoked")


# Tokens whose signature this process has checked. A crowd's browsers poll every few seconds with
# the same token: PyJWT's decode (options, key checks, base64, HMAC) was a fifth of a poll's CPU.
# A token is remembered as it was validated; its expiry is checked again at each use.
TOKEN_MEMO_SIZE = 20_000


@functools.lru_cache(maxsize=TOKEN_MEMO_SIZE)
def _validated(raw_token: bytes):
    return JWTAuthentication().get_validated_token(raw_token)  # raises (and remembers nothing) if invalid


class MemoisedTokens:
    """get_validated_token through _validated: the signature once per process, the expiry always."""

    def get_validated_token(self, raw_token):
        token = _validated(bytes(raw_token))
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:
            return super().get_validated_token(raw_token)  # simplejwt's own "expired" answer
        return token


class RevocableJWTAuthentication(MemoisedTokens, JWTAuthentication):
    """Bearer JWTs whose account is read from the database, its mark with it."""

    def get_user(self, validated_token):
        user = super().get_user(validated_token)
        if revocation.issued_before(
            issued_at=validated_token.get("iat", 0), mark=user.access_tokens_valid_after
        ):
            _refuse()
        return user


class RevocableStatelessJWTAuthentication(MemoisedTokens, JWTStatelessUserAuthentication):
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
