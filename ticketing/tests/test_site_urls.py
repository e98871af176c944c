"""The project's own URLs: the favicon, and the API schema's padlocks."""

import pytest
from django.templatetags.static import static

pytestmark = pytest.mark.django_db


def test_favicon_ico_redirects_to_the_static_svg(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == static("img/favicon.svg")
    assert client.get(response["Location"]).status_code == 200


@pytest.fixture
def operations(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    return {
        (method.upper(), path): operation
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    }


@pytest.mark.parametrize(
    "operation", [("GET", "/api/events"), ("POST", "/api/auth/login"), ("POST", "/api/auth/register")]
)
def test_operations_open_to_anyone_need_no_token_in_the_schema(operations, operation):
    assert operations[operation]["security"] == []


@pytest.mark.parametrize("operation", [("GET", "/api/orders"), ("POST", "/api/ticket-requests")])
def test_operations_that_need_a_token_keep_their_padlock(operations, operation):
    assert {"jwtAuth": []} in operations[operation]["security"]


def test_no_operation_offers_the_token_as_optional(operations):
    assert [key for key, op in operations.items() if {} in op.get("security", [])] == []
