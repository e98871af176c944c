"""Attendee lists as CSV and XLSX downloads, for the dashboard's links and the admin's actions."""

import csv
import io

from django.http import HttpResponse
from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter

from events import formatting
from ticketing import reports
from ticketing.models import Ticket

# A cell starting with one of these is a formula to a spreadsheet opening the file.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
WIDEST_COLUMN = 50


def neutralised(value):
    """A text cell a spreadsheet reads as text: one that could start a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def attendee_headers(event) -> list[str]:
    return [
        _("Name"),
        _("Email"),
        _("Ticket type"),
        _("Ticket number"),
        _("Order number"),
        _("Status"),
        # Translators: the zone is the event's, such as Europe/Berlin.
        _("Checked in at (%(zone)s)") % {"zone": event.time_zone},
    ]


def attendee_rows(event):
    """The attendee list's rows; the check-in time as a wall-clock time in the event's zone."""
    tz = formatting.zone(event.time_zone)
    statuses = dict(Ticket.Status.choices)
    for name, email, type_name, ticket_id, order_id, status, checked_in_at in reports.attendees(
        event_id=event.pk
    ).iterator():
        local = checked_in_at.astimezone(tz).replace(tzinfo=None) if checked_in_at else None
        yield [name, email, type_name, ticket_id, order_id, str(statuses.get(status, status)), local]


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def attendees_csv(event) -> bytes:
    """The attendee list as UTF-8 CSV with a byte-order mark (so spreadsheets read the accents)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(attendee_headers(event))
    for row in attendee_rows(event):
        local = row[-1]
        row[-1] = local.isoformat(sep=" ", timespec="seconds") if local else ""
        writer.writerow([neutralised(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def attendees_xlsx(event) -> bytes:
    """The attendee list as a workbook: a bold header row, columns as wide as their text, real
    date-time cells, and every text cell stored as text (never a formula)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Attendees")
    headers = attendee_headers(event)
    sheet.append(headers)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    widths = [len(h) for h in headers]
    for row in attendee_rows(event):
        sheet.append(row)
        for i, cell in enumerate(sheet[sheet.max_row]):
            if isinstance(cell.value, str):
                # openpyxl would store a text starting with "=" as a formula.
                cell.data_type = "s"
            elif cell.is_date:
                cell.number_format = "yyyy-mm-dd hh:mm:ss"
            widths[i] = max(widths[i], 19 if cell.is_date else len(str(cell.value or "")))
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = min(width + 2, WIDEST_COLUMN)
    sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def attendees_csv_response(event) -> HttpResponse:
    """The event's attendee list as a CSV download."""
    return _download(attendees_csv(event), "text/csv; charset=utf-8", f"attendees-{event.slug}.csv")


def attendees_xlsx_response(event) -> HttpResponse:
    """The event's attendee list as an XLSX download."""
    return _download(attendees_xlsx(event), XLSX_TYPE, f"attendees-{event.slug}.xlsx")
