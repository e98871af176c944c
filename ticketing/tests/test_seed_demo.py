import pytest
from django.contrib.auth import authenticate
from django.core.management import call_command

from events.models import Event, TicketType

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_the_seeds_demo_data():
    call_command("seed_demo", verbosity=0)
    event = Event.objects.get(pk=1)
    assert event.name == "Demo Event"
    assert event.sale_state() == "open"
    types = {t.name: t for t in event.ticket_types.all()}
    assert (types["VIP"].capacity, types["Regular"].capacity) == (20, 80)
    assert types["VIP"].priority > types["Regular"].priority
    assert authenticate(username="demo@local.test", password="Passw0rd!") is not None
    staff = authenticate(username="staff@local.test", password="Staff-Passw0rd!")
    assert staff.is_staff and staff.has_perm("ticketing.check_in_ticket")
    door = authenticate(username="door@local.test", password="Door-Passw0rd!")
    assert not door.is_staff and door.has_perm("ticketing.check_in_ticket")


def test_seed_demo_is_idempotent(django_user_model, capsys):
    call_command("seed_demo")
    TicketType.objects.filter(event_id=1, name="VIP").update(sold=3)
    call_command("seed_demo")
    assert Event.objects.count() == 1
    assert TicketType.objects.count() == 2
    assert django_user_model.objects.count() == 3
    assert TicketType.objects.get(event_id=1, name="VIP").sold == 3
    assert "staff@local.test / Staff-Passw0rd!" in capsys.readouterr().out


def test_events_created_after_the_demo_get_fresh_ids(make_event):
    call_command("seed_demo", verbosity=0)
    assert make_event().pk > 1
