import pytest
from django.urls import reverse

from ticketing import services

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "admin:index",
    "admin:events_event_changelist",
    "admin:events_tickettype_changelist",
    "admin:ticketing_ticketrequest_changelist",
    "admin:ticketing_order_changelist",
    "admin:ticketing_ticket_changelist",
    "admin:ticketing_auditentry_changelist",
    "admin:accounts_user_changelist",
]


@pytest.fixture
def served_request(buyer, vip):
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    services.drain_event_queue(event_id=vip.event_id)


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_load_for_staff(client, admin_user, served_request, name):
    client.force_login(admin_user)
    assert client.get(reverse(name)).status_code == 200


@pytest.mark.parametrize("name", ADMIN_PAGES)
def test_admin_pages_are_refused_to_buyers(client, buyer, name):
    client.force_login(buyer)
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_ticket_type_list_shows_remaining_and_queue_length(client, admin_user, buyer, vip, regular):
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=3)
    services.drain_event_queue(event_id=vip.event_id)
    services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    client.force_login(admin_user)
    rows = client.get(reverse("admin:events_tickettype_changelist")).context["cl"].result_list
    by_name = {t.name: t for t in rows}
    assert (by_name["VIP"].remaining_n, by_name["VIP"].queued) == (17, 0)
    assert (by_name["Regular"].remaining_n, by_name["Regular"].queued) == (79, 1)


def test_transactions_export_as_csv(client, admin_user, served_request):
    from ticketing.models import AuditEntry

    client.force_login(admin_user)
    response = client.post(
        reverse("admin:ticketing_auditentry_changelist"),
        {"action": "export_csv", "_selected_action": list(AuditEntry.objects.values_list("pk", flat=True))},
    )
    assert response.status_code == 200
    lines = b"".join(response.streaming_content).decode().strip().splitlines()
    assert lines[0].startswith("transaction_id,timestamp,kind")
    assert [line.split(",")[2] for line in lines[1:]] == ["queued", "fulfilled"]
