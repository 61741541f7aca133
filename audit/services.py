"""Writing the audit log. Call audit_record inside the transaction of the action it records,
so an entry exists exactly when the action took effect."""

from __future__ import annotations

import logging
from typing import Any

from audit.models import AuditEntry

logger = logging.getLogger(__name__)

SYSTEM = "system"
ATTENDEE_LINK = "attendee (registration link)"


def _target_repr(target) -> str:
    """What the target was. Holders are named by ticket code only: the log outlives the
    erasure of their personal data."""
    label = target._meta.label
    if label == "attendees.TicketHolder":
        return f"ticket {target.ticket_code}"
    if label == "attendees.EnrollmentPhoto":
        return f"photo {target.pk} of ticket {target.holder.ticket_code}"
    return str(target)


def _organization_id_of(target) -> int | None:
    """Follow photo -> holder -> event -> organization as far as the target allows."""
    obj = target
    while obj is not None:
        if obj._meta.label == "events.Organization":
            return obj.pk
        if hasattr(obj, "organization_id"):
            return obj.organization_id
        obj = getattr(obj, "holder", None) or getattr(obj, "event", None)
    return None


def _actor_of(actor, actor_label: str) -> tuple[Any, str, int | None]:
    """(user or None, words for who acted, the organization an API key acts for).

    An API key (or the API's request.user, which wraps it as `api_key`) names itself through
    `audit_actor_label`, so this module needs no import of the api app above it."""
    key = getattr(actor, "api_key", actor)
    key_label = getattr(key, "audit_actor_label", None)
    if key_label is not None:
        return None, actor_label or key_label, key.organization_id
    if actor is not None and getattr(actor, "is_authenticated", False) and actor.pk:
        return actor, actor_label or actor.get_username(), None
    return None, actor_label or SYSTEM, None


def audit_record(
    *,
    action: str,
    actor=None,
    actor_label: str = "",
    organization=None,
    target=None,
    details: dict | None = None,
) -> AuditEntry:
    """Record one action. `actor` is a user, an API key or the API's request.user (or None
    with `actor_label` saying who); the organization defaults to the key's or the target's.
    Call it before deleting the target: a deleted instance has no pk."""
    user, label, key_org_id = _actor_of(actor, actor_label)
    org_id = organization.pk if organization is not None else key_org_id
    entry = AuditEntry(
        action=action,
        actor=user,
        actor_label=label[:200],
        details=details or {},
    )
    if target is not None:
        entry.target_type = target._meta.label_lower
        entry.target_id = str(target.pk or "")
        entry.target_repr = _target_repr(target)[:200]
        if org_id is None:
            org_id = _organization_id_of(target)
    entry.organization_id = org_id
    entry.save()
    logger.info(
        "audit: %s by %s on %s %s", action, label, entry.target_type or "-", entry.target_id
    )
    return entry
