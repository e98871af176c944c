"""The messages the outbox sends: HTML with a plain-text part, and for a confirmation the tickets'
QR codes shown inline and their PDF attached."""

from email.mime.image import MIMEImage

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext_lazy as _

from ticketing.models import OutboxEmail
from ticketing.services import signing, ticket_pdf

SUBJECTS = {
    OutboxEmail.Kind.ORDER_CONFIRMED: _("Your tickets for {event}"),
    OutboxEmail.Kind.WAITING_LIST_SERVED: _("Your tickets for {event}, from the waiting list"),
    OutboxEmail.Kind.ORDER_CANCELLED: _("Your tickets for {event} were cancelled"),
    OutboxEmail.Kind.EVENT_CANCELLED: _("{event} is cancelled"),
}
CONFIRMATIONS = {OutboxEmail.Kind.ORDER_CONFIRMED, OutboxEmail.Kind.WAITING_LIST_SERVED}
QR_PIXELS = 220  # shown this size in the email; the PNG is drawn sharper for high-density screens


class RelatedEmail(EmailMultiAlternatives):
    """An email whose HTML part shows images sent with it (src="cid:..."), as multipart/related."""

    def __init__(self, *args, inline_images=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.inline_images = list(inline_images)

    def _create_alternatives(self, msg):
        # Django builds mixed(alternative(text, html), attachments); mail clients show cid: images
        # reliably only from a related part around the alternatives: mixed(related(alternative,
        # images), attachments). Django has no public hook for that one level, hence this override,
        # held to its structure by test_emails.
        msg = super()._create_alternatives(msg)
        if not self.inline_images:
            return msg
        related = SafeMIMEMultipart(_subtype="related", encoding=self.encoding)
        related.attach(msg)
        for image in self.inline_images:
            related.attach(image)
        return related


def site_url(path: str) -> str:
    """The path as an absolute address on SITE_URL, for links in emails."""
    return settings.SITE_URL.rstrip("/") + path


def build_email(email: OutboxEmail, *, order, user, event) -> EmailMultiAlternatives:
    """The message one outbox row stands for, in its person's language (theirs, else the site's)."""
    with translation.override(user.language or settings.LANGUAGE_CODE):
        return _build_email(email, order=order, user=user, event=event)


def _build_email(email: OutboxEmail, *, order, user, event) -> EmailMultiAlternatives:
    tickets = ticket_pdf.printable_tickets(order) if order is not None and email.kind in CONFIRMATIONS else []
    codes = {ticket.pk: signing.signed_token(ticket) for ticket in tickets}
    shown = [_shown_ticket(ticket, codes[ticket.pk]) for ticket in tickets]
    context = {
        "email": email,
        "kind": OutboxEmail.Kind,
        "order": order,
        "user": user,
        "event": event,
        "tickets": shown,
        "qr_pixels": QR_PIXELS,
        "site_url": site_url("/"),
        "tickets_url": site_url(reverse("ticketing:my_tickets")),
        "order_url": site_url(order.get_absolute_url()) if order else "",
    }
    text = render_to_string(f"email/{email.kind}.txt", context)
    html = render_to_string(f"email/{email.kind}.html", context)
    subject = str(SUBJECTS[email.kind]).format(event=event.name)
    message = RelatedEmail(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [user.email],
        inline_images=[item["image"] for item in shown],
    )
    message.attach_alternative(html, "text/html")
    if tickets:
        pdf = ticket_pdf.render_order_tickets_pdf(order, codes=codes)
        message.attach(ticket_pdf.pdf_filename(order), pdf, "application/pdf")
    return message


def _shown_ticket(ticket, code: str) -> dict:
    """A ticket as the confirmation shows it: its QR code as an inline image and its page's link."""
    cid = f"ticket-{ticket.pk}@eventtix"
    image = MIMEImage(ticket_pdf.qr_png(code, scale=6), "png")
    image.add_header("Content-ID", f"<{cid}>")
    image.add_header("Content-Disposition", "inline", filename=f"ticket-{ticket.pk}.png")
    return {"ticket": ticket, "cid": cid, "image": image, "url": site_url(ticket.get_absolute_url())}
