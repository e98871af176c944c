"""The tickets PDF: one page per ticket that admits, each with the code the door scans; its API and page."""

import io
from datetime import timedelta

import pypdfium2
import pytest
import zxingcpp
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from conftest import as_user, buy
from ticketing import errors, services
from ticketing.models import Order
from ticketing.services import signing
from ticketing.services.ticket_pdf import render_order_tickets_pdf

pytestmark = pytest.mark.django_db


@pytest.fixture
def order(buyer, make_event):
    event = make_event(
        name="Sommerfest in Zürich",
        vip=None,
        regular=10,
        time_zone="Europe/Berlin",
        cancellation_deadline=timezone.now() + timedelta(days=1),
    )
    buy(buyer, event.ticket_types.get(), quantity=3)
    return Order.objects.get()


def pages(pdf: bytes):
    return PdfReader(io.BytesIO(pdf)).pages


def decoded_qr_codes(pdf: bytes) -> list[list[str]]:
    """Each page printed (rasterised by PDFium, Chromium's PDF engine, at 100 dpi) and read by a
    scanner: the text of every QR code on it, page by page."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return [
            [code.text for code in zxingcpp.read_barcodes(page.render(scale=100 / 72).to_pil().convert("L"))]
            for page in document
        ]
    finally:
        document.close()


def cancel_tickets(order, tickets):
    services.cancel_order(user=order.user, order_id=order.pk, ticket_ids=[t.pk for t in tickets])


def test_the_pdf_has_a_page_per_ticket_with_its_event_time_zone_and_scannable_code(order):
    tickets = list(order.tickets.order_by("pk"))
    pdf = render_order_tickets_pdf(order)
    document = pages(pdf)
    assert len(document) == 3
    for page, codes, ticket in zip(document, decoded_qr_codes(pdf), tickets, strict=True):
        text = page.extract_text()
        assert "Sommerfest in Zürich" in text
        assert "Alice" in text and "Regular" in text and f"#{order.pk}" in text
        assert "CET" in text or "CEST" in text  # the event's zone, named
        assert codes == [signing.signed_token(ticket)]


def test_the_pdf_leaves_out_cancelled_tickets(order):
    first, *rest = order.tickets.order_by("pk")
    cancel_tickets(order, [first])
    order = Order.objects.prefetch_related("tickets").get(pk=order.pk)
    codes = decoded_qr_codes(render_order_tickets_pdf(order))
    assert codes == [[signing.signed_token(t)] for t in rest]


def test_an_order_with_every_ticket_cancelled_has_no_pdf(order):
    cancel_tickets(order, list(order.tickets.all()))
    with pytest.raises(errors.NoValidTickets):
        render_order_tickets_pdf(Order.objects.get(pk=order.pk))


# The API


def pdf_url(order):
    return f"/api/orders/{order.pk}/tickets.pdf"


def test_the_api_gives_the_owner_the_pdf(api, buyer, order):
    response = as_user(api, buyer).get(pdf_url(order))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert f"order-{order.pk}" in response["Content-Disposition"]
    assert len(pages(response.content)) == 3


def test_the_api_answers_a_pdf_client_too(api, buyer, order):
    response = as_user(api, buyer).get(pdf_url(order), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")


def test_to_another_buyer_the_order_does_not_exist(api, other_buyer, order):
    response = as_user(api, other_buyer).get(pdf_url(order))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_api_asks_a_visitor_to_log_in(api, order):
    assert api.get(pdf_url(order)).status_code == 401


def test_the_api_answers_409_when_no_ticket_is_left(api, buyer, order):
    cancel_tickets(order, list(order.tickets.all()))
    response = as_user(api, buyer).get(pdf_url(order), HTTP_ACCEPT="application/pdf")
    assert response.status_code == 409
    assert response.json() == {
        "detail": "This order has no valid tickets left: all of them were cancelled.",
        "code": "no_valid_tickets",
    }


def test_the_schema_documents_the_pdf(api):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/orders/{id}/tickets.pdf"]["get"]
    assert operation["responses"]["200"]["content"]["application/pdf"]["schema"]["format"] == "binary"
    assert {"401", "404", "409"} <= set(operation["responses"])


# The page


def test_the_order_page_links_the_pdf_which_the_owner_downloads(buyer, order):
    client = Client()
    client.force_login(buyer)
    url = reverse("ticketing:order_tickets_pdf", args=[order.pk])
    assert url in client.get(order.get_absolute_url()).content.decode()
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert len(pages(response.content)) == 3


def test_the_page_route_hides_the_order_from_another_buyer(other_buyer, order):
    client = Client()
    client.force_login(other_buyer)
    assert client.get(reverse("ticketing:order_tickets_pdf", args=[order.pk])).status_code == 404


def test_the_page_route_explains_when_no_ticket_is_left(buyer, order):
    cancel_tickets(order, list(order.tickets.all()))
    client = Client()
    client.force_login(buyer)
    response = client.get(reverse("ticketing:order_tickets_pdf", args=[order.pk]), follow=True)
    assert response.redirect_chain[-1][0] == order.get_absolute_url()
    assert "no valid tickets left" in response.content.decode()
