import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from events.models import TicketType

pytestmark = pytest.mark.django_db


def test_database_refuses_an_oversell_through_a_raw_update(vip):
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TicketType._meta.db_table} SET sold = capacity + 1 WHERE id = %s", [vip.pk])
    vip.refresh_from_db()
    assert vip.sold == 0


def test_database_refuses_a_negative_sold_count(vip):
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketType.objects.filter(pk=vip.pk).update(sold=-1)


def test_saving_a_stale_ticket_type_never_writes_sold_back(vip):
    stale = TicketType.objects.get(pk=vip.pk)
    TicketType.objects.filter(pk=vip.pk).update(sold=5)
    stale.name = "VIP Lounge"
    stale.save()
    vip.refresh_from_db()
    assert (vip.name, vip.sold) == ("VIP Lounge", 5)


def test_capacity_cannot_be_cut_below_what_is_sold(vip):
    TicketType.objects.filter(pk=vip.pk).update(sold=5)
    vip.capacity = 4
    with pytest.raises(ValidationError, match="already sold"):
        vip.full_clean()


def test_sale_state_follows_the_sale_window(make_event):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    event = make_event(opens_in=timedelta(hours=1), waiting_room=timedelta(minutes=-5))
    assert event.sale_state(now) == "waiting_room"
    assert event.sale_state(now - timedelta(minutes=10)) == "upcoming"
    assert event.sale_state(now + timedelta(hours=2)) == "open"
    event.sale_closes_at = now + timedelta(hours=3)
    assert event.sale_state(now + timedelta(hours=4)) == "closed"
