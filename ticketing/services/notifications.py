"""Emails to buyers, sent from the outbox at least once."""

import logging
import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import get_connection
from django.db.models import F, Prefetch, Q
from django.utils import timezone

from events.models import Event
from ticketing.models import Order, OutboxEmail, Ticket
from ticketing.services.emails import build_email

logger = logging.getLogger(__name__)

BATCH = 100
# Sent emails are marked in groups this size: a commit per email cost the cluster more than the
# sending. A sender killed mid-group sends those again (at least once allows it).
MARK_EVERY = 10


def send_outbox(*, limit: int = BATCH, now=None) -> int:
    """Send up to `limit` of the outbox's unsent emails; return how many were sent."""
    return _send_batch(limit=limit, now=now)[1]


def emails_owed(*, now=None) -> bool:
    """Whether an unsent email is free to be sent now (not claimed by a sender at work)."""
    return OutboxEmail.objects.filter(_free(now or timezone.now()), sent_at__isnull=True).exists()


def _free(now) -> Q:
    """Rows no sender holds at `now`: never claimed, or their claim expired."""
    return Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)


def send_owed_emails(*, time_budget: float = 20.0, before_each=None) -> tuple[int, bool]:
    """Send the outbox's unsent emails batch after batch: (sent, whether more may be owed).

    Stops after time_budget seconds, checked before each email (rendering one, with its PDF and
    QR codes, is the cost), so a task never runs into the cluster's time-out however slow the
    machine; the caller then asks for another run. `before_each` is called before each email (the
    task renews its one-sender mark with it).
    """
    deadline = time.monotonic() + time_budget
    sent = 0
    while True:
        claimed, n = _send_batch(limit=BATCH, deadline=deadline, before_each=before_each)
        sent += n
        if time.monotonic() >= deadline:
            return sent, claimed > 0
        if claimed < BATCH:
            return sent, False


def _send_batch(*, limit: int, now=None, deadline: float | None = None, before_each=None) -> tuple[int, int]:
    """Claim up to limit unsent emails and send them, until `deadline` (time.monotonic) if given:
    (claimed, sent). What the deadline leaves unsent is let go, for the next run to take at once."""
    now = now or timezone.now()
    claim = secrets.token_hex(8)
    # Claimed with a conditional UPDATE (no lock held while mail is sent): a row is ours only if it
    # was free. Past the claim another run sends it: this sender died, or hangs on the mail server.
    free = _free(now)
    ids = list(OutboxEmail.objects.filter(free, sent_at__isnull=True).values_list("pk", flat=True)[:limit])
    if not ids:
        return 0, 0
    OutboxEmail.objects.filter(free, pk__in=ids, sent_at__isnull=True).update(
        claim=claim, claimed_until=now + _claim_time()
    )
    emails = list(OutboxEmail.objects.filter(pk__in=ids, claim=claim, sent_at__isnull=True).order_by("pk"))
    ours = OutboxEmail.objects.filter(claim=claim, sent_at__isnull=True)
    sources = _sources(emails)
    renewed_at = time.monotonic()
    kept = {e.pk for e in emails}
    sent, done, failed = 0, [], []
    with get_connection() as connection:
        for i, email in enumerate(emails):
            if deadline is not None and time.monotonic() >= deadline:
                ours.filter(pk__in=[e.pk for e in emails[i:]]).update(claim="", claimed_until=None)
                break
            if time.monotonic() - renewed_at > settings.OUTBOX_CLAIM_SECONDS / 3:
                # Slow going: mark what went, and keep only the rest still ours, so a sender that
                # would outlive its claim never sends an email another sender has taken.
                sent += ours.filter(pk__in=done).update(sent_at=timezone.now())
                rest = [e.pk for e in emails[i:]]
                kept = set(ours.filter(pk__in=rest).values_list("pk", flat=True))
                ours.filter(pk__in=kept).update(claimed_until=timezone.now() + _claim_time())
                done, renewed_at = [], time.monotonic()
            if email.pk not in kept:
                continue
            if before_each is not None:
                before_each()
            try:
                message = render(email, sources)
                message.connection = connection
                message.send()
            except Exception:
                # Any failure of rendering or the mail backend: left claimed, so retried once the
                # claim expires, as if this sender had died.
                failed.append(email.pk)
                continue
            done.append(email.pk)
            if len(done) >= MARK_EVERY:
                sent += ours.filter(pk__in=done).update(sent_at=timezone.now())
                done = []
    sent += ours.filter(pk__in=done).update(sent_at=timezone.now())
    ours.filter(pk__in=failed).update(attempts=F("attempts") + 1)
    return len(emails), sent


def _claim_time() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS)


def _sources(emails: list[OutboxEmail]) -> dict:
    """What the outbox rows' messages are made from, in three reads: {"orders", "users", "events"}."""
    tickets = Prefetch("tickets", queryset=Ticket.objects.order_by("id"))
    orders = (
        Order.objects.select_related("user", "event", "ticket_type")
        .prefetch_related(tickets)
        .in_bulk({e.order_id for e in emails if e.order_id})
    )
    users = get_user_model().objects.in_bulk({e.user_id for e in emails if not e.order_id})
    events = Event.objects.in_bulk({e.event_id for e in emails if not e.order_id})
    return {"orders": orders, "users": users, "events": events}


def render(email: OutboxEmail, sources: dict):
    """The message one outbox row stands for. Raises if it cannot be made (the row names what
    no longer exists, or a template fails): counted as failed and retried after its claim, so one
    message that cannot be rendered holds up none of the others."""
    order = sources["orders"].get(email.order_id)
    user = order.user if order else sources["users"].get(email.user_id)
    event = order.event if order else sources["events"].get(email.event_id)
    if user is None or event is None:
        raise LookupError(f"outbox email #{email.pk} names what no longer exists")
    try:
        return build_email(email, order=order, user=user, event=event)
    except Exception:
        logger.exception("Could not render outbox email #%s", email.pk)
        raise
