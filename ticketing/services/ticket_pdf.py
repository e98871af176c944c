"""An order's tickets as a PDF to print or keep: one A4 page per ticket that still admits."""

import io
from functools import lru_cache
from pathlib import Path

import reportlab
import segno
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from events import formatting
from ticketing import errors, selectors
from ticketing.models import Order, Ticket
from ticketing.services import signing

WIDTH, HEIGHT = A4
MARGIN = 20 * mm
QR_SIZE = 90 * mm  # a phone reads it from arm's length, a door scanner from across the counter
INK, MUTED, ACCENT = (0.09, 0.1, 0.16), (0.36, 0.38, 0.45), (0.27, 0.22, 0.79)
# An embedded TrueType font, since the PDF's built-in Helvetica stops at Latin-1: DejaVu Sans
# where the system has it (Polish, Greek, Cyrillic names), else Bitstream Vera, which ships with
# reportlab and so is always there (Western European letters, "€").
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
VERA = Path(reportlab.__file__).parent / "fonts"
FONT_FILES = {
    "regular": [DEJAVU / "DejaVuSans.ttf", VERA / "Vera.ttf"],
    "bold": [DEJAVU / "DejaVuSans-Bold.ttf", VERA / "VeraBd.ttf"],
}
FONT_NAMES = {"regular": "EventTixSans", "bold": "EventTixSans-Bold"}


def printable_tickets(order: Order) -> list[Ticket]:
    """The order's tickets that are not cancelled, in order (a checked-in one may still re-enter)."""
    return [ticket for ticket in order.tickets.all() if ticket.status != Ticket.Status.CANCELLED]


def own_order_tickets_pdf(*, user, order_id: int) -> tuple[Order, bytes]:
    """The buyer's own order and its tickets PDF; to anyone else the order does not exist."""
    order = selectors.user_orders(user=user).filter(pk=order_id).first()
    if order is None:
        raise errors.NotFound(_("There is no such order."))
    return order, render_order_tickets_pdf(order)


def pdf_filename(order: Order) -> str:
    return f"eventtix-order-{order.pk}-tickets.pdf"


def render_order_tickets_pdf(order: Order) -> bytes:
    """The PDF of the order's tickets; raises NoValidTickets when none still admits."""
    tickets = printable_tickets(order)
    if not tickets:
        raise errors.NoValidTickets()
    _register_fonts()
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(
        _("Tickets for %(event)s, order #%(order)s") % {"event": order.event.name, "order": order.pk}
    )
    pdf.setAuthor("EventTix")
    for number, ticket in enumerate(tickets, start=1):
        _draw_ticket(pdf, order, ticket, number=number, of=len(tickets))
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def qr_png(code: str, *, scale: int = 10) -> bytes:
    """The code as a black-on-white QR code PNG, with the quiet zone scanners need."""
    out = io.BytesIO()
    _qr(code).save(out, kind="png", scale=scale, border=4)
    return out.getvalue()


@lru_cache(maxsize=64)
def _qr(code: str) -> segno.QRCode:
    # Encoding is most of a code's cost, and a confirmation draws each code twice (email, PDF).
    return segno.make(code, error="m")


def _register_fonts():
    registered = pdfmetrics.getRegisteredFontNames()
    for style, files in FONT_FILES.items():
        if FONT_NAMES[style] not in registered:
            file = next(path for path in files if path.exists())
            pdfmetrics.registerFont(TTFont(FONT_NAMES[style], str(file)))


def _draw_ticket(pdf, order: Order, ticket: Ticket, *, number: int, of: int):
    event = order.event
    y = HEIGHT - MARGIN
    pdf.setFillColorRGB(*ACCENT)
    pdf.setFont(FONT_NAMES["bold"], 14)
    pdf.drawString(MARGIN, y - 14, "EventTix")
    pdf.setFillColorRGB(*MUTED)
    pdf.setFont(FONT_NAMES["regular"], 10)
    pdf.drawRightString(
        WIDTH - MARGIN, y - 12, _("Ticket %(number)s of %(count)s") % {"number": number, "count": of}
    )
    y = _lines(pdf, event.name, y - 50, size=24, bold=True)
    details = [formatting.moment(event.starts_at, event.time_zone)]
    if event.venue:
        details.append(event.venue)
    for line in details:
        y = _lines(pdf, line, y - 6, size=13, color=MUTED)
    code = signing.signed_token(ticket)
    qr_top = y - 16
    pdf.drawImage(
        ImageReader(io.BytesIO(qr_png(code))), (WIDTH - QR_SIZE) / 2, qr_top - QR_SIZE, QR_SIZE, QR_SIZE
    )
    y = qr_top - QR_SIZE - 14
    facts = [
        (_("Ticket type"), order.ticket_type.name),
        (_("Holder"), order.user.name),
        (_("Order"), _("#%(order)s · ticket #%(ticket)s") % {"order": order.pk, "ticket": ticket.pk}),
        (_("Price"), formatting.money(order.unit_price, event.currency)),
    ]
    if ticket.status == Ticket.Status.CHECKED_IN:
        when = formatting.moment(ticket.checked_in_at, event.time_zone)
        facts.append((_("Status"), _("Checked in at %(when)s") % {"when": when}))
    for label, value in facts:
        y = _fact(pdf, label, value, y)
    y = _lines(pdf, code, y - 8, size=7, color=MUTED, font="Courier")
    instructions = [
        _("Show this QR code at the door, printed or on your phone. It admits one person, once."),
        _("Keep it to yourself: whoever shows a copy of this code first is let in."),
    ]
    for line in instructions:
        y = _lines(pdf, line, y - 8, size=11)


def _fact(pdf, label: str, value: str, y: float) -> float:
    """A label and its value on one line (the value wraps); the y below it."""
    pdf.setFillColorRGB(*MUTED)
    pdf.setFont(FONT_NAMES["regular"], 10)
    pdf.drawString(MARGIN, y - 12, label)
    return _lines(pdf, value, y, size=12, bold=True, left=MARGIN + 40 * mm) - 4


def _lines(pdf, text, y, *, size, bold=False, color=INK, left=MARGIN, font=None) -> float:
    """Text wrapped to the page's width from y down; the y below its last line."""
    font = font or FONT_NAMES["bold" if bold else "regular"]
    pdf.setFillColorRGB(*color)
    pdf.setFont(font, size)
    leading = size * 1.3
    for line in simpleSplit(str(text), font, size, WIDTH - MARGIN - left) or [""]:
        y -= leading
        pdf.drawString(left, y, line)
    return y
