"""Request and response examples for the API schema: one coherent story (the organization's
event 12 "Riverside Festival 2026", gate 31 "North", holder 5012 "Ana García", ...) so that an
integrator reading Swagger UI sees real values, ids that fit together and this API's own URLs.
Request examples are JSON only: a multipart example would need a file."""

from drf_spectacular.utils import OpenApiExample

BASE_URL = "https://facepass.example.com"


def request(name: str, value, summary: str = "") -> OpenApiExample:
    return OpenApiExample(
        name, value=value, summary=summary, request_only=True, media_type="application/json"
    )


def response(name: str, value, status: int = 200, summary: str = "") -> OpenApiExample:
    return OpenApiExample(
        name, value=value, summary=summary, response_only=True, status_codes=[str(status)]
    )


GATE = {"id": 31, "name": "North", "mode": "ticket_face", "is_active": True}
FACE_GATE = {"id": 32, "name": "Fast lane", "mode": "face_only", "is_active": True}
EVENT = {
    "id": 12,
    "name": "Riverside Festival 2026",
    "slug": "riverside-festival-2026",
    "venue": "Riverside Park, Main Stage",
    "starts_at": "2026-07-18T16:00:00Z",
    "ends_at": "2026-07-19T01:00:00Z",
    "time_zone": "America/Bogota",
    "status": "registration_open",
    "entry_policy": "single",
    "security_level": "standard",
    "biometric_retention_days": 30,
    "liveness": "passive",
    "gates": [GATE, FACE_GATE],
    "face_only_capacity": None,
    "created_at": "2026-05-02T09:14:03Z",
    "updated_at": "2026-05-02T09:14:03Z",
}
EVENT_CREATE = {
    "name": "Riverside Festival 2026",
    "venue": "Riverside Park, Main Stage",
    "starts_at": "2026-07-18T16:00:00Z",
    "ends_at": "2026-07-19T01:00:00Z",
    "time_zone": "America/Bogota",
    "entry_policy": "single",
    "security_level": "standard",
    "biometric_retention_days": 30,
}
HOLDER = {
    "id": 5012,
    "ticket_code": "RVF-2026-000481",
    "name": "Ana García",
    "email": "ana.garcia@example.org",
    "external_id": "order-88213-1",
    "status": "enrolled",
    "consent_at": "2026-06-30T18:22:41Z",
    "consent_text_version": "2026-06",
    "needs_review": False,
    "created_at": "2026-06-29T08:00:12Z",
    "updated_at": "2026-06-30T18:25:02Z",
}
HOLDER_CREATE = {
    "ticket_code": "RVF-2026-000481",
    "name": "Ana García",
    "email": "ana.garcia@example.org",
    "external_id": "order-88213-1",
}
HOLDER_REF = {"id": 5012, "ticket_code": "RVF-2026-000481", "name": "Ana García"}
PHOTO_PENDING = {
    "id": 7731,
    "holder": 5012,
    "status": "pending",
    "rejection_code": "",
    "rejection_message": "",
    "quality": {},
    "created_at": "2026-06-30T18:24:55Z",
    "processed_at": None,
    "status_url": f"{BASE_URL}/api/v1/photos/7731/",
}
PHOTO_ACCEPTED = {
    **PHOTO_PENDING,
    "status": "accepted",
    "quality": {"faces": 1.0, "sharpness": 184.2, "brightness": 121.7},
    "processed_at": "2026-06-30T18:24:58Z",
}
PHOTO_REJECTED = {
    **PHOTO_PENDING,
    "id": 7730,
    "status": "rejected",
    "rejection_code": "too_dark",
    "rejection_message": "The photo is too dark.",
    "processed_at": "2026-06-30T18:23:20Z",
    "status_url": f"{BASE_URL}/api/v1/photos/7730/",
}
FACE_ADMIT = {
    "decision": "admit",
    "reason": "",
    "message": "",
    "score": 0.812,
    "threshold": 0.553,
    "holder": HOLDER_REF,
    "model": "dlib-resnet@1",
}
FACE_MISMATCH = {
    **FACE_ADMIT,
    "decision": "deny",
    "reason": "face_mismatch",
    "message": "The face does not match the ticket holder.",
    "score": 0.214,
}
CHECKIN_ADMIT = {
    "id": 90417,
    "event": 12,
    "gate": 31,
    "holder": HOLDER_REF,
    "decision": "admit",
    "reason": "",
    "message": "",
    "mode": "ticket_face",
    "score": 0.797,
    "model_version": "dlib-resnet@1",
    "idempotency_key": "scan-7f3c2a91",
    "overrides": None,
    "liveness": None,
    "created_at": "2026-07-18T16:42:07Z",
}
CHECKIN_USED = {
    **CHECKIN_ADMIT,
    "id": 90533,
    "decision": "deny",
    "reason": "already_checked_in",
    "message": "This ticket has already been used to enter.",
    "idempotency_key": "scan-0b41d6e2",
    "created_at": "2026-07-18T17:05:31Z",
}
OVERRIDE = {
    **CHECKIN_ADMIT,
    "id": 90534,
    "decision": "admit",
    "reason": "staff_override",
    "message": "Wristband checked by hand: re-entry after first aid.",
    "score": None,
    "model_version": "",
    "idempotency_key": None,
    "overrides": 90533,
    "created_at": "2026-07-18T17:06:02Z",
}


def page(path: str, count: int) -> dict:
    """Pagination fields as this API writes them for `path` (page 2 of a longer list)."""
    return {
        "count": count,
        "next": f"{BASE_URL}{path}?page=3",
        "previous": f"{BASE_URL}{path}?page=1",
    }
