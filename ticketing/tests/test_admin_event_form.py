"""The event's admin form: readable constraint errors, suggested ticket types, fieldsets."""

from datetime import UTC, datetime

import pytest
from django.contrib.admin.utils import flatten_fieldsets
from django.urls import reverse

from events.models import Event

pytestmark = pytest.mark.django_db


def new_event_post(rows=(), **changes):
    """The add form as the admin posts it, with the two suggested rows and changes to them."""
    data = {
        "name": "Spring Gala",
        "slug": "spring-gala",
        "description": "",
        "venue": "Hall",
        "starts_at_0": "2030-05-01",
        "starts_at_1": "20:00:00",
        "sale_opens_at_0": "2030-04-01",
        "sale_opens_at_1": "10:00:00",
        "max_tickets_per_user": 10,
        "time_zone": "Europe/Berlin",
        "currency": "EUR",
        "ticket_types-TOTAL_FORMS": 2,
        "ticket_types-INITIAL_FORMS": 0,
        "ticket_types-MIN_NUM_FORMS": 0,
        "ticket_types-MAX_NUM_FORMS": 1000,
        # The suggestions as the browser sends them back untouched.
        "ticket_types-0-name": "VIP",
        "ticket_types-0-priority": 10,
        "ticket_types-0-max_per_request": 2,
        "ticket_types-1-name": "Regular",
        "ticket_types-1-priority": 0,
        "ticket_types-1-max_per_request": 4,
    }
    for i, row in rows:
        data.update({f"ticket_types-{i}-{k}": v for k, v in row.items()})
    data.update(changes)
    return data


def test_an_event_whose_sale_closes_before_it_opens_is_refused_in_words(client, admin_user):
    client.force_login(admin_user)
    data = new_event_post(sale_closes_at_0="2030-03-01", sale_closes_at_1="10:00:00")
    response = client.post(reverse("admin:events_event_add"), data)
    page = response.content.decode()
    assert response.status_code == 200
    assert "The sale must close after it opens." in page
    assert "is violated" not in page
    assert not Event.objects.exists()


def test_a_duplicate_ticket_type_name_is_refused_in_words(client, admin_user, event, vip):
    client.force_login(admin_user)
    data = {
        "event": event.pk,
        "name": vip.name,
        "price": "1.00",
        "capacity": 5,
        "priority": 0,
        "max_per_request": 1,
    }
    page = client.post(reverse("admin:events_tickettype_add"), data).content.decode()
    assert "This event already has a ticket type with that name." in page


def test_the_add_form_suggests_vip_and_regular_rows(client, admin_user):
    client.force_login(admin_user)
    formset = client.get(reverse("admin:events_event_add")).context["inline_admin_formsets"][0].formset
    assert [form.initial.get("name") for form in formset.forms] == ["VIP", "Regular"]


def test_untouched_suggested_rows_are_not_saved(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:events_event_add"), new_event_post())
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Event.objects.get().ticket_types.count() == 0


def test_a_filled_in_suggestion_is_saved_and_the_other_left_out(client, admin_user):
    client.force_login(admin_user)
    data = new_event_post(rows=[(0, {"price": "90.00", "capacity": 50})])
    response = client.post(reverse("admin:events_event_add"), data)
    assert response.status_code == 302, response.content.decode()[:3000]
    vip = Event.objects.get().ticket_types.get()
    assert (vip.name, vip.priority, vip.capacity, vip.max_per_request) == ("VIP", 10, 50, 2)


def test_the_change_form_keeps_every_event_field_and_explains_the_waiting_room(client, admin_user, event):
    client.force_login(admin_user)
    response = client.get(reverse("admin:events_event_change", args=[event.pk]))
    fieldsets = response.context["adminform"].model_admin.get_fieldsets(response.wsgi_request, event)
    shown = set(flatten_fieldsets(fieldsets))
    assert {f.name for f in Event._meta.fields if f.name != "id"} <= shown
    assert "There is a waiting room only when this time is set" in response.content.decode()


def test_a_new_events_times_are_read_in_the_zone_chosen_on_its_form(client, admin_user, settings):
    settings.TIME_ZONE = "UTC"
    client.force_login(admin_user)
    response = client.post(reverse("admin:events_event_add"), new_event_post())
    assert response.status_code == 302
    event = Event.objects.get()
    # 20:00 typed for Berlin in May is 18:00 UTC (summer time), not 20:00 UTC.
    assert event.starts_at == datetime(2030, 5, 1, 18, 0, tzinfo=UTC)
    assert event.sale_opens_at == datetime(2030, 4, 1, 8, 0, tzinfo=UTC)


def test_an_events_form_shows_its_times_in_its_own_zone(client, admin_user, event):
    Event.objects.filter(pk=event.pk).update(
        time_zone="America/New_York", starts_at=datetime(2030, 1, 10, 1, 30, tzinfo=UTC)
    )
    client.force_login(admin_user)
    page = client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    # 01:30 UTC on 10 January is 20:30 on the 9th in New York.
    assert 'value="2030-01-09"' in page
    assert 'value="20:30:00"' in page
