"""Gate check-in page for gate staff: camera frames in, ADMIT / DENY / REVIEW out.

Thin: it reads the frames and the ticket code, calls checkins.services.checkin_perform (every
rule lives there) and renders the result as JSON for static/gate/checkin.js.
"""

from __future__ import annotations

from itertools import groupby

import cv2
import numpy as np
from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from attendees.models import EnrollmentPhoto
from attendees.selectors import latest_accepted_photo
from checkins.selectors import checkins_for_event, entry_used, override_actions
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
from common.reasons import Reason, ReasonError, reason_info, reason_text
from common.thumbnails import thumbnail_response
from common.tickets import ticket_code_normalise
from events.models import CheckIn
from events.selectors import gates_for_staff
from recognition.frames import GateUnavailable
from recognition.selectors import NoActiveModel

PLAIN_FRAMES = 3  # frames of a check without a liveness burst
PLAIN_INTERVAL_MS = 120
BURST_FRAMES = 6  # a liveness burst: 6 frames over ~1.5 s (recognition/artifacts/liveness)
BURST_INTERVAL_MS = 270
AUTO_CAPTURE_MS = 1500  # automatic capture: frames every 1.5 s while the page is idle


def _gate_or_404(user, gate_id: int):
    # Switched-off gates too: their page says so, and a check there is refused as such.
    gate = gates_for_staff(user, active_only=False).filter(pk=gate_id).first()
    if gate is None:
        raise Http404(_("No such gate for you."))
    return gate


@login_required
def gate_list(request):
    """The staff's open gates, grouped by event (soonest first), each a large button."""
    gates = gates_for_staff(request.user).order_by(
        "event__starts_at", "event__name", "event_id", "name"
    )
    events = [(event, list(group)) for event, group in groupby(gates, key=lambda g: g.event)]
    return render(request, "gate/list.html", {"events": events})


def _page_texts() -> dict[str, str]:
    """The words checkin.js shows, in the page's language (the script itself holds none)."""
    return {
        "admit": _("ADMIT"),
        "deny": _("DENY"),
        "review": _("REVIEW"),
        "retry": _("TRY AGAIN"),
        "ready": _("Ready"),
        "ready_hint": _("Next person, please."),
        "checking": _("Checking…"),
        "not_checked": _("NOT CHECKED"),
        "override_suffix": _("(override)"),
        "override_by": _("Staff override by %(staff)s: %(reason)s"),
        "ticket": _("Ticket %(code)s"),
        "typed": _("Typed: %(code)s"),
        "reason_first": _("Give a reason first: it is recorded with your name."),
        "no_answer": _("No answer from the server: %(error)s"),
        "http_error": _("The server answered HTTP %(status)s."),
        "camera_on": _("Camera on"),
        "no_camera": _("No camera: %(error)s"),
        "no_camera_https": _(
            "No camera: open this page over HTTPS in a browser with camera access."
        ),
        "auto_on": _("Automatic capture on."),
        "auto_said": _("Automatic capture: %(message)s"),
        "sound_on": _("Sound on"),
        "sound_off": _("Sound off"),
        "get_ready": _("Look at the camera…"),
    }


@never_cache
@login_required
def gate_page(request, gate_id: int):
    gate = _gate_or_404(request.user, gate_id)
    policy = gate.event.liveness_policy
    plain = policy == "off"
    context = {
        "gate": gate,
        "max_frames": PLAIN_FRAMES if plain else BURST_FRAMES,
        "frame_interval_ms": PLAIN_INTERVAL_MS if plain else BURST_INTERVAL_MS,
        "liveness": policy,
        "auto_interval_ms": AUTO_CAPTURE_MS,
        "auto_interval_s": AUTO_CAPTURE_MS / 1000,
        "result_ms": round(settings.FACEPASS_GATE_RESULT_SECONDS * 1000),
        "texts": _page_texts(),
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
    """A refusal as the API answers it (same status and code); input the vocabulary calls
    unusable (no face, no ticket, unreadable frame...) is marked "retry": the page shows a
    neutral "try again", never a DENY, and nothing was recorded."""
    response = _error(exc.status, exc.code, exc.message)
    if reason_info(exc.code).unusable:
        response = JsonResponse(
            {"code": exc.code, "decision": "retry", "reason": exc.code, "message": exc.message},
            status=exc.status,
        )
    return response


def _ticket_code(request, gate, frames: list[bytes]) -> str:
    if gate.mode != gate.Mode.TICKET_AND_FACE:
        return ""  # QR decoding costs tens of ms a frame; face-only lanes have no ticket to read
    typed = ticket_code_normalise(request.POST.get("ticket_code", ""))
    return typed or ticket_code_normalise(read_qr_code(frames[0]))


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
        "actions": override_actions(checkin),
        "entry": None,
        "holder": None,
    }
    entry = entry_used(checkin)
    if entry is not None:
        body["entry"] = entry.as_json()
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
        choices=[
            (CheckIn.Decision.ADMIT, gettext_lazy("Admit")),
            (CheckIn.Decision.DENY, gettext_lazy("Deny")),
        ]
    )
    reason = forms.CharField(max_length=OVERRIDE_REASON_MAX_CHARS)


@require_POST
@login_required
def gate_override(request, gate_id: int, checkin_id: int):
    """Staff overrule a result (admit anyway, or deny) with a reason; see checkin_override."""
    gate = _gate_or_404(request.user, gate_id)
    checkin = checkins_for_event(gate.event).filter(pk=checkin_id).first()
    if checkin is None:
        raise Http404(_("No such check-in at this event."))
    form = OverrideForm(request.POST)
    if not form.is_valid():
        message = _("Choose admit or deny and give a reason (up to %(limit)s characters).")
        return _error(400, "invalid", message % {"limit": OVERRIDE_REASON_MAX_CHARS})
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
        raise Http404(_("No such photo."))
    return thumbnail_response(photo.image, 320)
