"""The door's API: check-in lists, wrong events, re-entry, undo; parallel scans on PostgreSQL."""

import pytest
from rest_framework.test import APIClient

from conftest import as_user, requires_postgres
from ticketing import services
from ticketing.models import AuditEntry, CheckIn, CheckInList, Ticket
from ticketing.tests.processes import in_parallel

pytestmark = pytest.mark.django_db


def test_the_lists_door_staff_may_use_come_with_their_counts(api, door_staff, ticket):
    [listed] = as_user(api, door_staff).get("/api/check-in-lists").json()
    assert (listed["name"], listed["is_default"], listed["event"]["id"]) == (
        "Main entrance",
        True,
        ticket.ticket_type.event_id,
    )
    assert listed["counts"] == [
        {"ticket_type": "VIP", "inside": 0, "valid": 1},
        {"ticket_type": "Regular", "inside": 0, "valid": 0},
    ]


def test_checkin_on_a_list_of_another_event_is_409_wrong_event_and_uses_nothing(
    api, door_staff, ticket, make_event
):
    tonight = services.default_list(make_event(name="Tonight"))
    response = as_user(api, door_staff).post(
        f"/api/tickets/checkin/{ticket.qr_token}", {"check_in_list": tonight.pk}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "wrong_event"
    ticket.refresh_from_db()
    assert ticket.status == "valid" and not CheckIn.objects.exists()
    assert not AuditEntry.objects.filter(kind="checked_in").exists()


def test_the_list_may_come_in_the_query_string_and_must_be_a_number(api, door_staff, ticket):
    check_in_list = services.default_list(ticket.ticket_type.event)
    as_user(api, door_staff)
    bad = api.post(f"/api/tickets/checkin/{ticket.qr_token}?check_in_list=gate")
    assert bad.status_code == 400 and "check_in_list" in bad.json()
    missing = api.post(f"/api/tickets/checkin/{ticket.qr_token}?check_in_list=999999")
    assert missing.status_code == 404
    ok = api.post(f"/api/tickets/checkin/{ticket.qr_token}?check_in_list={check_in_list.pk}")
    assert ok.status_code == 200 and ok.json()["check_in_list"] == "Main entrance"
    again = api.post(f"/api/tickets/checkin/{ticket.qr_token}?check_in_list={check_in_list.pk}").json()
    assert (again["code"], again["checked_in_by"], again["check_in_list"]) == (
        "already_checked_in",
        "Door Volunteer",
        "Main entrance",
    )


def test_a_cancelled_ticket_is_409_ticket_cancelled(api, door_staff, admin_user, ticket):
    services.cancel_order(user=admin_user, order_id=ticket.order_id, reason="fraud")
    response = as_user(api, door_staff).post(f"/api/tickets/checkin/{ticket.qr_token}")
    assert (response.status_code, response.json()["code"]) == (409, "ticket_cancelled")


def test_exit_and_re_entry_through_the_api(api, door_staff, ticket):
    gate = CheckInList.objects.create(event=ticket.ticket_type.event, name="Gate", allow_reentry=True)
    as_user(api, door_staff)
    body = {"check_in_list": gate.pk}
    assert api.post(f"/api/tickets/checkin/{ticket.qr_token}", body, format="json").status_code == 200
    assert api.post(f"/api/tickets/checkout/{ticket.qr_token}", body, format="json").json() == {
        "checked_out": True
    }
    again = api.post(f"/api/tickets/checkout/{ticket.qr_token}", body, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "not_checked_in")
    assert api.post(f"/api/tickets/checkin/{ticket.qr_token}", body, format="json").status_code == 200
    assert api.post(f"/api/tickets/checkout/{ticket.qr_token}", {}, format="json").status_code == 400


def test_undo_is_for_supervisors_and_audited(api, door_staff, supervisor, ticket):
    check_in_list = services.default_list(ticket.ticket_type.event)
    body = {"check_in_list": check_in_list.pk}
    assert (
        as_user(api, door_staff)
        .post(f"/api/tickets/checkin/{ticket.qr_token}", body, format="json")
        .status_code
        == 200
    )
    assert api.post(f"/api/tickets/checkin/{ticket.qr_token}/undo", body, format="json").status_code == 403
    assert as_user(api, supervisor).post(
        f"/api/tickets/checkin/{ticket.qr_token}/undo", body, format="json"
    ).json() == {"undone": True}
    assert Ticket.objects.get().status == "valid"
    assert AuditEntry.objects.filter(kind="check_in_undone").count() == 1


@requires_postgres
@pytest.mark.django_db(transaction=True)
def test_simultaneous_scans_of_one_ticket_on_one_list_admit_it_once(door_staff, ticket):
    gate = CheckInList.objects.create(event=ticket.ticket_type.event, name="Gate")

    def scan():
        client = as_user(APIClient(), door_staff)
        return client.post(
            f"/api/tickets/checkin/{ticket.qr_token}", {"check_in_list": gate.pk}, format="json"
        ).status_code

    statuses = in_parallel(8, scan)
    assert sorted(statuses) == [200] + [409] * 7
    assert CheckIn.objects.filter(check_in_list=gate, active=True).count() == 1
    assert AuditEntry.objects.filter(kind=AuditEntry.Kind.CHECKED_IN).count() == 1


# Verify and privacy


def test_verify_gives_no_internal_ticket_id(api, ticket):
    body = api.get(f"/api/tickets/verify/{ticket.qr_token}").json()
    assert "id" not in body and body["valid"] is True


def test_verify_is_rate_limited_per_client(api, ticket):
    from ticketing.tests.test_security_abuse import rates

    with rates(verify="3/min"):
        statuses = [api.get(f"/api/tickets/verify/{ticket.qr_token}").status_code for _ in range(5)]
        other = APIClient().get(f"/api/tickets/verify/{ticket.qr_token}", REMOTE_ADDR="198.51.100.9")
    assert statuses == [200, 200, 200, 429, 429]
    assert other.status_code == 200


def test_pages_and_answers_with_qr_codes_are_never_stored(client, api, buyer, ticket):
    client.force_login(buyer)
    for url in ("/tickets/", ticket.get_absolute_url(), f"/orders/{ticket.order_id}/"):
        assert "no-store" in client.get(url)["Cache-Control"], url
    assert "no-store" in as_user(api, buyer).get("/api/orders")["Cache-Control"]
