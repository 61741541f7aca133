"""Gate check-in page for gate staff: camera frames in, ADMIT / DENY / REVIEW out."""

from __future__ import annotations

import cv2
import numpy as np
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from attendees.selectors import latest_accepted_photo
from events.models import CheckIn
from events.selectors import checkins_for_event, gates_for_staff
from events.services import (
    OVERRIDE_REASON_MAX_CHARS,
    OverrideRefused,
    checkin_frames_keep,
    checkin_override,
    checkin_record,
)
from recognition.gate import GateUnavailable, gate_decide
from recognition.ml.runtime.imageio import ImageDecodeError, image_size_check
from recognition.selectors import NoActiveModel

MAX_FRAMES = 3
AUTO_CAPTURE_MS = 1500  # automatic capture: frames every 1.5 s while the page is idle
# Auto-captured frames without one clear face are nobody's attempt: answered, not recorded
# (else the audit log would fill with a "no face" row every 1.5 s).
QUIET_REASONS = {"no_face", "multiple_faces"}


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
    context = {
        "gate": gate,
        "max_frames": MAX_FRAMES,
        "auto_interval_ms": AUTO_CAPTURE_MS,
        "auto_interval_s": AUTO_CAPTURE_MS / 1000,
    }
    return render(request, "gate/checkin.html", context)


def read_qr_code(frame: bytes) -> str:
    """The ticket code from a QR code in the camera frame, or ''."""
    try:
        # The header first: OpenCV alone would decode a pixel bomb of up to 2^30 pixels here.
        image_size_check(
            frame,
            max_bytes=settings.FACEPASS_UPLOAD_MAX_BYTES,
            max_pixels=settings.FACEPASS_UPLOAD_MAX_PIXELS,
        )
    except ImageDecodeError:
        return ""  # the gate worker reports what is wrong with the frame
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


def _quiet(reason: str, message: str) -> JsonResponse:
    """An auto-capture answer that records nothing."""
    return JsonResponse({"decision": "none", "reason": reason, "message": message})


def _repeats_previous(request, gate, outcome) -> bool:
    """Auto capture: is this the person of the previous result, still in front of the camera?

    Recording them again would flash an "already checked in" DENY at someone just admitted
    (or repeat a deny every 1.5 s); a different holder (the next in the queue) is a new
    attempt and is recorded.
    """
    previous_id = request.POST.get("previous", "")
    if not previous_id.isdigit():
        return False
    previous = checkins_for_event(gate.event).filter(pk=previous_id).first()
    if previous is None:
        return False
    holder_id = outcome.holder.pk if outcome.holder else None
    if holder_id is None:
        return previous.attendee_id is None and outcome.reason == previous.reason
    # A bad first frame must not lock the right person out: their admit after a gate deny is
    # new, unless that deny was "already checked in" or staff have overridden it since.
    settled = previous.reason in ("", "already_checked_in") or previous.overridden_by.exists()
    improved = outcome.decision == CheckIn.Decision.ADMIT and not settled
    return holder_id == previous.attendee_id and not improved


@require_POST
@login_required
def gate_check(request, gate_id: int):
    gate = _gate_or_404(request.user, gate_id)
    frames = _frames_from(request)
    if isinstance(frames, JsonResponse):
        return frames
    auto = request.POST.get("auto") == "1"
    ticket_code = ""
    if gate.mode == gate.Mode.TICKET_AND_FACE:
        # QR decoding costs tens of ms a frame; face-only lanes have no ticket to read.
        ticket_code = request.POST.get("ticket_code", "").strip() or read_qr_code(frames[0])
    if gate.mode == gate.Mode.TICKET_AND_FACE and not ticket_code:
        message = "Scan the ticket's QR code or type its code."
        return _quiet("no_ticket", message) if auto else _error(400, "no_ticket", message)
    try:
        outcome = gate_decide(gate=gate, frames=frames, ticket_code=ticket_code)
    except (GateUnavailable, NoActiveModel) as exc:
        return _error(503, "unavailable", str(exc))
    if auto and outcome.reason in QUIET_REASONS:
        return _quiet(outcome.reason, outcome.message)
    if auto and _repeats_previous(request, gate, outcome):
        return _quiet("same_person", "Same person as the last result: step through.")
    key = request.headers.get("Idempotency-Key") or None
    checkin, created = checkin_record(
        gate=gate, outcome=outcome, staff_user=request.user, idempotency_key=key
    )
    if created:  # a replayed key's frames are not this check-in's
        checkin_frames_keep(checkin=checkin, frames=frames)
    return JsonResponse(_result(gate, checkin))


def _result(gate, checkin) -> dict:
    holder = checkin.attendee
    # Overrides always target the original attempt, so a change of mind overrides it again.
    attempt_id = checkin.overrides_id or checkin.pk
    body = {
        "checkin_id": checkin.pk,
        "attempt_id": attempt_id,
        "decision": checkin.decision,
        "reason": checkin.reason,
        "message": checkin.reason_message,
        "score": checkin.score,
        "override": checkin.overrides_id is not None,
        "staff": checkin.staff_user.get_username() if checkin.staff_user else "",
        "override_url": reverse("gate-override", args=[gate.pk, attempt_id]),
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


class OverrideForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[(CheckIn.Decision.ADMIT, "Admit"), (CheckIn.Decision.DENY, "Deny")]
    )
    reason = forms.CharField(max_length=OVERRIDE_REASON_MAX_CHARS)


@require_POST
@login_required
def gate_override(request, gate_id: int, checkin_id: int):
    """Staff overrule a result (admit anyway, or deny) with a reason; see checkin_override."""
    gate = _gate_or_404(request.user, gate_id)
    checkin = checkins_for_event(gate.event).filter(pk=checkin_id).first()
    if checkin is None:
        raise Http404("No such check-in at this event.")
    form = OverrideForm(request.POST)
    if not form.is_valid():
        return _error(400, "invalid", "Choose admit or deny and give a reason (up to 300 chars).")
    try:
        override = checkin_override(checkin=checkin, staff_user=request.user, **form.cleaned_data)
    except OverrideRefused as exc:
        return _error(409, exc.code, exc.message)
    return JsonResponse(_result(gate, override))


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
