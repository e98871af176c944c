"""The error responses shared by the API's OpenAPI descriptions."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers


class ErrorOut(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, for a person to read.")
    code = serializers.CharField(required=False, help_text="A stable machine-readable reason.")


class AlreadyCheckedInOut(ErrorOut):
    checked_in_at = serializers.DateTimeField(required=False, help_text="`already_checked_in` only: when.")
    checked_in_by = serializers.CharField(required=False, allow_null=True, help_text="Who admitted it.")
    check_in_list = serializers.CharField(required=False, allow_null=True, help_text="On which list.")


# A 400 is either messages per input field, {"quantity": ["A valid integer is required."]}, or one
# message for the whole request, {"detail": "...", "code": "..."} (malformed JSON, a refused rule).
BAD_REQUEST = {
    "type": "object",
    "additionalProperties": {
        # A list input's messages come per item: {"ticket_ids": {"1": ["..."]}}.
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}, {"type": "object"}],
    },
    "example": {"email": ["This field is required."]},
}

DESCRIPTIONS = {
    400: "The input was malformed or a rule refused it.",
    401: "Not logged in, or the token is missing, expired or invalid (`WWW-Authenticate: Bearer`).",
    403: "Logged in, but without the permission this needs.",
    404: "Not found (or not yours).",
    409: "The request conflicts with the current state.",
    422: "The `Idempotency-Key` was already used for a different request.",
    429: "Too many requests; retry after the `Retry-After` header's seconds.",
}


def error_responses(*codes: int, **overrides) -> dict[int, OpenApiResponse]:
    """Error responses for extend_schema: `error_responses(401, 404, s409=(ErrorOut, "Sold out."))`."""
    codes = sorted({*codes, *(int(name[1:]) for name in overrides)})
    responses = {}
    for code in codes:
        default = BAD_REQUEST if code == 400 else ErrorOut
        response, description = overrides.get(f"s{code}", (default, DESCRIPTIONS[code]))
        responses[code] = OpenApiResponse(response=response, description=description)
    return responses


def public_operations_need_no_token(result, generator, request, public):
    """drf-spectacular postprocessing hook: an operation open to anyone says `security: []`.

    drf-spectacular lists the bearer token and an empty alternative ({}) for an AllowAny view, which
    Swagger UI still draws a padlock for; an empty list says plainly that no token is needed.
    """
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and {} in security:
                operation["security"] = []
    return result
