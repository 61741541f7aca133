"""What each webhook event tells a receiver.

Identifiers, decisions and reasons only. Embeddings, images, quality figures and face
boxes are biometric or derived from the face and never leave FacePass.
"""

from __future__ import annotations


def _holder(holder) -> dict | None:
    if holder is None:
        return None
    return {"ticket_code": holder.ticket_code, "external_id": holder.external_id}


def _iso(moment) -> str | None:
    return moment.isoformat() if moment is not None else None


def checkin_payload(checkin) -> dict:
    return {
        "checkin_id": checkin.pk,
        "event_id": checkin.event_id,
        "gate_id": checkin.gate_id,
        "decision": checkin.decision,
        "reason": checkin.reason,
        "holder": _holder(checkin.attendee),
        "score": checkin.score,
        "created_at": _iso(checkin.created_at),
    }


def enrollment_photo_payload(photo) -> dict:
    return {
        "photo_id": photo.pk,
        "event_id": photo.holder.event_id,
        "holder": _holder(photo.holder),
        "status": photo.status,
        "rejection_code": photo.rejection_code,
        "rejection_message": photo.rejection_message,
        "processed_at": _iso(photo.processed_at),
    }
