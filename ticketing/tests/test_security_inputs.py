"""Hostile input is refused with a message per field (or one for an unparsable body), never a
500, and never leaves a record half written."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from ticketing import services
from ticketing.models import AuditEntry, Order, Ticket, TicketRequest

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "Quick-Test-Passw0rd"
NUL, RTL_MARK, RTL_OVERRIDE, COMBINING_ACUTE, EMOJI = "\x00", "\u200f", "\u202e", "\u0301", "\U0001f39f"


def raw(fields: dict, **escaped) -> str:
    """A JSON body; `escaped` values are spliced in verbatim, e.g. lone surrogates as \\ud800."""
    body = json.dumps(fields)[:-1]
    extra = "".join(f', "{name}": {text}' for name, text in escaped.items())
    return (body + extra + "}").replace("{, ", "{")


def register_body(**fields) -> dict:
    return {"name": "Test Buyer", "email": "test@example.test", "password": GOOD_PASSWORD, **fields}


# (body, the field that must carry the refusal)
REGISTER_REFUSALS = [
    (json.dumps(register_body(name=f"Al{NUL}ice")), "name"),
    (raw({"email": "t@example.test", "password": GOOD_PASSWORD}, name='"\\ud800"'), "name"),
    (raw({"email": "t@example.test", "password": GOOD_PASSWORD}, name='"A\\udfffB"'), "name"),
    (json.dumps(register_body(name="n" * 151)), "name"),
    (json.dumps(register_body(name="n" * 100_000)), "name"),
    (json.dumps(register_body(name="   ")), "name"),
    (json.dumps(register_body(name=["Alice"])), "name"),
    (json.dumps(register_body(name={"first": "Alice"})), "name"),
    (json.dumps(register_body(name=None)), "name"),
    (json.dumps(register_body(email=f"te{NUL}st@example.test")), "email"),
    (json.dumps(register_body(email=f"te{RTL_MARK}st@example.test")), "email"),
    (json.dumps(register_body(email=f"tset{RTL_OVERRIDE}@example.test")), "email"),
    (json.dumps(register_body(email=f"te{COMBINING_ACUTE}st@example.test")), "email"),
    (json.dumps(register_body(email=f"{EMOJI}@example.test")), "email"),
    (raw({"name": "T", "password": GOOD_PASSWORD}, email='"\\ud83d@example.test"'), "email"),
    (json.dumps(register_body(email="e" * 100_000 + "@example.test")), "email"),
    (json.dumps(register_body(email=True)), "email"),
    (json.dumps(register_body(password=f"Quick{NUL}Test-Passw0rd")), "password"),
    (raw({"name": "T", "email": "t@example.test"}, password='"Quick-Test-\\udc00-Passw0rd"'), "password"),
    (json.dumps(register_body(password="p" * 100_000)), "password"),
    (json.dumps(register_body(password=12345678901234)), "password"),
]

# Bodies no field can be blamed for: refused as a whole.
UNPARSABLE = [
    '{"name": ',
    '{"name": "unterminated}',
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 50_000 + "1" + "}" * 50_000,
    '{"quantity": NaN, "ticket_type_id": Infinity}',
    "\ufeff{}",
    "\x00",
]


def counts():
    User = get_user_model()
    return [m.objects.count() for m in (User, TicketRequest, AuditEntry, Order, Ticket)]


@pytest.fixture
def buyer_api(buyer):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(buyer)}")
    return api


@pytest.mark.parametrize("body, field", REGISTER_REFUSALS, ids=range(len(REGISTER_REFUSALS)))
def test_registration_refuses_hostile_fields_by_name_and_writes_nothing(body, field):
    before = counts()

    response = APIClient().generic("POST", "/api/auth/register", body, content_type="application/json")

    assert response.status_code == 400, response.content[:300]
    errors = response.json()
    assert field in errors and all(isinstance(m, str) and m for m in errors[field])
    assert counts() == before


def test_unusual_but_real_text_in_a_name_is_kept_exactly():
    # Names are people's own text: right-to-left marks, combining accents and emoji are real
    # names (Hebrew, Arabic, "José" typed as e + accent) and are stored as sent, not mangled.
    name = f"Jose{COMBINING_ACUTE} {RTL_MARK}שרה{RTL_MARK} {EMOJI}"
    response = APIClient().post("/api/auth/register", register_body(name=name), format="json")

    assert response.status_code == 201
    assert get_user_model().objects.get().name == name
    assert response.json()["name"] == name


@pytest.mark.parametrize("path", ["/api/auth/register", "/api/auth/login", "/api/ticket-requests"])
@pytest.mark.parametrize("body", UNPARSABLE, ids=range(len(UNPARSABLE)))
def test_an_unparsable_body_is_400_with_a_detail_and_writes_nothing(buyer_api, path, body):
    before = counts()

    response = buyer_api.generic("POST", path, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert counts() == before


@pytest.mark.parametrize(
    "quantity",
    [
        "two",
        1.5,
        "1e3",
        True,
        None,
        [1],
        {"n": 1},
        "",
        2**31,
        2**63,
        10**40,
        -(10**40),
        f"1{NUL}",
        f"1{RTL_MARK}",
        f"1{COMBINING_ACUTE}",
        EMOJI,
        "9" * 10_000,
    ],
)
def test_a_hostile_quantity_is_refused_on_the_quantity_field(buyer_api, vip, quantity):
    before = counts()

    response = buyer_api.post(
        "/api/ticket-requests", {"ticket_type_id": vip.pk, "quantity": quantity}, format="json"
    )

    assert response.status_code == 400
    assert "quantity" in response.json()
    assert counts() == before


@pytest.mark.parametrize("quantity", [0, -1, -(2**31), 5, 2**31 - 1])
def test_a_quantity_out_of_the_types_range_is_refused_with_the_reason(buyer_api, vip, quantity):
    before = counts()

    response = buyer_api.post(
        "/api/ticket-requests", {"ticket_type_id": vip.pk, "quantity": quantity}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_quantity"
    assert "1 to 4" in response.json()["detail"]
    assert counts() == before


@pytest.mark.parametrize(
    "ticket_type_id", [0, -1, 2**63, -(2**63), 10**40, 1.5, "x", f"1{NUL}", EMOJI, None, [1], "9" * 10_000]
)
def test_a_hostile_ticket_type_id_is_refused_on_its_field(buyer_api, ticket_type_id):
    response = buyer_api.post(
        "/api/ticket-requests", {"ticket_type_id": ticket_type_id, "quantity": 1}, format="json"
    )

    assert response.status_code == 400
    assert "ticket_type_id" in response.json()
    assert counts()[1:] == [0, 0, 0, 0]


def test_a_surrogate_in_a_json_escape_is_refused_on_its_field(buyer_api, vip):
    body = raw({"ticket_type_id": vip.pk}, quantity='"\\ud800"')

    response = buyer_api.generic("POST", "/api/ticket-requests", body, content_type="application/json")

    assert response.status_code == 400
    assert "quantity" in response.json()


@pytest.mark.parametrize("key", [f"k{NUL}", "k" * 101, f"k{EMOJI}" * 60])
def test_a_hostile_idempotency_key_is_refused_and_writes_nothing(buyer_api, vip, key):
    response = buyer_api.post(
        "/api/ticket-requests",
        {"ticket_type_id": vip.pk, "quantity": 1},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
    )

    assert response.status_code == 400
    assert "idempotency_key" in response.json()
    assert counts()[1:] == [0, 0, 0, 0]


@pytest.mark.parametrize(
    "query",
    [
        "event_id=%00",
        "event_id=-1",
        "event_id=1.5",
        "event_id=" + "9" * 5000,
        "event_id=%E2%80%8F1",
        "event_id=%ED%A0%80",
        "event_id=",
        "",
    ],
)
def test_a_hostile_event_id_is_refused_on_its_field(client, event, query):
    response = client.get(f"/api/availability?{query}", HTTP_ACCEPT="application/json")

    assert response.status_code == 400
    assert "event_id" in response.json()


@pytest.mark.parametrize(
    "path", ["/api/events/-1", "/api/events/1.5", "/api/ticket-requests/%00", "/api/nope"]
)
def test_an_api_url_no_route_matches_is_a_json_404(buyer_api, path):
    response = buyer_api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_a_body_that_is_not_json_is_415(buyer_api, vip):
    response = buyer_api.generic(
        "POST", "/api/ticket-requests", f"ticket_type_id={vip.pk}&quantity=1", content_type="text/plain"
    )

    assert response.status_code == 415
    assert counts()[1:] == [0, 0, 0, 0]


# The pages' forms


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": f"Al{NUL}ice"}, "name"),
        ({"name": "n" * 151}, "name"),
        ({"email": f"{EMOJI}@example.test"}, "email"),
        ({"email": f"tset{RTL_OVERRIDE}@example.test"}, "email"),
        ({"password": f"Quick{NUL}Test", "password_again": f"Quick{NUL}Test"}, "password"),
    ],
)
def test_the_sign_up_form_refuses_hostile_fields_by_name(fields, field):
    data = {
        "name": "T",
        "email": "t@example.test",
        "password": GOOD_PASSWORD,
        "password_again": GOOD_PASSWORD,
    }

    response = Client().post("/accounts/register/", {**data, **fields})

    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert not get_user_model().objects.exists()


@pytest.mark.parametrize(
    "quantity", ["-1", "0", "1e400", "9" * 5000, f"1{NUL}", EMOJI, "1.5", str(2**63), f"1{RTL_MARK}"]
)
def test_the_request_form_refuses_a_hostile_quantity_by_name(client, buyer, event, regular, quantity):
    client.force_login(buyer)

    response = client.post(f"/events/{event.pk}/", {"ticket_type": regular.pk, "quantity": quantity})

    assert response.status_code == 400
    assert "quantity" in response.context["form"].errors
    assert counts()[1:] == [0, 0, 0, 0]


@pytest.mark.parametrize(
    "code", [f"abc{NUL}", "x" * 501, f"{EMOJI}", "../../admin/", "https://evil.example/tickets/x/"]
)
def test_the_door_form_never_admits_a_hostile_code(client, door_staff, event, code):
    client.force_login(door_staff)

    response = client.post(f"/door/{services.default_list(event).pk}/", {"code": code})

    assert response.status_code == 200
    body = response.content.decode()
    assert '<p class="verdict">Admitted</p>' not in body and "refused" in body
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("code", ["a%00b", "x" * 201, "%E2%80%8F", "T.%00AAAA"])
def test_a_ticket_page_with_a_hostile_code_is_a_404(client, buyer, code):
    # Refused by its shape before any query: PostgreSQL rejects a NUL byte in a statement.
    client.force_login(buyer)

    assert client.get(f"/tickets/{code}/").status_code == 404
