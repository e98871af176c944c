import pytest
from rest_framework.test import APIClient

from conftest import as_user, requires_postgres
from ticketing import services
from ticketing.models import AuditEntry
from ticketing.tests.processes import in_parallel

pytestmark = pytest.mark.django_db


def test_verify_tells_anyone_a_ticket_is_valid_without_personal_data(api, ticket):
    response = api.get(f"/api/tickets/verify/{ticket.qr_token}")

    assert response.status_code == 200
    body = response.json()
    assert body["valid"] is True
    assert body["status"] == "valid"
    assert body["checked_in_at"] is None
    assert body["event"]["name"] == ticket.ticket_type.event.name
    assert body["ticket_type"] == {"id": ticket.ticket_type_id, "name": "VIP"}
    assert "holder_name" not in body
    assert "Alice" not in response.content.decode()
    assert "alice@" not in response.content.decode()


def test_verify_hides_the_holder_from_other_buyers(api, other_buyer, ticket):
    assert "holder_name" not in as_user(api, other_buyer).get(f"/api/tickets/verify/{ticket.qr_token}").json()


@pytest.mark.parametrize("staff", ["door_staff", "admin_user"])
def test_verify_shows_door_staff_the_holders_name(api, ticket, request, staff):
    response = as_user(api, request.getfixturevalue(staff)).get(f"/api/tickets/verify/{ticket.qr_token}")

    assert response.json()["holder_name"] == "Alice"


def test_verify_reports_a_checked_in_ticket(api, door_staff, ticket):
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)

    body = api.get(f"/api/tickets/verify/{ticket.qr_token}").json()

    assert body["valid"] is True
    assert body["status"] == "checked_in"
    assert body["checked_in_at"].endswith("Z")


@pytest.mark.parametrize("token", ["no-such-token", "a%00b", "x" * 300, "%C3%A9t%C3%A9"])
def test_verify_of_an_unknown_code_is_404_not_valid(api, ticket, token):
    response = api.get(f"/api/tickets/verify/{token}")

    assert response.status_code == 404
    assert response.json()["valid"] is False


def test_checkin_admits_a_ticket_for_door_staff(api, door_staff, ticket):
    response = as_user(api, door_staff).post(f"/api/tickets/checkin/{ticket.qr_token}")

    assert response.status_code == 200
    body = response.json()
    assert body["checked_in"] is True
    assert body["status"] == "checked_in"
    assert body["holder_name"] == "Alice"
    ticket.refresh_from_db()
    assert ticket.checked_in_by == door_staff
    assert body["checked_in_at"].startswith(ticket.checked_in_at.strftime("%Y-%m-%dT%H:%M:%S"))


def test_a_second_checkin_is_409_saying_when(api, door_staff, ticket):
    as_user(api, door_staff)
    first = api.post(f"/api/tickets/checkin/{ticket.qr_token}").json()

    response = api.post(f"/api/tickets/checkin/{ticket.qr_token}")

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "already_checked_in"
    assert body["detail"].startswith("Already checked in at ")
    assert body["checked_in_at"] == first["checked_in_at"]


def test_checkin_by_an_anonymous_caller_is_401(api, ticket):
    response = api.post(f"/api/tickets/checkin/{ticket.qr_token}")

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


@pytest.mark.parametrize("who", ["buyer", "other_buyer"])
def test_checkin_by_a_buyer_is_403_even_for_their_own_ticket(api, ticket, request, who):
    response = as_user(api, request.getfixturevalue(who)).post(f"/api/tickets/checkin/{ticket.qr_token}")

    assert response.status_code == 403
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


@pytest.mark.parametrize("token", ["no-such-token", "a%00b"])
def test_checkin_of_an_unknown_code_is_404(api, door_staff, token):
    response = as_user(api, door_staff).post(f"/api/tickets/checkin/{token}")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_checkin_through_a_browser_session_needs_the_csrf_token(door_staff, ticket):
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(door_staff)

    assert browser.post(f"/api/tickets/checkin/{ticket.qr_token}").status_code == 403


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_of_simultaneous_scans_of_one_ticket_exactly_one_succeeds(door_staff, ticket):
    scanners = 8

    def scan():
        return as_user(APIClient(), door_staff).post(f"/api/tickets/checkin/{ticket.qr_token}").status_code

    statuses = in_parallel(scanners, scan)

    assert sorted(statuses) == [200] + [409] * (scanners - 1)
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.CHECKED_IN).count() == 1
