"""Signed tickets: QR codes the door can verify without the database, and the keys that sign them.

A signed code is PREFIX + base32 (RFC 4648 alphabet, uppercase, no padding) of a payload and its
Ed25519 signature. The payload is a format byte, then unsigned LEB128 varints of the ticket id,
event id, ticket type id and ticket version; what is signed is SIGNING_CONTEXT + payload, with the
event's active key. Ed25519 is deterministic, so a ticket's code is a function of its key and
payload: it is computed when shown and never stored. Base32 keeps the code in the QR alphanumeric
mode, which makes a smaller QR code than base64url's byte mode (version 5 against 6 at level M).
"""

import base64
import binascii
import re
from typing import NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from events.models import Event
from ticketing import errors
from ticketing.models import EventKey, Ticket
from ticketing.services import ledger
from ticketing.services.orders import can_manage_orders

PREFIX = "T."
FORMAT = 1
SIGNING_CONTEXT = b"eventtix-ticket:"
SIGNATURE_BYTES = 64
# Generous: a code of today's ids is about 116 characters.
MAX_LENGTH = 200
BASE32 = re.compile(r"[A-Z2-7]+")


class Payload(NamedTuple):
    ticket_id: int
    event_id: int
    ticket_type_id: int
    version: int


class Locator(NamedTuple):
    """How to find the ticket a scanned code names, and the version the code must carry (None:
    a random code, which names only the current version)."""

    where: Q
    version: int | None

    def current(self, ticket: Ticket) -> bool:
        return self.version is None or ticket.version == self.version


def is_signed(token: str) -> bool:
    """Signed codes begin with PREFIX; random ones (secrets.token_urlsafe(24): 32 characters of
    A-Z a-z 0-9 _ -) never hold its '.', and are shorter than any signed code."""
    return token.startswith(PREFIX) and len(token) > 32


def event_key(event_id: int) -> EventKey:
    """The event's active key, made the first time it is asked for."""
    found = EventKey.objects.filter(event_id=event_id, retired_at__isnull=True).first()
    if found is not None:
        return found
    private, public = _new_key_pair()
    try:
        with transaction.atomic():
            return EventKey.objects.create(event_id=event_id, private_key=private, public_key=public)
    except IntegrityError:  # made at the same moment by another request
        return EventKey.objects.get(event_id=event_id, retired_at__isnull=True)


def event_public_key(event_id: int) -> bytes:
    """The raw 32 bytes of the event's public key: for door staff's phones, never anyone else's."""
    return bytes(event_key(event_id).public_key)


def signed_token(ticket: Ticket) -> str:
    """The code in the ticket's QR code, signed with its event's active key."""
    event_id = ticket.order.event_id
    payload = _payload(Payload(ticket.pk, event_id, ticket.ticket_type_id, ticket.version))
    signature = _private_key(event_key(event_id)).sign(SIGNING_CONTEXT + payload)
    return PREFIX + base64.b32encode(payload + signature).decode().rstrip("=")


def read_token(token: str) -> Payload:
    """The payload of a signed code, once its signature holds against its event's active key.
    Raises BadSignature for anything else, whatever is wrong with it."""
    body = token[len(PREFIX) :] if is_signed(token) and len(token) <= MAX_LENGTH else ""
    if not BASE32.fullmatch(body):
        raise errors.BadSignature()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except (binascii.Error, ValueError):
        raise errors.BadSignature() from None
    # One code per payload: no second spelling of the same bytes (stray bits in the last character).
    if base64.b32encode(raw).decode().rstrip("=") != body:
        raise errors.BadSignature()
    payload, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    fields = _fields(payload)
    # Looked up, never made: a forged event id must not create keys.
    key = EventKey.objects.filter(event_id=fields.event_id, retired_at__isnull=True).first()
    if key is None:
        raise errors.BadSignature()
    try:
        Ed25519PublicKey.from_public_bytes(bytes(key.public_key)).verify(signature, SIGNING_CONTEXT + payload)
    except InvalidSignature:
        raise errors.BadSignature() from None
    return fields


# Every code, signed or random, is made of these; anything else (a NUL byte, say) is refused
# before any query.
CODE_SHAPE = re.compile(r"[A-Za-z0-9_.-]{1,200}")


def locator_for(code: str) -> Locator:
    """Where a scanned code leads: a signed one (checked here) to its ticket and version, a
    random one to the ticket holding it. Raises BadSignature for a signed code that fails, and
    for anything not shaped like a code."""
    if not CODE_SHAPE.fullmatch(code):
        raise errors.BadSignature()
    if is_signed(code):
        payload = read_token(code)
        return Locator(Q(pk=payload.ticket_id, ticket_type_id=payload.ticket_type_id), payload.version)
    return Locator(Q(qr_token=code), None)


def rotate_key(event: Event, *, actor, reason: str = "", now=None) -> EventKey:
    """Retire the event's key and make a new one: every signed code of the event changes, and
    the old ones stop verifying. Staff who manage orders only."""
    if not can_manage_orders(actor):
        raise errors.NotAllowed(_("Only staff who manage orders can rotate an event's signing key."))
    now = now or timezone.now()
    private, public = _new_key_pair()
    with transaction.atomic(durable=True):
        Event.objects.select_for_update().filter(pk=event.pk).first()
        old = EventKey.objects.select_for_update().filter(event_id=event.pk, retired_at__isnull=True).first()
        return ledger.key_rotated(
            event_id=event.pk,
            old=old,
            private_key=private,
            public_key=public,
            actor_id=actor.pk,
            now=now,
            reason=reason or "rotated by staff",
        )


def reissue_ticket(ticket_id: int, *, actor, reason: str = "") -> Ticket:
    """Give a ticket a new version and a new random code; its old codes, signed or random, stop
    admitting. Not for a cancelled ticket. Staff who manage orders only."""
    if not can_manage_orders(actor):
        raise errors.NotAllowed(_("Only staff who manage orders can re-issue tickets."))
    with transaction.atomic(durable=True):
        ticket = (
            Ticket.objects.select_for_update(of=("self",))
            .select_related("order")
            .filter(pk=ticket_id)
            .first()
        )
        if ticket is None:
            raise errors.NotFound(_("There is no such ticket."))
        if ticket.status == Ticket.Status.CANCELLED:
            raise errors.TicketCancelled(_("A cancelled ticket cannot be re-issued."))
        ledger.reissue_ticket(ticket=ticket, actor_id=actor.pk, reason=reason or "re-issued by staff")
    return ticket


def _new_key_pair() -> tuple[bytes, bytes]:
    private = Ed25519PrivateKey.generate()
    return private.private_bytes_raw(), private.public_key().public_bytes_raw()


def _private_key(key: EventKey) -> Ed25519PrivateKey:
    # BinaryField gives memoryview on PostgreSQL, bytes on SQLite.
    return Ed25519PrivateKey.from_private_bytes(bytes(key.private_key))


def _payload(fields: Payload) -> bytes:
    out = bytearray([FORMAT])
    for n in fields:
        while n >= 0x80:
            out.append(n & 0x7F | 0x80)
            n >>= 7
        out.append(n)
    return bytes(out)


def _fields(payload: bytes) -> Payload:
    """The fields of a payload, which must be exactly what _payload writes."""
    if not payload or payload[0] != FORMAT:
        raise errors.BadSignature()
    values, n, shift = [], 0, 0
    for byte in payload[1:]:
        n |= (byte & 0x7F) << shift
        shift += 7
        if byte & 0x80:
            if shift > 63:
                raise errors.BadSignature()
            continue
        values.append(n)
        n, shift = 0, 0
    if shift or len(values) != len(Payload._fields):
        raise errors.BadSignature()
    fields = Payload(*values)
    if _payload(fields) != payload:  # a varint padded with zero groups
        raise errors.BadSignature()
    return fields
