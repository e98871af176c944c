"""The outbox's messages: HTML with a plain-text part, the confirmation's QR codes inline and its
tickets' PDF attached, every link absolute on SITE_URL."""

import email
import io
from datetime import timedelta

import pytest
import zxingcpp
from django.utils import timezone
from PIL import Image
from pypdf import PdfReader

from conftest import buy
from ticketing import services
from ticketing.models import Order
from ticketing.services import signing

pytestmark = pytest.mark.django_db
SITE = "https://tix.example.test"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE + "/"


@pytest.fixture
def order(buyer, make_event):
    event = make_event(
        name="Jazz im Hof",
        vip=None,
        regular=10,
        time_zone="Europe/Berlin",
        currency="EUR",
        cancellation_deadline=timezone.now() + timedelta(days=1),
    )
    buy(buyer, event.ticket_types.get(), quantity=2)
    return Order.objects.get()


def sent(mailoutbox):
    """The one message sent, parsed back from its bytes as a mail client would."""
    [message] = mailoutbox
    return message, email.message_from_bytes(message.message().as_bytes())


def parts(parsed, content_type):
    return [part for part in parsed.walk() if part.get_content_type() == content_type]


def test_the_confirmation_is_html_with_a_text_part_inline_qr_codes_and_the_pdf(order, mailoutbox):
    assert services.send_outbox() == 1
    message, parsed = sent(mailoutbox)
    tickets = list(order.tickets.order_by("pk"))

    assert parsed.get_content_type() == "multipart/mixed"
    [related] = parts(parsed, "multipart/related")
    [alternative] = parts(related, "multipart/alternative")
    [text] = parts(alternative, "text/plain")
    [html] = parts(alternative, "text/html")
    text, html = text.get_payload(decode=True).decode(), html.get_payload(decode=True).decode()
    assert f"Order number: {order.pk}\n" in text and "Total: €100.00" in text
    assert "CET" in text and "Jazz im Hof" in html and "€100.00" in html
    assert f'href="{SITE}/orders/{order.pk}/"' in html and f'href="{SITE}/tickets/"' in html
    assert "<style" not in html and "stylesheet" not in html

    images = parts(related, "image/png")
    assert len(images) == 2
    for image, ticket in zip(images, tickets, strict=True):
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html
        picture = Image.open(io.BytesIO(image.get_payload(decode=True)))
        assert [code.text for code in zxingcpp.read_barcodes(picture)] == [signing.signed_token(ticket)]
        assert f'href="{SITE}{ticket.get_absolute_url()}"' in html

    [pdf] = parts(parsed, "application/pdf")
    assert pdf.get_filename() == f"eventtix-order-{order.pk}-tickets.pdf"
    assert len(PdfReader(io.BytesIO(pdf.get_payload(decode=True))).pages) == 2


def test_the_waiting_list_confirmation_carries_the_tickets_too(make_user, make_event, mailoutbox):
    event = make_event(vip=None, regular=1, cancellation_deadline=timezone.now() + timedelta(days=1))
    regular = event.ticket_types.get()
    [first] = buy(make_user(), regular)
    late = make_user()
    services.enqueue_request(user=late, ticket_type_id=regular.pk, quantity=1, wait_if_sold_out=True)
    services.cancel_order(user=first.order.user, order_id=first.order_id)
    services.drain_event_queue(event_id=event.pk)
    services.send_outbox()
    [message] = [m for m in mailoutbox if m.to == [late.email]]
    parsed = email.message_from_bytes(message.message().as_bytes())
    assert "from the waiting list" in message.subject
    assert len(parts(parsed, "image/png")) == 1 and len(parts(parsed, "application/pdf")) == 1


def test_a_confirmation_sent_after_every_ticket_was_cancelled_carries_no_codes(buyer, order, mailoutbox):
    services.cancel_order(user=buyer, order_id=order.pk)
    assert services.send_outbox() == 2
    confirmation = next(m for m in mailoutbox if not m.subject.endswith("were cancelled"))
    parsed = email.message_from_bytes(confirmation.message().as_bytes())
    assert parts(parsed, "image/png") == [] and parts(parsed, "application/pdf") == []
    assert parts(parsed, "text/html")


def test_the_order_cancellation_is_html_too(buyer, order, mailoutbox):
    services.send_outbox()
    mailoutbox.clear()
    services.cancel_order(user=buyer, order_id=order.pk)
    assert services.send_outbox() == 1
    message, parsed = sent(mailoutbox)
    [html] = parts(parsed, "text/html")
    html = html.get_payload(decode=True).decode()
    assert f"Your order #{order.pk} for Jazz im Hof is cancelled" in html
    assert f'href="{SITE}/orders/{order.pk}/"' in html
    assert f"Your order #{order.pk} for Jazz im Hof is cancelled" in message.body
    assert parts(parsed, "application/pdf") == [] and parts(parsed, "image/png") == []


def test_the_event_cancellation_is_html_with_the_time_in_the_events_zone(admin_user, order, mailoutbox):
    services.send_outbox()
    mailoutbox.clear()
    services.cancel_event(user=admin_user, event_id=order.event_id, reason="storm")
    assert services.send_outbox() == 1
    message, parsed = sent(mailoutbox)
    [html] = parts(parsed, "text/html")
    html = html.get_payload(decode=True).decode()
    assert "Jazz im Hof is cancelled" in html and "CET" in html
    assert "Jazz im Hof at Hall" in message.body and "CET" in message.body


def test_an_email_that_cannot_be_rendered_holds_up_none_of_the_others(
    make_user, make_event, monkeypatch, mailoutbox
):
    event = make_event(vip=None, regular=10)
    regular = event.ticket_types.get()
    unlucky, lucky = make_user(), make_user()
    buy(unlucky, regular)
    buy(lucky, regular)
    from ticketing.services import notifications

    real = notifications.build_email

    def build(row, **kwargs):
        if kwargs["user"] == unlucky:
            raise ValueError("a template bug")
        return real(row, **kwargs)

    monkeypatch.setattr(notifications, "build_email", build)
    assert services.send_outbox() == 1
    assert [m.to for m in mailoutbox] == [[lucky.email]]


def test_a_confirmation_is_written_in_its_buyers_language(order, mailoutbox):
    from django.utils import translation

    order.user.language = "de"
    order.user.save(update_fields=["language"])
    services.send_outbox()
    message, parsed = sent(mailoutbox)
    with translation.override("de"):
        subject = translation.gettext("Your tickets for {event}").format(event="Jazz im Hof")
    assert subject != "Your tickets for Jazz im Hof"
    assert message.subject == subject
    html = parts(parsed, "text/html")[0].get_payload(decode=True).decode()
    assert '<html lang="de">' in html
    # The sender's own language is left as it was.
    assert translation.get_language() in ("en", "en-us")
