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


# Nothing that holds money or admissions is deleted; cancellations are audited actions.


def inline_post(event, ticket_types, **changes):
    """The event's change form as the admin posts it, with changes to the inline rows."""
    data = {
        "name": event.name,
        "slug": event.slug,
        "description": event.description,
        "venue": event.venue,
        "starts_at_0": event.starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": event.starts_at.strftime("%H:%M:%S"),
        "sale_opens_at_0": event.sale_opens_at.strftime("%Y-%m-%d"),
        "sale_opens_at_1": event.sale_opens_at.strftime("%H:%M:%S"),
        "max_tickets_per_user": event.max_tickets_per_user,
        "time_zone": event.time_zone,
        "currency": event.currency,
        "ticket_types-TOTAL_FORMS": len(ticket_types),
        "ticket_types-INITIAL_FORMS": len(ticket_types),
        "ticket_types-MIN_NUM_FORMS": 0,
        "ticket_types-MAX_NUM_FORMS": 1000,
    }
    for i, t in enumerate(ticket_types):
        row = {
            "id": t.pk,
            "event": event.pk,
            "name": t.name,
            "price": t.price,
            "capacity": t.capacity,
            "priority": t.priority,
            "max_per_request": t.max_per_request,
        }
        row.update(changes.get(t.name, {}))
        data.update({f"ticket_types-{i}-{k}": v for k, v in row.items()})
    return data


def test_deleting_a_ticket_type_with_orders_from_the_event_inline_is_refused(
    client, admin_user, served_request, event, vip, regular
):
    client.force_login(admin_user)
    url = reverse("admin:events_event_change", args=[event.pk])
    response = client.post(url, inline_post(event, [vip, regular], VIP={"DELETE": "on"}))
    assert response.status_code == 200  # the form again, with the error
    assert "would require deleting the following protected related objects" in response.content.decode()
    assert event.ticket_types.filter(pk=vip.pk).exists()
    vip.refresh_from_db()
    assert vip.sold == 2


def test_deleting_an_event_with_orders_is_refused_and_cancelling_offered(
    client, admin_user, served_request, event
):
    client.force_login(admin_user)
    page = client.get(reverse("admin:events_event_delete", args=[event.pk])).content.decode()
    assert "Cancel selected events" in page
    client.post(reverse("admin:events_event_delete", args=[event.pk]), {"post": "yes"})
    assert type(event).objects.filter(pk=event.pk).exists()


def test_deleting_a_buyer_with_orders_is_refused_and_deactivation_offered(
    client, admin_user, buyer, served_request
):
    client.force_login(admin_user)
    page = client.get(reverse("admin:accounts_user_delete", args=[buyer.pk])).content.decode()
    assert "Untick" in page
    client.post(reverse("admin:accounts_user_delete", args=[buyer.pk]), {"post": "yes"})
    assert type(buyer).objects.filter(pk=buyer.pk).exists()


def test_a_capacity_change_in_the_admin_is_audited(client, admin_user, event, vip, regular):
    from ticketing.models import AuditEntry

    client.force_login(admin_user)
    url = reverse("admin:events_event_change", args=[event.pk])
    response = client.post(url, inline_post(event, [vip, regular], VIP={"capacity": 25}))
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = AuditEntry.objects.get(kind="capacity_changed")
    assert (entry.ticket_type_id, entry.quantity, entry.actor_id) == (vip.pk, 25, admin_user.pk)


def test_moving_a_ticket_type_with_sales_to_another_event_is_refused(
    client, admin_user, served_request, make_event, vip
):
    other = make_event()
    client.force_login(admin_user)
    url = reverse("admin:events_tickettype_change", args=[vip.pk])
    data = {
        "event": other.pk,
        "name": vip.name,
        "price": vip.price,
        "capacity": vip.capacity,
        "priority": vip.priority,
        "max_per_request": vip.max_per_request,
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "cannot move to another event" in response.content.decode()
    vip.refresh_from_db()
    assert vip.event_id != other.pk


def test_changing_the_priority_while_requests_wait_is_refused(client, admin_user, buyer, vip):
    services.enqueue_request(user=buyer, ticket_type_id=vip.pk, quantity=1)
    client.force_login(admin_user)
    data = {
        "event": vip.event_id,
        "name": vip.name,
        "price": vip.price,
        "capacity": vip.capacity,
        "priority": 99,
        "max_per_request": vip.max_per_request,
    }
    response = client.post(reverse("admin:events_tickettype_change", args=[vip.pk]), data)
    assert "change the priority once they have been served" in response.content.decode()
    vip.refresh_from_db()
    assert vip.priority == 10


def test_cancel_orders_action_asks_for_a_reason_then_cancels_and_audits(
    client, admin_user, buyer, served_request
):
    from ticketing.models import AuditEntry, Order

    order = Order.objects.get()
    client.force_login(admin_user)
    url = reverse("admin:ticketing_order_changelist")
    selection = {"action": "cancel_orders", "_selected_action": [order.pk]}
    page = client.post(url, selection)
    assert page.status_code == 200 and "Yes, cancel orders" in page.content.decode()
    order.refresh_from_db()
    assert order.status == "confirmed"  # nothing happens before the confirmation
    response = client.post(url, {**selection, "confirm": "yes", "reason": "refund requested"})
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == "cancelled"
    entry = AuditEntry.objects.get(kind="order_cancelled")
    assert (entry.actor_id, entry.reason) == (admin_user.pk, "refund requested")


def test_cancel_tickets_action_reports_a_checked_in_ticket_and_cancels_the_other(
    client, admin_user, door_staff, served_request
):
    from ticketing.models import Ticket

    used, other = Ticket.objects.order_by("pk")
    services.check_in_ticket(qr_token=used.qr_token, staff_user=door_staff)
    client.force_login(admin_user)
    url = reverse("admin:ticketing_ticket_changelist")
    client.post(
        url, {"action": "cancel_tickets", "_selected_action": [other.pk], "confirm": "yes", "reason": "x"}
    )
    response = client.post(
        url,
        {"action": "cancel_tickets", "_selected_action": [used.pk], "confirm": "yes", "reason": "x"},
        follow=True,
    )
    assert "checked in, so it cannot be cancelled" in response.content.decode()
    assert dict(Ticket.objects.values_list("pk", "status")) == {used.pk: "checked_in", other.pk: "cancelled"}


def test_cancel_events_action_cancels_the_event(client, admin_user, served_request, event):
    client.force_login(admin_user)
    url = reverse("admin:events_event_changelist")
    selection = {
        "action": "cancel_events",
        "_selected_action": [event.pk],
        "confirm": "yes",
        "reason": "storm",
    }
    assert client.post(url, selection).status_code == 302
    event.refresh_from_db()
    assert event.cancelled_at is not None


def test_staff_without_the_cancel_permission_are_not_offered_the_actions(client, make_user, served_request):
    from django.contrib.auth.models import Permission

    clerk = make_user(is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_order", "view_ticket"]))
    client.force_login(clerk)
    page = client.get(reverse("admin:ticketing_order_changelist")).content.decode()
    assert "cancel_orders" not in page


def test_view_on_site_opens_the_order_page_for_staff(client, admin_user, served_request):
    from django.contrib.contenttypes.models import ContentType

    from ticketing.models import Order

    order = Order.objects.get()
    client.force_login(admin_user)
    change = client.get(reverse("admin:ticketing_order_change", args=[order.pk])).content.decode()
    shortcut = reverse("admin:view_on_site", args=[ContentType.objects.get_for_model(Order).pk, order.pk])
    assert shortcut in change
    response = client.get(shortcut, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].endswith(order.get_absolute_url())
    assert "Record a refund" in response.content.decode()


@pytest.fixture
def order_viewer(make_user):
    from django.contrib.auth.models import Permission

    clerk = make_user(email="clerk@example.test", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_order"))
    return clerk


def test_staff_who_may_view_orders_see_an_order_read_only(client, order_viewer, buyer, served_request):
    from ticketing.models import Order

    order = Order.objects.get()
    client.force_login(order_viewer)
    response = client.get(order.get_absolute_url())
    page = response.content.decode()
    assert response.status_code == 200
    assert buyer.email in page
    assert "Cancel the chosen tickets" not in page and "Record a refund" not in page
    refused = client.post(reverse("ticketing:order_refund", args=[order.pk]), {"amount": "1", "reason": "x"})
    assert refused.status_code == 403
    tickets = list(order.tickets.values_list("pk", flat=True))
    cancel = client.post(reverse("ticketing:order_cancel", args=[order.pk]), {"tickets": tickets})
    assert cancel.status_code in (400, 403, 404)
    assert Order.objects.get().active == len(tickets)


def test_staff_without_the_view_permission_do_not_see_others_orders(client, make_user, served_request):
    from ticketing.models import Order

    client.force_login(make_user(is_staff=True))
    assert client.get(Order.objects.get().get_absolute_url()).status_code == 404


def user_change_post(user, **changes):
    """The user's change form as the admin posts it."""
    data = {
        "email": user.email,
        "name": user.name,
        "is_active": "on",
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
    }
    data.update(changes)
    return data


def test_ticking_door_staff_in_the_user_admin_puts_the_user_in_the_door_group(client, admin_user, buyer):
    from ticketing.setup import DOOR_STAFF_GROUP, DOOR_SUPERVISORS_GROUP

    client.force_login(admin_user)
    url = reverse("admin:accounts_user_change", args=[buyer.pk])
    assert 'name="door_staff"' in client.get(url).content.decode()
    response = client.post(url, user_change_post(buyer, door_staff="on"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(buyer.groups.values_list("name", flat=True)) == [DOOR_STAFF_GROUP]
    assert buyer.has_perm("ticketing.check_in_ticket")
    client.post(url, user_change_post(buyer, door_supervisor="on"))
    assert list(buyer.groups.values_list("name", flat=True)) == [DOOR_SUPERVISORS_GROUP]


def test_the_door_staff_box_starts_ticked_for_door_staff_and_unticking_removes_them(
    client, admin_user, door_staff
):
    client.force_login(admin_user)
    url = reverse("admin:accounts_user_change", args=[door_staff.pk])
    assert client.get(url).context["adminform"].form["door_staff"].initial is True
    client.post(url, user_change_post(door_staff))
    assert not door_staff.groups.exists()


def test_adding_a_user_in_the_admin_still_works(client, admin_user):
    client.force_login(admin_user)
    data = {"email": "new@example.test", "name": "New", "usable_password": "false"}
    response = client.post(reverse("admin:accounts_user_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]


def test_the_admin_index_links_to_the_dashboard_and_uses_the_site_colours(client, admin_user):
    client.force_login(admin_user)
    page = client.get(reverse("admin:index")).content.decode()
    assert f'href="{reverse("ticketing:dashboard")}"' in page
    assert "css/admin.css" in page


def test_the_event_change_page_links_to_the_dashboard(client, admin_user, event):
    client.force_login(admin_user)
    response = client.get(reverse("admin:events_event_change", args=[event.pk]))
    links = response.context["event_links"]
    assert reverse("ticketing:dashboard") in [link["url"] for link in links]
    assert f'<li><a href="{reverse("ticketing:dashboard")}">Dashboard</a></li>' in response.content.decode()


def test_admin_lists_show_amounts_with_their_events_currency(client, admin_user, make_event, buyer):
    from conftest import buy

    event = make_event(currency="CHF", vip=None)
    buy(buyer, event.ticket_types.get(), quantity=2)
    client.force_login(admin_user)
    types = client.get(reverse("admin:events_tickettype_changelist")).content.decode()
    orders = client.get(reverse("admin:ticketing_order_changelist")).content.decode()
    assert "CHF" in types and "50.00" in types
    assert "CHF" in orders and "100.00" in orders
