"""CSV import of ticket holders: validate every row, upsert by ticket code, report per row.

Re-uploading the same file changes nothing: rows are matched on the ticket code
(unique per event) and only real differences are written.
"""

import csv
import io
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from attendees.models import TicketHolder
from common.db import rows_update
from common.tickets import ticket_code_key, ticket_code_normalise
from events.models import Event

REQUIRED_COLUMNS = ("name", "ticket_code")
OPTIONAL_COLUMNS = ("email", "external_id")
MAX_ROWS = 200_000
_LIMITS = {"name": 200, "ticket_code": 64, "email": 254, "external_id": 100}


class CsvFileError(ValueError):
    """The file as a whole cannot be read (encoding, missing columns, too many rows)."""


@dataclass
class CsvImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def summary(self) -> str:
        return _(
            "%(created)s created, %(updated)s updated, %(unchanged)s unchanged, "
            "%(errors)s rows with errors"
        ) % {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "errors": len(self.errors),
        }


def _read_rows(raw: bytes) -> list[tuple[int, dict[str, str]]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CsvFileError(
            _("The file is not UTF-8 text. Save it as CSV UTF-8 and retry.")
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip().lower().replace(" ", "_") for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in headers]
    if missing:
        raise CsvFileError(
            _("Missing column(s): %(missing)s. Expected a header row with %(expected)s.")
            % {
                "missing": ", ".join(missing),
                "expected": ", ".join(REQUIRED_COLUMNS + OPTIONAL_COLUMNS),
            }
        )
    reader.fieldnames = headers
    rows = []
    for row in reader:
        if len(rows) >= MAX_ROWS:
            raise CsvFileError(_("Too many rows: at most %(max)s per file.") % {"max": MAX_ROWS})
        clean = {k: (row.get(k) or "").strip() for k in REQUIRED_COLUMNS + OPTIONAL_COLUMNS}
        rows.append((reader.line_num, clean))
    return rows


def _repeated_code_error(code: str | None, source: str) -> str:
    if source == "file":
        return _("ticket_code %(code)r appears more than once in this file.") % {"code": code}
    return _("ticket_code %(code)r appears more than once in this request.") % {"code": code}


def _row_error(row: dict[str, str]) -> str | None:
    for column in REQUIRED_COLUMNS:
        if not row[column]:
            return _("%(column)s is empty.") % {"column": column}
    for column, limit in _LIMITS.items():
        if len(row[column]) > limit:
            return _("%(column)s is longer than %(limit)s characters.") % {
                "column": column,
                "limit": limit,
            }
    if row["email"]:
        try:
            validate_email(row["email"])
        except ValidationError:
            return _("%(email)r is not a valid e-mail address.") % {"email": row["email"]}
    return None


def _apply_row(holder: TicketHolder, row: dict[str, str]) -> bool:
    changed = False
    for column in ("name", "email", "external_id"):
        if getattr(holder, column) != row[column]:
            setattr(holder, column, row[column])
            changed = True
    if changed:
        # rows_update skips auto_now, so stamp the change by hand.
        holder.updated_at = timezone.now()
    return changed


def ticket_holders_import_csv(*, event: Event, raw: bytes) -> CsvImportReport:
    rows = [(line, row, None) for line, row in _read_rows(raw)]
    return ticket_holders_upsert(event=event, rows=rows, source="file")


def ticket_holders_upsert(
    *, event: Event, rows: list[tuple[int, dict[str, str] | None, str | None]], source: str
) -> CsvImportReport:
    """Validate and upsert rows by ticket code; shared by the CSV import and the bulk API.

    Each row is (key, cleaned fields, error found while parsing); errors are reported by
    key (a line number or a list index). Uploads to one event wait for each other.
    """
    report = CsvImportReport()
    with transaction.atomic():
        Event.objects.select_for_update().filter(pk=event.pk).first()
        # Codes match without case or surrounding spaces (common.tickets), as at the gate:
        # "e-1" in a file updates ticket "E-1" rather than adding a second holder.
        existing = {
            ticket_code_key(h.ticket_code): h for h in TicketHolder.objects.filter(event=event)
        }
        owner_of_external_id = {
            h.external_id: h.ticket_code for h in existing.values() if h.external_id
        }
        seen_codes: set[str] = set()
        to_create, to_update = [], []
        for key, row, parse_error in rows:
            if row is not None:
                row["ticket_code"] = ticket_code_normalise(row["ticket_code"])
            error = parse_error or _row_error(row)
            code = None if error else row["ticket_code"]
            code_key = ticket_code_key(code)
            if error is None and code_key in seen_codes:
                error = _repeated_code_error(code, source)
            owner = owner_of_external_id.get(row["external_id"]) if not error else None
            if error is None and owner is not None and ticket_code_key(owner) != code_key:
                error = _("external_id %(id)r already belongs to ticket %(owner)r.") % {
                    "id": row["external_id"],
                    "owner": owner,
                }
            if error:
                report.errors.append((key, error))
                continue
            seen_codes.add(code_key)
            if row["external_id"]:
                owner_of_external_id[row["external_id"]] = code
            holder = existing.get(code_key)
            if holder is None:
                to_create.append(TicketHolder(event=event, ticket_code=code, **_fields(row)))
            elif _apply_row(holder, row):
                to_update.append(holder)
            else:
                report.unchanged += 1
        TicketHolder.objects.bulk_create(to_create, batch_size=2000)
        rows_update(to_update, ["name", "email", "external_id", "updated_at"])
    report.created, report.updated = len(to_create), len(to_update)
    return report


def _fields(row: dict[str, str]) -> dict[str, str]:
    return {"name": row["name"], "email": row["email"], "external_id": row["external_id"]}
