"""Emails to buyers."""

from django.conf import settings
from django.core.mail import get_connection, send_mass_mail
from django.template.loader import render_to_string
from django.urls import reverse

from ticketing.models import Order


def send_order_confirmations(*, order_ids: list[int]) -> int:
    """Email each order's buyer a confirmation with a link to the tickets; return emails sent."""
    orders = Order.objects.filter(pk__in=order_ids).select_related("user", "event", "ticket_type")
    messages = []
    for order in orders:
        context = {
            "order": order,
            "tickets_url": settings.SITE_URL.rstrip("/") + reverse("ticketing:my_tickets"),
        }
        subject = f"Your tickets for {order.event.name}"
        body = render_to_string("email/order_confirmation.txt", context)
        messages.append((subject, body, settings.DEFAULT_FROM_EMAIL, [order.user.email]))
    if not messages:
        return 0
    return send_mass_mail(messages, fail_silently=False, connection=get_connection())
