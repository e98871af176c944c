"""An order's tickets as a PDF to print or keep: one A4 page per ticket that still admits."""

import io
from functools import lru_cache
from pathlib import Path

import reportlab
import zxingcpp
from django.utils.translation import gettext as _
from PIL import Image, ImageOps
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
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
QUIET_ZONE = 4  # modules of white around a code, as the QR standard asks
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


def render_order_tickets_pdf(order: Order, *, codes: dict | None = None) -> bytes:
    """The PDF of the order's tickets; raises NoValidTickets when none still admits.

    `codes` ({ticket pk: signed code}) spares signing them again when the caller has (the email).
    """
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
        code = (codes or {}).get(ticket.pk) or signing.signed_token(ticket)
        _draw_ticket(pdf, order, ticket, code, number=number, of=len(tickets))
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def qr_png(code: str, *, scale: int = 10) -> bytes:
    """The code as a black-on-white QR code PNG, with the quiet zone scanners need."""
    rows = _modules(code)
    size = len(rows)
    image = Image.frombytes(
        "L", (size, size), b"".join(bytes(0 if dark else 255 for dark in row) for row in rows)
    )
    image = ImageOps.expand(image, border=QUIET_ZONE, fill=255)
    image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.convert("1").save(out, format="PNG")
    return out.getvalue()


def _draw_qr(pdf, code: str, x: float, y: float, size: float):
    """The code's dark modules as filled rectangles (one a run): sharp at any print size, and
    no image to encode. (x, y) is the lower left of the square, quiet zone included."""
    rows = _modules(code)
    unit = size / (len(rows) + 2 * QUIET_ZONE)
    path = pdf.beginPath()
    for r, row in enumerate(rows):
        top = y + size - (r + QUIET_ZONE) * unit
        c = 0
        while c < len(row):
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            path.rect(x + (start + QUIET_ZONE) * unit, top - unit, (c - start) * unit, unit)
    pdf.setFillColorRGB(0, 0, 0)
    pdf.drawPath(path, stroke=0, fill=1)


@lru_cache(maxsize=64)
def _modules(code: str) -> tuple[tuple[bool, ...], ...]:
    """The code's QR modules, row by row, True for dark (error correction M, as on the ticket page).

    Encoded by zxing-cpp (C++): an on-sale's confirmations draw thousands of codes, and segno's
    pure-Python encoder took about 25 ms a code against well under 1. Cached, as a confirmation
    draws each code twice (email, PDF).
    """
    barcode = zxingcpp.create_barcode(code, zxingcpp.BarcodeFormat.QRCode, ec_level="M")
    pixels = memoryview(barcode.to_image(scale=1, add_quiet_zones=False))
    height, width = pixels.shape
    flat = bytes(pixels)
    return tuple(tuple(flat[r * width + c] < 128 for c in range(width)) for r in range(height))


def _register_fonts():
    registered = pdfmetrics.getRegisteredFontNames()
    for style, files in FONT_FILES.items():
        if FONT_NAMES[style] not in registered:
            file = next(path for path in files if path.exists())
            pdfmetrics.registerFont(TTFont(FONT_NAMES[style], str(file)))


def _draw_ticket(pdf, order: Order, ticket: Ticket, code: str, *, number: int, of: int):
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
    qr_top = y - 16
    _draw_qr(pdf, code, (WIDTH - QR_SIZE) / 2, qr_top - QR_SIZE, QR_SIZE)
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
