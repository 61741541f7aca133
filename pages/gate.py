"""Gate check-in page for gate staff: camera frames in, ADMIT / DENY / REVIEW out.

Thin: it reads the frames and the ticket code, calls checkins.services.checkin_perform (every
rule lives there) and renders the result as JSON for static/gate/checkin.js.
"""

from __future__ import annotations

import cv2
import numpy as np
from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from attendees.models import EnrollmentPhoto
from attendees.selectors import latest_accepted_photo
from checkins.selectors import checkins_for_event
from checkins.services import (
    MAX_FRAMES,
    OVERRIDE_REASON_MAX_CHARS,
    CheckInRequest,
    OverrideRefused,
    challenge_prompt,
    checkin_override,
    checkin_perform,
    liveness_challenge_issue,
)
from common.images import image_upload_check, upload_size_check
from common.reasons import Reason, ReasonError, reason_text
from common.thumbnails import thumbnail_response
from events.models import CheckIn
from events.selectors import gates_for_staff
from recognition.frames import GateUnavailable
from recognition.selectors import NoActiveModel

PLAIN_FRAMES = 3  # frames of a check without a liveness burst
BURST_FRAMES = 6  # a liveness burst: 6 frames over ~1.5 s (recognition/artifacts/liveness)
BURST_INTERVAL_MS = 270
AUTO_CAPTURE_MS = 1500  # automatic capture: frames every 1.5 s while the page is idle


def _gate_or_404(user, gate_id: int):
    # Switched-off gates too: their page says so, and a check there is refused as such.
    gate = gates_for_staff(user, active_only=False).filter(pk=gate_id).first()
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
    policy = gate.event.liveness_policy
    context = {
        "gate": gate,
        "max_frames": PLAIN_FRAMES if policy == "off" else BURST_FRAMES,
        "burst_interval_ms": BURST_INTERVAL_MS,
        "liveness": policy,
        "auto_interval_ms": AUTO_CAPTURE_MS,
        "auto_interval_s": AUTO_CAPTURE_MS / 1000,
    }
    return render(request, "gate/checkin.html", context)


def read_qr_code(frame: bytes) -> str:
    """The ticket code from a QR code in the camera frame, or ''.

    The one place the web process decodes pixels: only at ticket gates, only when no code was
    typed, and only after the header check (OpenCV alone would decode a pixel bomb)."""
    try:
        image_upload_check(frame)
    except ReasonError:
        return ""  # the gate worker reports what is wrong with the frame
    image = cv2.imdecode(np.frombuffer(frame, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return ""
    text, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    return text.strip()


def _frames_from(request) -> list[bytes]:
    uploads = request.FILES.getlist("frames")[:MAX_FRAMES]
    if not uploads:
        raise ReasonError(Reason.NO_FRAMES)
    for upload in uploads:
        upload_size_check(upload.size)
    return [u.read() for u in uploads]


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"code": code, "message": message}, status=status)


def _reason_error(exc: ReasonError) -> JsonResponse:
    return _error(exc.status, exc.code, exc.message)


def _ticket_code(request, gate, frames: list[bytes]) -> str:
    if gate.mode != gate.Mode.TICKET_AND_FACE:
        return ""  # QR decoding costs tens of ms a frame; face-only lanes have no ticket to read
    return request.POST.get("ticket_code", "").strip() or read_qr_code(frames[0])


def _previous_attempt(request) -> int | None:
    previous = request.POST.get("previous", "")
    return int(previous) if previous.isdigit() else None


@require_POST
@login_required
def gate_check(request, gate_id: int):
    gate = _gate_or_404(request.user, gate_id)
    try:
        frames = _frames_from(request)
        result = checkin_perform(
            CheckInRequest.at_gate(
                gate,
                frames,
                ticket_code=_ticket_code(request, gate, frames),
                staff_user=request.user,
                idempotency_key=request.headers.get("Idempotency-Key") or None,
                challenge_token=request.POST.get("challenge_token", ""),
                auto=request.POST.get("auto") == "1",
                previous_attempt_id=_previous_attempt(request),
                record_unusable=True,
            )
        )
    except ReasonError as exc:
        return _reason_error(exc)
    except (GateUnavailable, NoActiveModel) as exc:
        return _error(503, Reason.UNAVAILABLE, str(exc))
    if result.quiet:
        return _quiet(result.quiet)
    return JsonResponse(_result(gate, result.checkin))


def _quiet(reason: str) -> JsonResponse:
    """An automatic-capture answer that records nothing."""
    return JsonResponse({"decision": "none", "reason": reason, "message": reason_text(reason)})


def _result(gate, checkin: CheckIn) -> dict:
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


@require_POST
@login_required
def gate_challenge(request, gate_id: int):
    """A head-turn prompt for the next person (events whose liveness policy is `challenge`):
    the direction is drawn on the server; the page shows it and sends the token back."""
    gate = _gate_or_404(request.user, gate_id)
    issued = liveness_challenge_issue(gate=gate)
    body = {
        "direction": issued.direction,
        "prompt": challenge_prompt(issued.direction),
        "challenge_token": issued.token,
        "expires_in": issued.expires_in,
    }
    return JsonResponse(body)


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
        return _reason_error(exc)
    return JsonResponse(_result(gate, override))


@never_cache
@login_required
def gate_holder_photo(request, gate_id: int, photo_id: int):
    """Enrollment thumbnail for staff of this gate's event, so they can confirm by eye."""
    gate = _gate_or_404(request.user, gate_id)
    photo = EnrollmentPhoto.objects.filter(pk=photo_id, holder__event_id=gate.event_id).first()
    if photo is None:
        raise Http404("No such photo.")
    return thumbnail_response(photo.image, 320)
