"""Emails to buyers, sent from the outbox at least once."""

import secrets
import time
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from events.models import Event
from ticketing.models import Order, OutboxEmail

BATCH = 100

SUBJECTS = {
    OutboxEmail.Kind.ORDER_CONFIRMED: "Your tickets for {event}",
    OutboxEmail.Kind.WAITING_LIST_SERVED: "Your tickets for {event}, from the waiting list",
    OutboxEmail.Kind.ORDER_CANCELLED: "Your tickets for {event} were cancelled",
    OutboxEmail.Kind.EVENT_CANCELLED: "{event} is cancelled",
}


def send_outbox(*, limit: int = BATCH, now=None) -> int:
    """Send up to `limit` of the outbox's unsent emails; return how many were sent."""
    return _send_batch(limit=limit, now=now)[1]


def send_owed_emails(*, time_budget: float = 20.0) -> tuple[int, bool]:
    """Send the outbox's unsent emails batch after batch: (sent, whether more may be owed).

    Stops after time_budget seconds, so a task never runs into the cluster's time-out; the caller
    then asks for another run.
    """
    deadline = time.monotonic() + time_budget
    sent = 0
    while True:
        claimed, n = _send_batch(limit=BATCH)
        sent += n
        if claimed < BATCH:
            return sent, False
        if time.monotonic() >= deadline:
            return sent, True


def _send_batch(*, limit: int, now=None) -> tuple[int, int]:
    """Claim up to limit unsent emails and send them: (claimed, sent)."""
    now = now or timezone.now()
    claim = secrets.token_hex(8)
    # Claimed with a conditional UPDATE (no lock held while mail is sent): a row is ours only if it
    # was free. Past the claim another run sends it: this sender died, or hangs on the mail server.
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    ids = list(OutboxEmail.objects.filter(free, sent_at__isnull=True).values_list("pk", flat=True)[:limit])
    if not ids:
        return 0, 0
    OutboxEmail.objects.filter(free, pk__in=ids, sent_at__isnull=True).update(
        claim=claim, claimed_until=now + _claim_time()
    )
    emails = list(OutboxEmail.objects.filter(pk__in=ids, claim=claim, sent_at__isnull=True))
    sent = 0
    with get_connection() as connection:
        for email in emails:
            # Renewed before each message: a sender slow enough to outlive its claim finds the row
            # taken by another and leaves it, rather than sending it a second time.
            ours = OutboxEmail.objects.filter(pk=email.pk, claim=claim, sent_at__isnull=True)
            if not ours.update(claimed_until=timezone.now() + _claim_time()):
                continue
            try:
                message = render(email)
                message.connection = connection
                message.send()
            except Exception:
                # Any failure of rendering or the mail backend: left claimed, so retried once the
                # claim expires, as if this sender had died.
                ours.update(attempts=email.attempts + 1)
                continue
            sent += ours.update(sent_at=timezone.now())
    return len(emails), sent


def _claim_time() -> timedelta:
    return timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS)


def render(email: OutboxEmail) -> EmailMessage:
    """The message an outbox row stands for."""
    order = None
    if email.order_id:
        order = Order.objects.select_related("user", "event", "ticket_type").get(pk=email.order_id)
        user, event = order.user, order.event
    else:
        from django.contrib.auth import get_user_model

        user = get_user_model().objects.get(pk=email.user_id)
        event = Event.objects.get(pk=email.event_id)
    site = settings.SITE_URL.rstrip("/")
    context = {
        "email": email,
        "kind": OutboxEmail.Kind,
        "order": order,
        "user": user,
        "event": event,
        "tickets_url": site + reverse("ticketing:my_tickets"),
        "order_url": site + order.get_absolute_url() if order else "",
    }
    body = render_to_string(f"email/{email.kind}.txt", context)
    subject = SUBJECTS[email.kind].format(event=event.name)
    return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email])
