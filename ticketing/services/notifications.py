"""Emails to buyers, sent from the outbox at least once."""

import secrets
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
    """Send the outbox's unsent emails, up to limit; return how many were sent."""
    now = now or timezone.now()
    claim = secrets.token_hex(8)
    # Claimed in one conditional UPDATE (no lock held while mail is sent): a row is ours only if
    # it was free, so two senders never send the same row at once.
    free = Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
    ids = list(OutboxEmail.objects.filter(free, sent_at__isnull=True).values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    OutboxEmail.objects.filter(free, pk__in=ids, sent_at__isnull=True).update(
        # Past the claim another run sends it: this sender died, or hangs on the mail server.
        claim=claim,
        claimed_until=now + timedelta(seconds=settings.OUTBOX_CLAIM_SECONDS),
    )
    emails = list(OutboxEmail.objects.filter(pk__in=ids, claim=claim, sent_at__isnull=True))
    sent = 0
    with get_connection() as connection:
        for email in emails:
            try:
                message = render(email)
                message.connection = connection
                message.send()
            except Exception:
                # Left claimed: retried after the claim expires, like a sender that died.
                OutboxEmail.objects.filter(pk=email.pk, claim=claim).update(attempts=email.attempts + 1)
                continue
            OutboxEmail.objects.filter(pk=email.pk, claim=claim).update(sent_at=timezone.now())
            sent += 1
    return sent


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
