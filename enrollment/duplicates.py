"""Duplicate faces: one person holding several tickets under different names.

Flagged after an enrollment batch commits, never inside it: a batch's transaction would hold
its holders' row locks while waiting for another batch's, and two batches that meet the same
faces in opposite orders deadlocked (issue 17). Here one search transaction finds every match
of the batch, then one short transaction locks all the matched holders in primary-key order and
flags the new pairs: no lock is held while another is awaited out of order.
"""

from __future__ import annotations

import logging

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from attendees.models import EnrollmentPhoto, TicketHolder
from common.db import rows_update
from recognition.models import EmbeddingModel
from recognition.selectors import model_threshold, nearest_holders_each

logger = logging.getLogger(__name__)


def duplicate_faces_flag(
    *, accepted: list[tuple[EnrollmentPhoto, np.ndarray]], model: EmbeddingModel
) -> int:
    """Flag the holders whose newly accepted face matches another holder of the same event;
    returns how many pairs were newly flagged.

    The 1:N threshold at the event's security level decides what "matches" means.
    """
    pairs: list[tuple[int, int, float]] = []
    by_event: dict[int, list[tuple[EnrollmentPhoto, np.ndarray]]] = {}
    for photo, vector in accepted:
        by_event.setdefault(photo.holder.event_id, []).append((photo, vector))
    for event_id, photos in by_event.items():
        threshold = model_threshold(model, photos[0][0].holder.event.target_far)
        probes = [(vector, photo.holder_id) for photo, vector in photos]
        found = nearest_holders_each(
            event_id=event_id, model=model, probes=probes, limit=1, min_similarity=threshold
        )
        for (photo, _vector), matches in zip(photos, found, strict=True):
            if matches:
                pairs.append((photo.holder_id, matches[0].holder_id, matches[0].similarity))
    return ticket_holders_flag_duplicates(pairs=pairs) if pairs else 0


def ticket_holders_flag_duplicates(*, pairs: list[tuple[int, int, float]]) -> int:
    """Mark each (holder, holder, similarity) pair for review as one face; returns how many
    pairs were new. A pair flagged already is left as it is: once both batches of a concurrent
    pair have committed, each sees the other's face, and the pair is still flagged once.

    All rows are locked in primary-key order by one statement, so two batches' flags cannot
    deadlock, and the check of the existing notes cannot race another flag of the same pair.
    """
    ids = {pk for a, b, _ in pairs for pk in (a, b)}
    with transaction.atomic():
        locked = TicketHolder.objects.select_for_update(no_key=True).filter(pk__in=ids)
        holders = {h.pk: h for h in locked.order_by("pk")}
        changed: dict[int, TicketHolder] = {}
        flagged = 0
        for a, b, similarity in pairs:
            if a not in holders or b not in holders:
                continue  # deleted meanwhile
            first, second = holders[a], holders[b]
            if _named(first, second) and _named(second, first):
                continue
            for holder, twin in ((first, second), (second, first)):
                holder.review_note = _note(holder, twin, similarity)
                holder.needs_review = True
                holder.updated_at = timezone.now()
                changed[holder.pk] = holder
            flagged += 1
            logger.warning("possible duplicate person: holders %s and %s", *sorted((a, b)))
        rows_update(
            sorted(changed.values(), key=lambda h: h.pk),
            ["needs_review", "review_note", "updated_at"],
        )
    return flagged


def _named(holder: TicketHolder, twin: TicketHolder) -> bool:
    return holder.needs_review and f"({twin.ticket_code})" in holder.review_note


def _note(holder: TicketHolder, twin: TicketHolder, similarity: float) -> str:
    """The holder's review note naming one more twin: a face on three tickets names both others
    (while the holder awaits review; a cleared review starts a new note)."""
    # Stored text read later by whoever reviews: written in the installation's language
    # (Spanish by default), not in the worker's, which no request sets. "(code)" stays as is:
    # _named finds a twin by it whatever the language.
    with translation.override(settings.LANGUAGE_CODE):
        line = _("The face matches %(name)s (%(code)s), similarity %(similarity)s.") % {
            "name": twin.name,
            "code": twin.ticket_code,
            "similarity": f"{similarity:.2f}",
        }
    if not holder.needs_review:
        return line
    if f"({twin.ticket_code})" in holder.review_note:
        return holder.review_note
    return f"{holder.review_note} {line}"[:300]
