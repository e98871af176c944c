"""The API's account operations: sign-up, JWT log-in, refresh and log-out, and who am I."""

from django.contrib.auth import authenticate
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import AuthenticationFailed, PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from accounts import lockout, services
from accounts.serializers import LoginIn, MeOut, RefreshIn, RegisterIn, TokenPairOut, UserOut
from eventtix.api.schema import ErrorOut, error_responses
from eventtix.api.throttles import LoginRateThrottle, RegisterRateThrottle

TAG = "auth"


def token_body(access: AccessToken) -> dict:
    return {
        "access_token": str(access),
        "token_type": "bearer",
        "expires_in": access["exp"] - access["iat"],
    }


class CredentialsView(APIView):
    """A view that takes credentials in its body and ignores any it is sent in headers."""

    authentication_classes = []

    def get_authenticate_header(self, request):
        # Without an authenticator DRF would turn a 401 into a 403; say how to authenticate.
        return 'Bearer realm="api"'


class RegisterView(CredentialsView):
    """Creates a buyer account."""

    throttle_classes = [RegisterRateThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="auth_register",
        request=RegisterIn,
        responses={201: UserOut, **error_responses(400, 429)},
        description="Email addresses are unique whatever their case; Django's password rules "
        "apply (at least 8 characters, not common, not all digits, not like the name or email).",
    )
    def post(self, request):
        payload = RegisterIn(data=request.data)
        payload.is_valid(raise_exception=True)
        user = services.register_user(**payload.validated_data)
        services.remember_language(user=user, language=request.LANGUAGE_CODE)
        return Response(UserOut(user).data, status=status.HTTP_201_CREATED)


class LoginView(CredentialsView):
    """Exchanges an email and password for a JWT access and refresh token."""

    throttle_classes = [LoginRateThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="auth_login",
        request=LoginIn,
        responses={200: TokenPairOut, **error_responses(400, 401, 429)},
        description="Too many wrong passwords for one account lock it for a while, whatever the "
        "client's address: a 429 with the code `account_locked` and Retry-After.",
    )
    def post(self, request):
        payload = LoginIn(data=request.data)
        payload.is_valid(raise_exception=True)
        user = authenticate(request, **payload.validated_data)
        if user is None:
            lockout.refuse_if_locked_out(request)
            raise AuthenticationFailed(_("Incorrect email or password."), code="invalid_credentials")
        lockout.forget_failures(request, user)
        services.remember_language(user=user, language=request.LANGUAGE_CODE)
        refresh = RefreshToken.for_user(user)
        tokens = {**token_body(refresh.access_token), "refresh_token": str(refresh)}
        return Response(TokenPairOut(tokens).data)


class RefreshView(CredentialsView):
    """Exchanges a refresh token for a new access token and a new refresh token."""

    @extend_schema(
        tags=[TAG],
        operation_id="auth_refresh",
        request=RefreshIn,
        responses={
            200: TokenPairOut,
            **error_responses(
                400,
                s401=(
                    ErrorOut,
                    "The refresh token is invalid, expired or revoked; or it was already used, "
                    "and every token of the account has been revoked.",
                ),
            ),
        },
        description="The refresh token sent is used up: keep the new `refresh_token` for the next "
        "refresh. Sending a used one again is taken for theft and logs the account out everywhere.",
    )
    def post(self, request):
        payload = RefreshIn(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            refresh = services.rotate_refresh_token(refresh_token=payload.validated_data["refresh_token"])
        except services.TokenRefused as exc:
            raise AuthenticationFailed(str(exc), code="token_not_valid") from exc
        tokens = {**token_body(refresh.access_token), "refresh_token": str(refresh)}
        return Response(TokenPairOut(tokens).data)


class LogoutView(APIView):
    """Revokes a refresh token of the caller's, and the access tokens issued to them until now."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=[TAG],
        operation_id="auth_logout",
        request=RefreshIn,
        responses={
            204: OpenApiResponse(description="Logged out."),
            **error_responses(400, 401, s403=(ErrorOut, "The refresh token is another account's.")),
        },
        description="Ends the refresh token given and every access token of the account issued "
        "until now; other devices keep their refresh tokens and get a new access token with "
        "their next refresh. The page sessions stay; the account page logs out everywhere.",
    )
    def post(self, request):
        payload = RefreshIn(data=request.data)
        payload.is_valid(raise_exception=True)
        try:
            services.log_out(user=request.user, refresh_token=payload.validated_data["refresh_token"])
        except services.TokenRefused as exc:
            raise ValidationError({"refresh_token": [str(exc)]}) from exc
        except services.NotYourToken as exc:
            raise PermissionDenied(str(exc)) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """The logged-in user."""

    permission_classes = [IsAuthenticated]

    @extend_schema(tags=[TAG], operation_id="auth_me", responses={200: MeOut, **error_responses(401)})
    def get(self, request):
        return Response(MeOut(request.user).data)
