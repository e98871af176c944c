"""Attendee lists (CSV and XLSX) and the admin's transaction export."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from ticketing import exports, services
from ticketing.models import AuditEntry, Ticket

pytestmark = pytest.mark.django_db
FORMULA_NAME = '=HYPERLINK("http://evil.example","Click")'
# 18:30 UTC is 19:30 in Berlin in December.
CHECKED_IN_AT = datetime(2026, 12, 24, 18, 30, tzinfo=UTC)


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def berlin_event(event):
    event.time_zone = "Europe/Berlin"
    event.save(update_fields=["time_zone"])
    return event


@pytest.fixture
def attended(berlin_event, vip, make_user, door_staff):
    """A formula-named buyer with two VIP tickets, one checked in at CHECKED_IN_AT."""
    buyer = make_user(email="mallory@example.test", name=FORMULA_NAME)
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=2)
    services.drain_event_queue(event_id=berlin_event.pk)
    first, second = Ticket.objects.order_by("id")
    services.check_in_ticket(qr_token=first.qr_token, staff_user=door_staff, now=CHECKED_IN_AT)
    return first, second


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_attendee_csv_lists_every_ticket_with_its_check_in_in_the_event_zone(admin_user, attended):
    first, second = attended
    url = reverse("ticketing:attendees_csv", args=[first.ticket_type.event_id])
    response = logged_in(admin_user).get(url)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    header, *rows = csv_rows(response.content)
    assert header == [
        "Name",
        "Email",
        "Ticket type",
        "Ticket number",
        "Order number",
        "Status",
        "Checked in at (Europe/Berlin)",
    ]
    holder = ["'" + FORMULA_NAME, "mallory@example.test", "VIP"]
    assert rows == [
        [*holder, str(first.pk), str(first.order_id), "Checked in", "2026-12-24 19:30:00"],
        [*holder, str(second.pk), str(second.order_id), "Valid", ""],
    ]


def test_attendee_xlsx_has_a_bold_header_widths_and_real_date_cells(admin_user, attended):
    first, _second = attended
    url = reverse("ticketing:attendees_xlsx", args=[first.ticket_type.event_id])
    response = logged_in(admin_user).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == exports.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(response.content)).active
    assert [c.value for c in sheet[1]][-1] == "Checked in at (Europe/Berlin)"
    assert all(c.font.b for c in sheet[1])
    name, email, type_name, ticket_id, order_id, status, checked_in = sheet[2]
    # Stored as text, so a spreadsheet shows the name instead of running it.
    assert (name.value, name.data_type) == (FORMULA_NAME, "s")
    assert (email.value, type_name.value, ticket_id.value, order_id.value, status.value) == (
        "mallory@example.test",
        "VIP",
        first.pk,
        first.order_id,
        "Checked in",
    )
    assert checked_in.value == datetime(2026, 12, 24, 19, 30)
    assert checked_in.is_date and "yyyy" in checked_in.number_format
    assert sheet[3][6].value is None
    assert sheet.column_dimensions["A"].width > len("Name") + 2
    assert sheet.column_dimensions["B"].width >= len("mallory@example.test")


def test_export_functions_give_the_admin_downloads(attended):
    event = attended[0].ticket_type.event
    csv_response = exports.attendees_csv_response(event)
    xlsx_response = exports.attendees_xlsx_response(event)
    assert csv_response["Content-Disposition"] == f'attachment; filename="attendees-{event.slug}.csv"'
    assert xlsx_response["Content-Disposition"] == f'attachment; filename="attendees-{event.slug}.xlsx"'
    assert len(csv_rows(csv_response.content)) == 3
    assert load_workbook(io.BytesIO(xlsx_response.content)).active.max_row == 3


@pytest.mark.parametrize("value", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_could_start_a_formula_is_neutralised(value):
    assert exports.neutralised(value) == "'" + value


@pytest.mark.parametrize("value", ["Alice", "a-b", "", 5, None])
def test_other_values_are_left_as_they_are(value):
    assert exports.neutralised(value) == value


@pytest.mark.parametrize("name", ["ticketing:attendees_csv", "ticketing:attendees_xlsx"])
def test_attendee_lists_are_for_staff_only(client, buyer, door_staff, event, name):
    url = reverse(name, args=[event.pk])
    assert client.get(url)["Location"].startswith(reverse("login"))
    assert logged_in(buyer).get(url).status_code == 403
    assert logged_in(door_staff).get(url).status_code == 403


@pytest.mark.parametrize("name", ["ticketing:attendees_csv", "ticketing:attendees_xlsx"])
def test_attendee_list_of_an_unknown_event_is_a_404(admin_user, name):
    assert logged_in(admin_user).get(reverse(name, args=[999_999])).status_code == 404


def test_an_event_without_tickets_exports_the_header_alone(admin_user, event):
    response = logged_in(admin_user).get(reverse("ticketing:attendees_csv", args=[event.pk]))
    assert len(csv_rows(response.content)) == 1


# The admin's transaction export


def test_transaction_export_names_the_buyer_and_the_event(client, admin_user, attended):
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:ticketing_auditentry_changelist"),
        {"action": "export_csv", "_selected_action": list(AuditEntry.objects.values_list("pk", flat=True))},
    )
    header, *rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert header[-4:] == ["buyer_email", "buyer_name", "event_name", "currency"]
    assert header[:-4][:3] == ["transaction_id", "timestamp", "kind"]
    kinds = {row[2]: row[-4:] for row in rows}
    event = attended[0].ticket_type.event
    buyer = ["mallory@example.test", "'" + FORMULA_NAME, event.name, event.currency]
    assert set(kinds) == {"queued", "fulfilled", "checked_in"}
    # A check-in's user is the door staff member; the buyer is still the ticket's.
    assert kinds["queued"] == kinds["fulfilled"] == kinds["checked_in"] == buyer


def test_dashboard_rows_show_after_a_sale_has_closed_in_the_export_links(admin_user, berlin_event):
    berlin_event.sale_closes_at = timezone.now() - timedelta(minutes=1)
    berlin_event.starts_at = timezone.now() + timedelta(hours=1)
    berlin_event.save()
    body = logged_in(admin_user).get(reverse("ticketing:dashboard")).content.decode()
    assert reverse("ticketing:attendees_csv", args=[berlin_event.pk]) in body
