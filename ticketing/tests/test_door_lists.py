"""Check-in belongs to an event: lists, wrong events, re-entry, undo and check-in by name."""

import pytest
from django.db.models import Sum

from conftest import buy
from ticketing import errors, selectors, services
from ticketing.models import AuditEntry, CheckIn, CheckInList, Ticket, TicketTypeCounter

pytestmark = pytest.mark.django_db


def snapshot():
    """What a scan could change: scans, door audit entries, tickets' states, the checked-in count."""
    return (
        CheckIn.objects.count(),
        AuditEntry.objects.filter(kind__in=["checked_in", "check_in_undone", "exited"]).count(),
        list(Ticket.objects.order_by("pk").values_list("status", flat=True)),
        TicketTypeCounter.objects.aggregate(n=Sum("checked_in"))["n"],
    )


def nothing_written(before):
    return snapshot() == before


def test_every_event_gets_one_default_list(event, make_event):
    first = services.default_list(event)
    assert services.default_list(event) == first
    assert (first.name, first.is_default) == ("Main entrance", True)
    other = make_event()
    services.open_default_lists(now=event.starts_at)
    assert CheckInList.objects.filter(event=other, is_default=True).count() == 1


def test_a_ticket_of_another_event_is_refused_and_not_used_up(buyer, door_staff, vip, make_event):
    [ticket] = buy(buyer, vip)
    tonight = services.default_list(make_event(name="Tonight"))
    before = snapshot()
    with pytest.raises(errors.WrongEvent, match=f"This ticket is for {vip.event.name}"):
        services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=tonight.pk)
    assert nothing_written(before)
    # At its own event it still admits.
    own = services.default_list(vip.event)
    admitted = services.check_in_ticket(
        qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=own.pk
    )
    assert admitted.admission.check_in_list == own and admitted.status == "checked_in"


def test_the_seed_path_without_a_list_uses_the_tickets_own_default_list(ticket, door_staff):
    admitted = services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    assert admitted.admission.check_in_list == services.default_list(ticket.ticket_type.event)


def test_cancelled_and_unknown_tickets_are_refused_and_nothing_is_written(
    buyer, door_staff, admin_user, regular
):
    [ticket] = buy(buyer, regular)
    services.cancel_order(user=admin_user, order_id=ticket.order_id, reason="fraud")
    door = services.default_list(regular.event)
    before = snapshot()
    with pytest.raises(errors.TicketCancelled):
        services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=door.pk)
    with pytest.raises(errors.NotFound):
        services.check_in_ticket(qr_token="nope", staff_user=door_staff, check_in_list_id=door.pk)
    assert nothing_written(before)


def test_each_ticket_is_valid_once_per_list(buyer, door_staff, vip):
    [ticket] = buy(buyer, vip)
    main = services.default_list(vip.event)
    day_two = CheckInList.objects.create(event=vip.event, name="Day two")
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=main.pk)
    with pytest.raises(errors.AlreadyCheckedIn, match=r"\(Main entrance\)") as refused:
        services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=main.pk)
    assert refused.value.by == door_staff
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=day_two.pk)
    # Counted once as checked in, however many lists admitted it.
    assert TicketTypeCounter.objects.get(ticket_type=vip).checked_in == 1
    assert AuditEntry.objects.filter(kind="checked_in", ticket_id=ticket.pk).count() == 2


def test_a_list_limited_to_some_types_refuses_the_others(buyer, door_staff, vip, regular):
    [ticket] = buy(buyer, regular)
    vip_gate = CheckInList.objects.create(event=vip.event, name="VIP gate")
    vip_gate.ticket_types.add(vip)
    before = snapshot()
    with pytest.raises(errors.NotOnList, match="Regular tickets are not admitted on VIP gate"):
        services.check_in_ticket(
            qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=vip_gate.pk
        )
    assert nothing_written(before)


def test_a_list_limited_to_some_staff_refuses_the_others(buyer, door_staff, supervisor, vip):
    [ticket] = buy(buyer, vip)
    backstage = CheckInList.objects.create(event=vip.event, name="Backstage")
    backstage.staff.add(supervisor)
    with pytest.raises(errors.NotAllowed):
        services.check_in_ticket(
            qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=backstage.pk
        )
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=supervisor, check_in_list_id=backstage.pk)
    assert [lists for _, lists in selectors.door_events(user=door_staff)] == []
    services.default_list(vip.event)
    [(event, lists)] = selectors.door_events(user=door_staff)
    assert [c.name for c in lists] == ["Main entrance"]


def test_re_entry_needs_an_exit_first(buyer, door_staff, vip):
    [ticket] = buy(buyer, vip)
    gate = CheckInList.objects.create(event=vip.event, name="Gate", allow_reentry=True)
    scan = {"qr_token": ticket.qr_token, "staff_user": door_staff, "check_in_list_id": gate.pk}
    services.check_in_ticket(**scan)
    with pytest.raises(errors.AlreadyCheckedIn):
        services.check_in_ticket(**scan)
    services.let_out(**scan)
    with pytest.raises(errors.NotInside):
        services.let_out(**scan)
    services.check_in_ticket(**scan)
    kinds = list(CheckIn.objects.filter(ticket=ticket).order_by("pk").values_list("kind", "active"))
    assert kinds == [("entry", False), ("exit", False), ("entry", True)]
    assert AuditEntry.objects.filter(kind="exited").count() == 1
    # A list without re-entry records no exit.
    main = services.default_list(vip.event)
    with pytest.raises(errors.TicketingError, match="does not allow re-entry"):
        services.let_out(qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=main.pk)


def test_a_supervisor_undoes_a_check_in_and_it_is_audited(buyer, door_staff, supervisor, vip):
    [ticket] = buy(buyer, vip)
    main = services.default_list(vip.event)
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=main.pk)
    with pytest.raises(errors.NotAllowed):
        services.undo_check_in(ticket_id=ticket.pk, staff_user=door_staff, check_in_list_id=main.pk)
    services.undo_check_in(
        ticket_id=ticket.pk, staff_user=supervisor, check_in_list_id=main.pk, reason="wrong guest"
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.checked_in_at) == ("valid", None)
    assert TicketTypeCounter.objects.get(ticket_type=vip).checked_in == 0
    undone = AuditEntry.objects.get(kind="check_in_undone")
    assert (undone.ticket_id, undone.user_id, undone.reason) == (
        ticket.pk,
        supervisor.pk,
        "Main entrance: wrong guest",
    )
    with pytest.raises(errors.NotInside):
        services.undo_check_in(ticket_id=ticket.pk, staff_user=supervisor, check_in_list_id=main.pk)
    # It may be checked in again.
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=main.pk)
    assert TicketTypeCounter.objects.get(ticket_type=vip).checked_in == 1


def test_check_in_by_name_is_for_supervisors(buyer, door_staff, supervisor, vip):
    [ticket] = buy(buyer, vip)
    main = services.default_list(vip.event)
    assert [t.pk for t in selectors.door_search(check_in_list=main, query="ali")] == [ticket.pk]
    assert selectors.door_search(check_in_list=main, query="nobody") == []
    with pytest.raises(errors.NotAllowed):
        services.check_in_ticket_by_id(ticket_id=ticket.pk, staff_user=door_staff, check_in_list_id=main.pk)
    services.check_in_ticket_by_id(ticket_id=ticket.pk, staff_user=supervisor, check_in_list_id=main.pk)
    [found] = selectors.door_search(check_in_list=main, query="alice")
    assert found.inside


def test_door_counts_show_who_is_in_per_type(buyer, other_buyer, door_staff, vip, regular):
    tickets = buy(buyer, vip, 2) + buy(other_buyer, regular, 1)
    main = services.default_list(vip.event)
    services.check_in_ticket(qr_token=tickets[0].qr_token, staff_user=door_staff, check_in_list_id=main.pk)
    counts = {c.ticket_type: (c.inside, c.valid) for c in selectors.door_counts(check_in_list=main)}
    assert counts == {"VIP": (1, 2), "Regular": (0, 1)}


def test_undoing_one_lists_entry_keeps_a_ticket_admitted_on_another_checked_in(
    buyer, door_staff, supervisor, vip
):
    [ticket] = buy(buyer, vip)
    main = services.default_list(vip.event)
    day_two = CheckInList.objects.create(event=vip.event, name="Day two")
    for check_in_list in (main, day_two):
        services.check_in_ticket(
            qr_token=ticket.qr_token, staff_user=door_staff, check_in_list_id=check_in_list.pk
        )
    services.undo_check_in(ticket_id=ticket.pk, staff_user=supervisor, check_in_list_id=day_two.pk)
    ticket.refresh_from_db()
    assert ticket.status == "checked_in"
    assert TicketTypeCounter.objects.get(ticket_type=vip).checked_in == 1
    services.undo_check_in(ticket_id=ticket.pk, staff_user=supervisor, check_in_list_id=main.pk)
    ticket.refresh_from_db()
    assert ticket.status == "valid" and TicketTypeCounter.objects.get(ticket_type=vip).checked_in == 0


def test_the_admin_lists_check_ins_and_undoes_one_with_a_reason(client, admin_user, buyer, door_staff, vip):
    from django.urls import reverse

    [ticket] = buy(buyer, vip)
    services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    client.force_login(admin_user)
    assert client.get(reverse("admin:ticketing_checkinlist_changelist")).status_code == 200
    url = reverse("admin:ticketing_checkin_changelist")
    assert "Main entrance" in client.get(url).content.decode()
    entry = CheckIn.objects.get()
    selection = {"action": "undo_check_ins", "_selected_action": [entry.pk]}
    assert "Undo check-ins" in client.post(url, selection).content.decode()  # the confirmation page
    client.post(url, {**selection, "confirm": "yes", "reason": "scanned the wrong phone"})
    ticket.refresh_from_db()
    assert ticket.status == "valid"
    assert AuditEntry.objects.get(kind="check_in_undone").reason == "Main entrance: scanned the wrong phone"


def test_an_admin_list_cannot_admit_another_events_ticket_types(client, admin_user, vip, make_event):
    from django.urls import reverse

    other = make_event(name="Other").ticket_types.get(name="VIP")
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:ticketing_checkinlist_add"),
        {"event": vip.event_id, "name": "VIP gate", "ticket_types": [vip.pk, other.pk]},
    )
    assert (
        response.status_code == 200
        and f"Not ticket types of {vip.event.name}: VIP." in response.content.decode()
    )
    assert not CheckInList.objects.filter(name="VIP gate").exists()
