"""The queue, tickets, door and dashboard pages, for visitors, buyers, other buyers and staff."""

import re
from datetime import timedelta

import pytest
import segno
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from events import formatting
from events.models import Event, TicketType
from ticketing import services
from ticketing.models import AuditEntry, CheckInList, Ticket, TicketRequest
from ticketing.services import signing
from ticketing.templatetags.tix import qr_svg

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def queued(buyer, regular):
    return services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=2)


@pytest.fixture
def fulfilled(queued):
    services.drain_event_queue(event_id=queued.event_id)
    queued.refresh_from_db()
    return queued


@pytest.fixture
def ticket(fulfilled):
    return fulfilled.order.tickets.first()


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


# The queue page


def test_queue_page_shows_place_and_number_ahead(buyer, other_buyer, regular):
    services.enqueue_request(user=other_buyer, ticket_type_id=regular.pk, quantity=1)
    mine = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    response = logged_in(buyer).get(mine.get_absolute_url())
    assert response.status_code == 200
    assert response.context["position"].position == 2
    assert '<dd class="big" data-testid="ahead">1</dd>' in response.content.decode()


def test_queued_request_polls_itself(buyer, queued):
    body = logged_in(buyer).get(queued.get_absolute_url()).content.decode()
    # When to come back is the server's call (services.polling); near the front, soon.
    assert re.search(r'hx-trigger="load delay:[0-9.]+s"', body)
    assert "Cancel this request" in body


def test_htmx_poll_gets_the_status_panel_alone(buyer, queued):
    response = logged_in(buyer).get(queued.get_absolute_url(), **HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="request-status"')
    assert "<html" not in body


def test_served_request_becomes_the_tickets_and_stops_polling(buyer, fulfilled):
    body = logged_in(buyer).get(fulfilled.get_absolute_url(), **HTMX).content.decode()
    assert "You have your tickets" in body
    assert body.count('<svg role="img"') == 2
    assert "hx-trigger" not in body


def test_rejected_request_says_why(buyer, regular):
    TicketType.objects.filter(pk=regular.pk).update(capacity=1)
    ticket_request = services.enqueue_request(user=buyer, ticket_type_id=regular.pk, quantity=1)
    TicketType.objects.filter(pk=regular.pk).update(capacity=0)
    services.drain_event_queue(event_id=regular.event_id)
    body = logged_in(buyer).get(ticket_request.get_absolute_url()).content.decode()
    assert "Regular tickets sold out before your turn came." in body


def test_waiting_room_request_promises_no_place(buyer, make_event):
    from datetime import timedelta

    later = make_event(opens_in=timedelta(hours=1), waiting_room=timedelta(minutes=-5))
    ticket_type = later.ticket_types.get(name="Regular")
    ticket_request = services.enqueue_request(user=buyer, ticket_type_id=ticket_type.pk, quantity=1)
    body = logged_in(buyer).get(ticket_request.get_absolute_url()).content.decode()
    assert "You are in the waiting room" in body
    assert "The sale opens on" in body


def test_waiting_room_request_after_the_opening_says_places_are_being_drawn(buyer, make_event, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    monkeypatch.setattr(services.wakeups, "async_task", lambda *args, **kwargs: None)
    later = make_event(opens_in=timedelta(hours=1), waiting_room=timedelta(minutes=-5))
    ticket_type = later.ticket_types.get(name="Regular")
    ticket_request = services.enqueue_request(user=buyer, ticket_type_id=ticket_type.pk, quantity=1)
    type(later).objects.filter(pk=later.pk).update(sale_opens_at=timezone.now())
    page = logged_in(buyer)

    assert "places are being drawn" in page.get(ticket_request.get_absolute_url()).content.decode()
    services.drain_event_queue(event_id=later.pk)
    assert "You have your tickets" in page.get(ticket_request.get_absolute_url()).content.decode()


def test_another_buyers_request_page_is_404(other_buyer, admin_user, queued):
    assert logged_in(other_buyer).get(queued.get_absolute_url()).status_code == 404
    assert logged_in(admin_user).get(queued.get_absolute_url()).status_code == 404


def test_visitor_is_sent_to_log_in_from_a_request_page(client, queued):
    response = client.get(queued.get_absolute_url())
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_buyer_cancels_a_queued_request(buyer, queued):
    client = logged_in(buyer)
    response = client.post(reverse("ticketing:request_cancel", args=[queued.pk]), follow=True)
    queued.refresh_from_db()
    assert queued.status == TicketRequest.Status.CANCELLED
    assert "Your request was cancelled" in response.content.decode()


def test_cancelling_a_served_request_shows_the_refusal(buyer, fulfilled):
    response = logged_in(buyer).post(reverse("ticketing:request_cancel", args=[fulfilled.pk]), follow=True)
    fulfilled.refresh_from_db()
    assert fulfilled.status == TicketRequest.Status.FULFILLED
    assert "can no longer be cancelled" in response.content.decode()


def test_another_buyer_cannot_cancel(other_buyer, queued):
    response = logged_in(other_buyer).post(reverse("ticketing:request_cancel", args=[queued.pk]))
    queued.refresh_from_db()
    assert response.status_code == 404
    assert queued.status == TicketRequest.Status.QUEUED


def test_cancel_needs_a_post_and_the_csrf_token(buyer, queued):
    client = Client(enforce_csrf_checks=True)
    client.force_login(buyer)
    url = reverse("ticketing:request_cancel", args=[queued.pk])
    assert client.get(url).status_code == 405
    assert client.post(url).status_code == 403
    queued.refresh_from_db()
    assert queued.status == TicketRequest.Status.QUEUED


# My tickets, orders and the printable ticket


def test_my_tickets_lists_orders_with_qr_codes(buyer, fulfilled):
    body = logged_in(buyer).get(reverse("ticketing:my_tickets")).content.decode()
    assert f"Order #{fulfilled.order.pk}" in body
    assert body.count('<svg role="img"') == 2


def test_my_tickets_lists_requests_still_waiting(buyer, queued):
    body = logged_in(buyer).get(reverse("ticketing:my_tickets")).content.decode()
    assert queued.get_absolute_url() in body


def test_my_tickets_shows_only_the_buyers_own(other_buyer, fulfilled):
    body = logged_in(other_buyer).get(reverse("ticketing:my_tickets")).content.decode()
    assert f"Order #{fulfilled.order.pk}" not in body
    assert "No tickets yet" in body


def test_my_tickets_needs_a_login(client):
    assert client.get(reverse("ticketing:my_tickets"))["Location"].startswith(reverse("login"))


def test_order_page_for_its_buyer_and_staff_and_404_for_others(
    buyer, other_buyer, door_staff, admin_user, fulfilled
):
    url = fulfilled.order.get_absolute_url()
    assert logged_in(buyer).get(url).status_code == 200
    assert logged_in(other_buyer).get(url).status_code == 404
    assert logged_in(door_staff).get(url).status_code == 404
    # Staff who manage orders see the buyer and the staff tools (the admin's "View on site").
    staff_page = logged_in(admin_user).get(url).content.decode()
    assert buyer.email in staff_page and "Record a refund" in staff_page


def test_printable_ticket_shows_event_type_holder_and_code(buyer, ticket):
    body = logged_in(buyer).get(ticket.get_absolute_url()).content.decode()
    assert ticket.ticket_type.event.name in body
    assert "Regular" in body
    assert "Alice" in body
    assert signing.signed_token(ticket) in body
    assert '<svg role="img"' in body


def test_ticket_qr_code_holds_the_raw_token(ticket):
    expected = segno.make(ticket.qr_token, error="m").svg_inline(scale=1, border=4, omitsize=True)
    path = expected.split(' d="')[1].split('"')[0]
    assert path in qr_svg(ticket.qr_token)


@pytest.mark.parametrize("page", ["ticket", "my_tickets"])
def test_ticket_qr_codes_hold_the_signed_token(buyer, ticket, page):
    url = ticket.get_absolute_url() if page == "ticket" else reverse("ticketing:my_tickets")
    body = logged_in(buyer).get(url).content.decode()
    expected = segno.make(signing.signed_token(ticket), error="m").svg_inline(
        scale=1, border=4, omitsize=True
    )
    assert expected.split(' d="')[1].split('"')[0] in body


def test_ticket_page_is_404_for_another_buyer(other_buyer, admin_user, ticket):
    assert logged_in(other_buyer).get(ticket.get_absolute_url()).status_code == 404
    # A superuser holds the check-in permission, so sees it as door staff do.
    assert logged_in(admin_user).get(ticket.get_absolute_url()).status_code == 200


def test_door_staff_can_open_a_ticket_page(door_staff, ticket):
    assert logged_in(door_staff).get(ticket.get_absolute_url()).status_code == 200


def test_unknown_ticket_page_is_404(buyer):
    assert logged_in(buyer).get(reverse("ticketing:ticket", args=["nope"])).status_code == 404


# Order confirmation email


def test_order_confirmation_email_links_to_the_tickets(settings, buyer, fulfilled):
    settings.SITE_URL = "https://tix.example.test/"
    sent = services.send_outbox()
    assert sent == 1
    message = mail.outbox[0]
    assert message.to == [buyer.email]
    assert message.subject == f"Your tickets for {fulfilled.event.name}"
    assert "2 × Regular" in message.body
    assert "https://tix.example.test/tickets/" in message.body
    assert logged_in(buyer).get("/tickets/").status_code == 200


# Door check-in


def door_url(event=None):
    """The scanning page of an event's default list (the first event's unless given)."""
    event = event or Event.objects.order_by("pk").first()
    return reverse("ticketing:door_list", args=[services.default_list(event).pk])


def check_in(client, code, *, event=None, **extra):
    return client.post(door_url(event), {"code": code}, **extra)


def test_door_page_sends_a_visitor_to_log_in(client):
    assert client.get(reverse("ticketing:door"))["Location"].startswith(reverse("login"))


def test_door_page_is_403_for_a_buyer(buyer, ticket):
    client = logged_in(buyer)
    assert client.get(reverse("ticketing:door")).status_code == 403
    assert check_in(client, ticket.qr_token).status_code == 403
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


def test_door_starts_by_choosing_the_event_todays_first(door_staff, make_event):
    later = make_event(name="Next week")
    today = make_event(name="Tonight's gig")
    Event.objects.filter(pk=today.pk).update(starts_at=timezone.now() + timedelta(hours=2))
    body = logged_in(door_staff).get(reverse("ticketing:door")).content.decode()
    assert body.index("Tonight&#x27;s gig") < body.index("Next week")
    assert door_url(today) in body and door_url(later) in body


def test_door_page_names_the_event_and_counts_who_is_in(door_staff, ticket):
    body = logged_in(door_staff).get(door_url()).content.decode()
    assert '<label for="id_code">Ticket code or link</label>' in body
    assert "vendor/jsqr/jsQR.js" in body
    assert ticket.ticket_type.event.name in body and "Main entrance" in body
    valid = Ticket.objects.count()
    assert f"<strong data-inside>0</strong> in of <span data-valid>{valid}</span> tickets" in body


def test_door_admits_a_ticket_once(door_staff, ticket):
    client = logged_in(door_staff)
    first = check_in(client, ticket.qr_token, **HTMX).content.decode()
    second = check_in(client, ticket.qr_token, **HTMX).content.decode()
    ticket.refresh_from_db()
    assert "Admitted" in first and "admitted" in first
    # The count follows the scan (swapped out of band).
    assert 'hx-swap-oob="true"' in first and "<strong data-inside>1</strong>" in first
    at = formatting.time_of_day(ticket.checked_in_at, ticket.ticket_type.event.time_zone)
    assert f"Already checked in at {at}" in second and "refused" in second and at.endswith(" UTC")
    assert ticket.checked_in_by == door_staff


def test_door_refuses_a_ticket_of_another_event_without_using_it(door_staff, ticket, make_event):
    tonight = make_event(name="Tonight")
    body = check_in(logged_in(door_staff), ticket.qr_token, event=tonight, **HTMX).content.decode()
    ticket.refresh_from_db()
    assert "Wrong event" in body and "refused" in body and "It was not used." in body
    assert ticket.status == "valid" and ticket.checked_in_at is None


def test_door_says_unknown_ticket(door_staff, event):
    body = check_in(logged_in(door_staff), "not-a-real-token", **HTMX).content.decode()
    assert "Unknown ticket" in body


def test_door_accepts_the_ticket_page_link(door_staff, ticket):
    body = check_in(logged_in(door_staff), f"https://tix.example.test{ticket.get_absolute_url()}").content
    ticket.refresh_from_db()
    assert '<p class="verdict">Admitted</p>' in body.decode()  # the verdict, not the scripts' words
    assert ticket.checked_in_at is not None


def test_door_refuses_a_link_that_is_not_a_ticket(door_staff, event):
    body = check_in(logged_in(door_staff), "https://tix.example.test/events/1/", **HTMX).content.decode()
    assert "That link is not an EventTix ticket." in body
    assert not Ticket.objects.filter(checked_in_at__isnull=False).exists()


def test_door_needs_the_csrf_token(door_staff, ticket):
    client = Client(enforce_csrf_checks=True)
    client.force_login(door_staff)
    assert check_in(client, ticket.qr_token).status_code == 403
    ticket.refresh_from_db()
    assert ticket.checked_in_at is None


def test_a_door_supervisor_finds_a_guest_by_name_checks_them_in_and_undoes_it(make_user, door_staff, ticket):
    from ticketing.setup import ensure_door_supervisors_group

    lead = make_user(email="lead@example.test", name="Door Lead")
    lead.groups.add(ensure_door_supervisors_group())
    check_in_list = services.default_list(ticket.ticket_type.event)
    search = reverse("ticketing:door_search", args=[check_in_list.pk])
    assert logged_in(door_staff).get(search, {"q": "alice"}).status_code == 403
    client = logged_in(lead)
    assert "Find a guest by name" in client.get(door_url()).content.decode()
    found = client.get(search, {"q": "alice"}, **HTMX).content.decode()
    admit = reverse("ticketing:door_admit", args=[check_in_list.pk, ticket.pk])
    assert "Alice" in found and admit in found
    assert "Admitted" in client.post(admit, **HTMX).content.decode()
    undo = reverse("ticketing:door_undo", args=[check_in_list.pk, ticket.pk])
    assert "Check-in undone" in client.post(undo, **HTMX).content.decode()
    ticket.refresh_from_db()
    assert ticket.status == "valid"
    assert AuditEntry.objects.filter(kind="check_in_undone", user_id=lead.pk).count() == 1


def test_a_re_entry_list_lets_a_guest_out_and_in_again(door_staff, ticket):
    gate = CheckInList.objects.create(event=ticket.ticket_type.event, name="Gate", allow_reentry=True)
    client = logged_in(door_staff)
    url = reverse("ticketing:door_list", args=[gate.pk])
    assert "Admitted" in client.post(url, {"code": ticket.qr_token}, **HTMX).content.decode()
    out = client.post(url, {"code": ticket.qr_token, "mode": "exit"}, **HTMX).content.decode()
    assert "Let out" in out
    assert "Admitted" in client.post(url, {"code": ticket.qr_token}, **HTMX).content.decode()


# Staff dashboard


def test_dashboard_is_for_staff_only(client, buyer, door_staff):
    url = reverse("ticketing:dashboard")
    assert client.get(url)["Location"].startswith(reverse("login"))
    assert logged_in(buyer).get(url).status_code == 403
    assert logged_in(door_staff).get(url).status_code == 403


def test_dashboard_shows_sales_queue_and_check_ins(admin_user, door_staff, other_buyer, ticket, regular):
    services.enqueue_request(user=other_buyer, ticket_type_id=regular.pk, quantity=1)
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    response = logged_in(admin_user).get(reverse("ticketing:dashboard"))
    stats = response.context["stats"][0]
    body = response.content.decode()
    assert (stats.sold, stats.capacity, stats.queued, stats.checked_in) == (2, 100, 1, 1)
    assert stats.sold_last_minute == 2
    assert 'class="run-chart"' in body and "2 of 100 tickets sold" in body


def test_dashboard_poll_gets_the_stats_alone(admin_user, event):
    body = logged_in(admin_user).get(reverse("ticketing:dashboard"), **HTMX).content.decode()
    assert "<html" not in body
    assert event.name in body


# Error pages


def test_404_page_is_in_the_site_style(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert "We could not find that page" in response.content.decode()
    assert "css/site.css" in response.content.decode()


def test_403_page_is_in_the_site_style(buyer):
    response = logged_in(buyer).get(reverse("ticketing:dashboard"))
    assert "This page is not open to you" in response.content.decode()


def test_500_page_renders_without_a_request_context(rf):
    from django.views.defaults import server_error

    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.content.decode()


@pytest.mark.parametrize("state", ["queued", "waiting", "fulfilled", "sold_out", "limit", "cancelled"])
def test_the_htmx_poll_renders_the_same_panel_as_the_page_in_every_state(make_user, make_event, state):
    # The poll reads the request and its event in one hand-written statement, the page through
    # the ORM: the panel must not tell the difference.
    event = make_event(vip=None, regular=1, max_tickets_per_user=2)
    regular = event.ticket_types.get()
    buyer = make_user()
    if state == "waiting":
        services.enqueue_request(user=make_user(), ticket_type_id=regular.pk, quantity=1)
        services.drain_event_queue(event_id=event.pk)
    mine = services.enqueue_request(
        user=buyer, ticket_type_id=regular.pk, quantity=1, wait_if_sold_out=state == "waiting"
    )
    if state in ("fulfilled",):
        services.drain_event_queue(event_id=event.pk)
    if state == "cancelled":
        services.cancel_request(user=buyer, request_id=mine.pk)
    if state == "sold_out":
        TicketRequest.objects.filter(pk=mine.pk).update(status="rejected", reason="sold_out")
    if state == "limit":
        TicketRequest.objects.filter(pk=mine.pk).update(status="rejected", reason="limit_exceeded")
    client = logged_in(buyer)

    def panel(body):
        body = re.sub(r'hx-trigger="load delay:[0-9.]+s"', "", body)
        body = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", body)  # masked anew each time
        return body[body.index('<section id="request-status"') : body.index("</section>") + 10]

    polled = client.get(mine.get_absolute_url(), **HTMX)
    page = client.get(mine.get_absolute_url())
    assert polled.status_code == page.status_code == 200
    assert panel(polled.content.decode()) == panel(page.content.decode())


def test_the_htmx_poll_of_a_queued_request_reads_little(buyer, queued, django_assert_max_num_queries):
    client = logged_in(buyer)
    client.get(queued.get_absolute_url(), **HTMX)  # the drain rate is then cached
    # The session, the user, the request with its event, the counters ahead.
    with django_assert_max_num_queries(4):
        assert client.get(queued.get_absolute_url(), **HTMX).status_code == 200
