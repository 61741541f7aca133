"""Writes behind the REST API: API keys, the event/holder changes and check-ins it offers."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.models import ApiKey
from attendees.csv_import import ticket_holders_upsert
from attendees.models import TicketHolder
from attendees.registration_links import registration_url
from audit.models import AuditEntry
from audit.services import audit_record
from events.models import Event, Organization

KEY_PREFIX = "fp_"
BULK_MAX_ROWS = 5000
BULK_COLUMNS = ("ticket_code", "name", "email", "external_id")
# last_used_at is informational: one write per key per minute is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_key_hash(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def api_key_create(*, organization: Organization, name: str, user=None) -> tuple[ApiKey, str]:
    """Create a key; returns (row, plaintext). The plaintext is never stored anywhere."""
    for _ in range(5):
        prefix = secrets.token_hex(4)
        if not ApiKey.objects.filter(prefix=prefix).exists():
            break
    else:  # pragma: no cover - 2**32 prefixes
        raise RuntimeError("Could not find a free API key prefix.")
    plaintext = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        organization=organization,
        name=name,
        prefix=prefix,
        hashed_secret=api_key_hash(plaintext),
        created_by=user if user is not None and user.is_authenticated else None,
    )
    key.full_clean()
    with transaction.atomic():
        key.save()
        audit_record(
            action=AuditEntry.Action.API_KEY_CREATE,
            actor=user,
            organization=organization,
            target=key,
            details={"name": name, "prefix": prefix},
        )
    return key, plaintext


def api_key_revoke(*, key: ApiKey, actor=None, actor_label: str = "") -> ApiKey:
    """Revoke a key (once: revoking a revoked key changes and records nothing)."""
    now = timezone.now()
    with transaction.atomic():
        # Conditional update: two admins revoking at once record one revocation.
        if ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(revoked_at=now):
            key.revoked_at = now
            audit_record(
                action=AuditEntry.Action.API_KEY_REVOKE,
                actor=actor,
                actor_label=actor_label,
                organization=key.organization,
                target=key,
                details={"name": key.name, "prefix": key.prefix},
            )
    return key


def api_key_mark_used(*, key: ApiKey) -> None:
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        key.last_used_at = now
        key.save(update_fields=["last_used_at"])


def _clean_row(row) -> tuple[dict[str, str] | None, str | None]:
    if not isinstance(row, dict):
        return None, "Each row must be an object."
    clean = {}
    for column in BULK_COLUMNS:
        value = row.get(column)
        if value is None:
            value = ""
        if not isinstance(value, str):
            return None, f"{column} must be a string."
        clean[column] = value.strip()
    return clean, None


def ticket_holders_bulk_upsert(*, event: Event, rows: list) -> dict:
    """Upsert holders by ticket code with the CSV import's validation; returns a report.

    Valid rows are applied, invalid ones are reported by their index in `rows`. Sending the
    same rows again changes nothing.
    """
    if len(rows) > BULK_MAX_ROWS:
        raise ValueError(f"At most {BULK_MAX_ROWS} rows per request.")
    cleaned = [(index, *_clean_row(raw)) for index, raw in enumerate(rows)]
    report = ticket_holders_upsert(event=event, rows=cleaned, source="request")
    return {
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "errors": [{"index": index, "message": message} for index, message in report.errors],
    }


def registration_link_issue(*, holder: TicketHolder) -> dict:
    """A fresh signed registration link and when it expires (nothing is stored)."""
    # Signing stamps whole seconds, so an expiry counted from the whole second before
    # signing is never later than the real one.
    issued = timezone.now().replace(microsecond=0)
    max_age = timedelta(seconds=settings.FACEPASS_REGISTRATION_LINK_MAX_AGE)
    return {"url": registration_url(holder), "expires_at": issued + max_age}
