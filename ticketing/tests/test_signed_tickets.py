"""Signed tickets: codes verified without the database, refused when forged, re-issued or rotated away."""

import base64

import pytest
import segno
from django.urls import reverse

from conftest import as_user
from ticketing import errors, services
from ticketing.models import AuditEntry, CheckIn, EventKey, Ticket
from ticketing.services import signing
from ticketing.services.signing import Payload

pytestmark = pytest.mark.django_db


def encode(payload: Payload, key: EventKey) -> str:
    """A code for payload signed with key, made the way signing.signed_token makes one."""
    body = signing._payload(payload)
    signature = signing._private_key(key).sign(signing.SIGNING_CONTEXT + body)
    return signing.PREFIX + base64.b32encode(body + signature).decode().rstrip("=")


def raw(token: str) -> bytes:
    body = token[len(signing.PREFIX) :]
    return base64.b32decode(body + "=" * (-len(body) % 8))


def spell(data: bytes) -> str:
    return signing.PREFIX + base64.b32encode(data).decode().rstrip("=")


def written():
    """Every row a scan could write or change."""
    return (
        CheckIn.objects.count(),
        AuditEntry.objects.count(),
        EventKey.objects.count(),
        sorted(Ticket.objects.values_list("pk", "status", "checked_in_at", "version", "qr_token")),
    )


def door_page_check_in(client, event, code):
    return client.post(reverse("ticketing:door_list", args=[services.default_list(event).pk]), {"code": code})


# The format


def test_signed_token_round_trips(ticket):
    token = signing.signed_token(ticket)

    assert signing.is_signed(token)
    assert signing.read_token(token) == Payload(
        ticket.pk, ticket.ticket_type.event_id, ticket.ticket_type_id, 1
    )


def test_signed_token_is_deterministic_and_not_stored(ticket):
    first = signing.signed_token(ticket)
    ticket.refresh_from_db()

    assert signing.signed_token(ticket) == first
    assert EventKey.objects.count() == 1
    assert not Ticket.objects.filter(qr_token=first).exists()


def test_a_random_code_is_not_signed(ticket):
    assert len(ticket.qr_token) == 32
    assert not signing.is_signed(ticket.qr_token)


def test_signed_code_fits_a_version_5_qr_code_even_with_large_ids(ticket):
    key = signing.event_key(ticket.order.event_id)
    first = encode(Payload(1, 1, 1, 1), key)
    # Ten million tickets, a thousand events and ticket types, re-issued a few times.
    large = encode(Payload(10_000_000, 1_000, 1_000, 5), key)

    assert (len(first), len(large)) == (113, 121)
    for token in (signing.signed_token(ticket), first, large):
        qr = segno.make(token, error="m")
        assert (qr.version, qr.mode) == (5, "alphanumeric")
    # base64url of the same bytes would need a larger code (byte mode): why the code is base32.
    as_base64 = base64.urlsafe_b64encode(raw(first)).decode().rstrip("=")
    assert segno.make(as_base64, error="m").version == 6


def test_each_event_has_its_own_key_and_no_key_is_made_by_reading(make_event, ticket):
    other = make_event()
    assert signing.event_key(other.pk) != signing.event_key(ticket.ticket_type.event_id)
    forged = encode(
        Payload(ticket.pk, other.pk + 1000, ticket.ticket_type_id, 1), signing.event_key(other.pk)
    )
    before = EventKey.objects.count()

    with pytest.raises(errors.BadSignature):
        signing.read_token(forged)
    assert EventKey.objects.count() == before


# Refusals


def tampered_payload(ticket):
    return spell(
        signing._payload(Payload(ticket.pk, ticket.order.event_id, ticket.ticket_type_id, 2))
        + raw(signing.signed_token(ticket))[-64:]
    )


def flipped_signature_byte(ticket):
    data = bytearray(raw(signing.signed_token(ticket)))
    data[-10] ^= 0x01
    return spell(bytes(data))


def flipped_payload_byte(ticket):
    data = bytearray(raw(signing.signed_token(ticket)))
    data[1] ^= 0x01
    return spell(bytes(data))


def truncated(ticket):
    return signing.signed_token(ticket)[:-8]


def one_character_short(ticket):
    return signing.signed_token(ticket)[:-1]


def other_events_key(ticket, make_event):
    other = make_event()
    payload = Payload(ticket.pk, ticket.order.event_id, ticket.ticket_type_id, ticket.version)
    return encode(payload, signing.event_key(other.pk))


def forged_key(ticket):
    private, public = signing._new_key_pair()
    payload = Payload(ticket.pk, ticket.order.event_id, ticket.ticket_type_id, ticket.version)
    return encode(payload, EventKey(private_key=private, public_key=public))


def huge_event_id(ticket):
    return encode(Payload(ticket.pk, 2**63 - 1, 1, 1), signing.event_key(ticket.order.event_id))


def lowercased(ticket):
    token = signing.signed_token(ticket)
    return signing.PREFIX + token[len(signing.PREFIX) :].lower()


def garbage(ticket):
    return "T." + "A" * 114


def not_base32(ticket):
    return "T." + "1" * 114


def legacy_looking(ticket):
    return "x" * 32


FORGERIES = [
    tampered_payload,
    flipped_signature_byte,
    flipped_payload_byte,
    truncated,
    one_character_short,
    other_events_key,
    forged_key,
    huge_event_id,
    lowercased,
    garbage,
    not_base32,
    legacy_looking,
]


def forge(how, ticket, make_event):
    return how(ticket, make_event) if how is other_events_key else how(ticket)


@pytest.mark.parametrize("how", FORGERIES, ids=lambda f: f.__name__)
def test_a_forged_code_is_refused_by_the_service_with_nothing_written(how, ticket, door_staff, make_event):
    code = forge(how, ticket, make_event)
    before = written()

    with pytest.raises(errors.TicketingError) as refused:
        services.check_in_ticket(qr_token=code, staff_user=door_staff)

    assert refused.value.status_code == 404
    assert refused.value.code == ("not_found" if how is legacy_looking else "bad_signature")
    assert written() == before


@pytest.mark.parametrize("how", FORGERIES, ids=lambda f: f.__name__)
def test_a_forged_code_is_404_in_the_api_and_unknown_at_the_door(
    how, api, client, ticket, door_staff, make_event
):
    code = forge(how, ticket, make_event)
    before = written()

    checkin = as_user(api, door_staff).post(f"/api/tickets/checkin/{code}")
    verify = api.get(f"/api/tickets/verify/{code}")
    client.force_login(door_staff)
    page = door_page_check_in(client, ticket.ticket_type.event, code)

    assert checkin.status_code == 404
    assert checkin.json()["detail"] == "Unknown ticket: this code is not one of ours."
    assert verify.status_code == 404 and verify.json()["valid"] is False
    assert '<p class="verdict">Unknown ticket</p>' in page.content.decode()
    assert written() == before


def test_a_signed_code_longer_than_the_cap_is_404_without_a_lookup(api, ticket, door_staff):
    code = signing.signed_token(ticket) + "A" * 100

    assert as_user(api, door_staff).post(f"/api/tickets/checkin/{code}").status_code == 404


# Admitting


def test_the_service_admits_a_signed_code_once(ticket, door_staff):
    token = signing.signed_token(ticket)

    admitted = services.check_in_ticket(qr_token=token, staff_user=door_staff)

    assert admitted.pk == ticket.pk and admitted.status == Ticket.Status.CHECKED_IN
    with pytest.raises(errors.AlreadyCheckedIn):
        services.check_in_ticket(qr_token=token, staff_user=door_staff)
    assert CheckIn.objects.count() == 1


def test_the_api_admits_a_signed_code(api, ticket, door_staff):
    response = as_user(api, door_staff).post(f"/api/tickets/checkin/{signing.signed_token(ticket)}")

    assert response.status_code == 200
    assert response.json()["checked_in"] is True
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CHECKED_IN


def test_the_door_page_admits_a_signed_code(client, ticket, door_staff):
    client.force_login(door_staff)

    page = door_page_check_in(client, ticket.ticket_type.event, signing.signed_token(ticket))

    assert '<p class="verdict">Admitted</p>' in page.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CHECKED_IN


@pytest.mark.parametrize("where", ["service", "api", "door page"])
def test_a_random_code_still_admits(where, api, client, ticket, door_staff):
    if where == "service":
        services.check_in_ticket(qr_token=ticket.qr_token, staff_user=door_staff)
    elif where == "api":
        assert as_user(api, door_staff).post(f"/api/tickets/checkin/{ticket.qr_token}").status_code == 200
    else:
        client.force_login(door_staff)
        assert (
            '<p class="verdict">Admitted</p>'
            in door_page_check_in(client, ticket.ticket_type.event, ticket.qr_token).content.decode()
        )
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CHECKED_IN


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "random"])
def test_verify_knows_both_kinds_of_code(api, ticket, signed):
    code = signing.signed_token(ticket) if signed else ticket.qr_token

    body = api.get(f"/api/tickets/verify/{code}").json()

    assert body["valid"] is True
    assert body["ticket_type"]["id"] == ticket.ticket_type_id


def test_undo_through_the_api_finds_a_ticket_by_its_signed_code(api, ticket, admin_user):
    token = signing.signed_token(ticket)
    services.check_in_ticket(qr_token=token, staff_user=admin_user)
    list_id = services.default_list(ticket.ticket_type.event).pk

    response = as_user(api, admin_user).post(f"/api/tickets/checkin/{token}/undo", {"check_in_list": list_id})

    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.VALID


def test_orders_give_each_ticket_its_signed_code_and_no_key(api, buyer, ticket):
    body = as_user(api, buyer).get("/api/orders").content.decode()
    out = as_user(api, buyer).get("/api/orders").json()[0]["tickets"][0]

    assert out["signed_token"] == signing.signed_token(ticket)
    assert out["qr_token"] == ticket.qr_token
    key = signing.event_key(ticket.order.event_id)
    for spelling in (base64.b64encode, base64.urlsafe_b64encode, base64.b32encode):
        assert spelling(bytes(key.private_key)).decode().rstrip("=") not in body
    assert bytes(key.private_key).hex() not in body


# Re-issue


def test_reissue_gives_new_codes_and_refuses_the_old_ones(api, ticket, door_staff, admin_user):
    old_signed, old_random = signing.signed_token(ticket), ticket.qr_token

    signing.reissue_ticket(ticket.pk, actor=admin_user, reason="phone stolen")

    ticket.refresh_from_db()
    assert ticket.version == 2 and ticket.qr_token != old_random
    entry = AuditEntry.objects.get(kind=AuditEntry.Kind.TICKET_REISSUED)
    assert (entry.ticket_id, entry.actor_id, entry.reason) == (ticket.pk, admin_user.pk, "phone stolen")
    before = written()
    with pytest.raises(errors.TicketReissued):
        services.check_in_ticket(qr_token=old_signed, staff_user=door_staff)
    response = as_user(api, door_staff).post(f"/api/tickets/checkin/{old_signed}")
    assert response.status_code == 409 and response.json()["code"] == "ticket_reissued"
    with pytest.raises(errors.NotFound):
        services.check_in_ticket(qr_token=old_random, staff_user=door_staff)
    assert as_user(api, door_staff).post(f"/api/tickets/checkin/{old_random}").status_code == 404
    assert api.get(f"/api/tickets/verify/{old_signed}").status_code == 404
    assert written() == before


def test_the_door_page_says_a_reissued_code_is_out_of_date(client, ticket, door_staff, admin_user):
    old = signing.signed_token(ticket)
    signing.reissue_ticket(ticket.pk, actor=admin_user, reason="x")
    client.force_login(door_staff)

    body = door_page_check_in(client, ticket.ticket_type.event, old).content.decode()

    assert '<p class="verdict">Out-of-date code</p>' in body
    assert CheckIn.objects.count() == 0


@pytest.mark.parametrize("signed", [True, False], ids=["signed", "random"])
def test_a_reissued_tickets_new_codes_admit(ticket, door_staff, admin_user, signed):
    signing.reissue_ticket(ticket.pk, actor=admin_user, reason="x")
    ticket.refresh_from_db()
    code = signing.signed_token(ticket) if signed else ticket.qr_token

    services.check_in_ticket(qr_token=code, staff_user=door_staff)

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CHECKED_IN


def test_a_cancelled_ticket_is_not_reissued(ticket, admin_user):
    services.cancel_order(user=admin_user, order_id=ticket.order_id, reason="x")
    before = written()

    with pytest.raises(errors.TicketCancelled):
        signing.reissue_ticket(ticket.pk, actor=admin_user, reason="x")
    assert written() == before


def test_only_staff_who_manage_orders_reissue_or_rotate(ticket, door_staff):
    before = written()
    with pytest.raises(errors.NotAllowed):
        signing.reissue_ticket(ticket.pk, actor=door_staff, reason="x")
    with pytest.raises(errors.NotAllowed):
        signing.rotate_key(ticket.ticket_type.event, actor=door_staff)
    assert written() == before


# Rotation


def test_rotation_changes_every_signed_code_of_the_event_only(make_event, ticket, door_staff, admin_user):
    event = ticket.ticket_type.event
    other_event_key = signing.event_key(make_event().pk)
    old = signing.signed_token(ticket)
    old_key = signing.event_key(event.pk)

    signing.rotate_key(event, actor=admin_user, reason="laptop lost")

    new = signing.signed_token(ticket)
    assert new != old
    old_key.refresh_from_db()
    assert old_key.retired_at is not None
    assert EventKey.objects.get(pk=other_event_key.pk).retired_at is None
    entry = AuditEntry.objects.get(kind=AuditEntry.Kind.KEY_ROTATED)
    assert (entry.event_id, entry.actor_id) == (event.pk, admin_user.pk)
    assert "laptop lost" in entry.reason
    before = written()
    with pytest.raises(errors.BadSignature):
        services.check_in_ticket(qr_token=old, staff_user=door_staff)
    assert written() == before
    services.check_in_ticket(qr_token=new, staff_user=door_staff)
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CHECKED_IN


def test_rotating_an_event_without_a_key_makes_one(event, admin_user):
    key = signing.rotate_key(event, actor=admin_user)

    assert signing.event_key(event.pk) == key


# Admin


def test_admin_reissues_selected_tickets(client, admin_user, ticket):
    client.force_login(admin_user)
    url = reverse("admin:ticketing_ticket_changelist")
    selection = {"action": "reissue_tickets", "_selected_action": [ticket.pk]}

    page = client.post(url, selection)
    assert "Yes, re-issue tickets" in page.content.decode()
    client.post(url, {**selection, "confirm": "yes", "reason": "shared on social media"})

    ticket.refresh_from_db()
    assert ticket.version == 2
    assert AuditEntry.objects.get(kind="ticket_reissued").reason == "shared on social media"


def test_admin_rotates_the_signing_key_of_selected_events(client, admin_user, ticket):
    event = ticket.ticket_type.event
    old = signing.signed_token(ticket)
    client.force_login(admin_user)
    url = reverse("admin:events_event_changelist")

    client.post(
        url,
        {"action": "rotate_signing_keys", "_selected_action": [event.pk], "confirm": "yes", "reason": "r"},
    )

    assert signing.signed_token(ticket) != old
    assert AuditEntry.objects.filter(kind="key_rotated", event_id=event.pk).count() == 1
