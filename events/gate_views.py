"""Gate check-in page for gate staff: camera frames in, ADMIT / DENY / REVIEW out."""

from __future__ import annotations

import cv2
import numpy as np
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from attendees.selectors import latest_accepted_photo
from events.selectors import gates_for_staff
from events.services import checkin_record
from recognition.gate import GateUnavailable, gate_decide
from recognition.selectors import NoActiveModel

MAX_FRAMES = 3


def _gate_or_404(user, gate_id: int):
    gate = gates_for_staff(user).filter(pk=gate_id).first()
    if gate is None:
        raise Http404("No such gate for you.")
    return gate


@login_required
def gate_list(request):
    return render(request, "gate/list.html", {"gates": gates_for_staff(request.user)})


@never_cache
@login_required
def gate_page(request, gate_id: int):
    gate = _gate_or_404(request.user, gate_id)
    return render(request, "gate/checkin.html", {"gate": gate, "max_frames": MAX_FRAMES})


def read_qr_code(frame: bytes) -> str:
    """The ticket code from a QR code in the camera frame, or ''."""
    image = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return ""
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text.strip()


def _frames_from(request) -> list[bytes] | JsonResponse:
    uploads = request.FILES.getlist("frames")[:MAX_FRAMES]
    if not uploads:
        return _error(400, "no_frames", "Send at least one camera frame (field 'frames').")
    if any(u.size > settings.FACEPASS_UPLOAD_MAX_BYTES for u in uploads):
        return _error(413, "too_large", "A camera frame is larger than the upload limit.")
    return [u.read() for u in uploads]


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


@require_POST
@login_required
def gate_check(request, gate_id: int):
    gate = _gate_or_404(request.user, gate_id)
    frames = _frames_from(request)
    if isinstance(frames, JsonResponse):
        return frames
    ticket_code = request.POST.get("ticket_code", "").strip() or read_qr_code(frames[0])
    if gate.mode == gate.Mode.TICKET_AND_FACE and not ticket_code:
        return _error(400, "no_ticket", "Scan the ticket's QR code or type its code.")
    try:
        outcome = gate_decide(gate=gate, frames=frames, ticket_code=ticket_code)
    except (GateUnavailable, NoActiveModel) as exc:
        return _error(503, "unavailable", str(exc))
    key = request.headers.get("Idempotency-Key") or None
    checkin, _ = checkin_record(
        gate=gate, outcome=outcome, staff_user=request.user, idempotency_key=key
    )
    return JsonResponse(_result(gate, checkin))


def _result(gate, checkin) -> dict:
    holder = checkin.attendee
    body = {
        "checkin_id": checkin.pk,
        "decision": checkin.decision,
        "reason": checkin.reason,
        "message": checkin.reason_message,
        "score": checkin.score,
        "holder": None,
    }
    if holder is not None:
        photo = latest_accepted_photo(holder)
        body["holder"] = {
            "name": holder.name,
            "ticket_code": holder.ticket_code,
            "photo_url": reverse("gate-holder-photo", args=[gate.pk, photo.pk]) if photo else None,
        }
    return body


@never_cache
@login_required
def gate_holder_photo(request, gate_id: int, photo_id: int):
    """Enrollment thumbnail for staff of this gate's event, so they can confirm by eye."""
    from attendees.models import EnrollmentPhoto
    from attendees.views import render_thumbnail

    gate = _gate_or_404(request.user, gate_id)
    photo = EnrollmentPhoto.objects.filter(pk=photo_id, holder__event_id=gate.event_id).first()
    if photo is None:
        raise Http404("No such photo.")
    data = render_thumbnail(photo, 320)
    if data is None:
        raise Http404("Photo file is missing or unreadable.")
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response
