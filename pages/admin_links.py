"""Registration links as a CSV file for the ticketing system's mail merge."""

import csv

from django.http import HttpResponse
from django.utils import timezone

from attendees.registration_links import registration_link_current, registration_link_expires_at

COLUMNS = [
    "ticket_code",
    "name",
    "email",
    "external_id",
    "event",
    "registration_link",
    "link_expires_at",
]
# A cell starting with one of these is a formula to a spreadsheet: "=HYPERLINK(...)" as a name
# would run when the organizer opens the file.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value) -> str:
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def registration_links_csv_response(holders, base_url: str) -> HttpResponse:
    """One row per holder with a valid link (revoked and expired ones are left out)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="registration-links-{stamp}.csv"'
    response.write("\ufeff")  # spreadsheets then read the file as UTF-8
    writer = csv.writer(response)
    writer.writerow(COLUMNS)
    for holder in holders:
        url = registration_link_current(holder, base_url)
        if url is None:
            continue
        expires = registration_link_expires_at(holder)
        assert expires is not None
        row = [
            holder.ticket_code,
            holder.name,
            holder.email,
            holder.external_id,
            holder.event.name,
            url,
            timezone.localtime(expires).isoformat(timespec="minutes"),
        ]
        writer.writerow([_cell(v) for v in row])
    return response
