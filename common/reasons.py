"""The one vocabulary of reasons: every code a check-in, an enrollment photo, an upload or a refused
request can carry, with its plain-words message, the attendee's advice where attendees see it, and
the HTTP status when the reason makes a request fail.

The gate page, the API's error bodies, CheckIn.reason and EnrollmentPhoto.rejection_code all use
these codes; the texts live here and nowhere else. `message` speaks to staff and integrators
(gate screen, API), `advice` to the attendee who can fix it (registration page, photo status).
Messages may hold %(name)s parameters, filled by `reason_text`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Reason(models.TextChoices):
    # Gate decisions: a face was judged (recorded with the check-in).
    FACE_MISMATCH = "face_mismatch", _("Face does not match")
    NO_MATCH = "no_match", _("No matching ticket holder")
    AMBIGUOUS_MATCH = "ambiguous_match", _("Two holders match")
    NEEDS_REVIEW = "needs_review", _("Check by eye")
    NOT_ENROLLED = "not_enrolled", _("No enrolled face")
    ALREADY_CHECKED_IN = "already_checked_in", _("Already checked in")
    GATES_NOT_OPEN = "gates_not_open", _("Gates not open")
    TICKET_REVOKED = "ticket_revoked", _("Ticket revoked")
    NOT_LIVE = "not_live", _("Not a live person")
    CHALLENGE_NOT_MET = "challenge_not_met", _("Head turn not as asked")
    STAFF_OVERRIDE = "staff_override", _("Staff override")
    # Unusable input: nothing could be judged.
    NO_FACE = "no_face", _("No face")
    MULTIPLE_FACES = "multiple_faces", _("Several faces")
    UNKNOWN_TICKET = "unknown_ticket", _("Unknown ticket")
    OTHER_EVENT = "other_event", _("Ticket of another event")
    NO_TICKET = "no_ticket", _("No ticket code")
    NO_FRAMES = "no_frames", _("No camera frame")
    TOO_FEW_FRAMES = "too_few_frames", _("Face not seen long enough")
    CHALLENGE_REQUIRED = "challenge_required", _("Head-turn prompt needed")
    CHALLENGE_INVALID = "challenge_invalid", _("Head-turn prompt expired")
    NOT_AN_IMAGE = "not_an_image", _("Not an image")
    TRUNCATED = "truncated", _("Incomplete image")
    TOO_LARGE = "too_large", _("Too large")
    TOO_MANY_PIXELS = "too_many_pixels", _("Too many pixels")
    INVALID_BASE64 = "invalid_base64", _("Invalid base64")
    # Enrollment photo quality (the worker's verdict).
    FACE_TOO_SMALL = "face_too_small", _("Face too small")
    TOO_BLURRED = "too_blurred", _("Blurred")
    TOO_DARK = "too_dark", _("Too dark")
    OVEREXPOSED = "overexposed", _("Too bright")
    POSE_NOT_FRONTAL = "pose_not_frontal", _("Not facing the camera")
    FILE_MISSING = "file_missing", _("File missing")
    # Refusals: a rule says no to the request.
    CONSENT_REQUIRED = "consent_required", _("Consent required")
    CONSENT_TEXT_CHANGED = "consent_text_changed", _("Consent text changed")
    TOO_MANY_PHOTOS = "too_many_photos", _("Too many photos")
    EVENT_CLOSED = "event_closed", _("Event closed")
    REGISTRATION_NOT_OPEN = "registration_not_open", _("Registration not open")
    GATE_INACTIVE = "gate_inactive", _("Gate switched off")
    FACE_ONLY_CAPACITY = "face_only_capacity", _("Too many holders for face only")
    WRONG_EVENT = "wrong_event", _("Gate of another event")
    NO_TICKET_HOLDER = "no_ticket_holder", _("No ticket attached")
    UNCHANGED = "unchanged", _("Unchanged")
    NOT_AN_ATTEMPT = "not_an_attempt", _("Not an attempt")
    SAME_PERSON = "same_person", _("Same person")
    UNAVAILABLE = "unavailable", _("Unavailable")


@dataclass(frozen=True)
class ReasonInfo:
    message: Promise | str
    status: int = 200  # the HTTP status when this reason fails a request
    unusable: bool = False  # input that could not be judged: no decision, nothing recorded
    advice: Promise | str | None = None  # for the attendee, when it differs from `message`


R = Reason
INFO: dict[Reason, ReasonInfo] = {
    R.FACE_MISMATCH: ReasonInfo(_("The face does not match the ticket holder.")),
    R.NO_MATCH: ReasonInfo(_("No enrolled ticket holder of this event matches this face.")),
    R.AMBIGUOUS_MATCH: ReasonInfo(_("Two ticket holders match almost equally: check by eye.")),
    R.NEEDS_REVIEW: ReasonInfo(
        _("The face resembles this ticket holder, but not clearly enough: check by eye.")
    ),
    R.NOT_ENROLLED: ReasonInfo(_("This ticket holder has no enrolled face.")),
    R.ALREADY_CHECKED_IN: ReasonInfo(_("This ticket has already been used to enter."), 409),
    R.GATES_NOT_OPEN: ReasonInfo(_("Gates for this event are not open."), 409),
    R.TICKET_REVOKED: ReasonInfo(
        _("This ticket has been revoked."),
        409,
        advice=_(
            "This ticket has been revoked, so no photo can be added. "
            "Please contact the organizer if you think this is a mistake."
        ),
    ),
    R.NOT_LIVE: ReasonInfo(
        _(
            "The camera did not see a live person (a photo or a screen?): ask the person to face "
            "the camera in person."
        )
    ),
    R.CHALLENGE_NOT_MET: ReasonInfo(
        _(
            "The head did not turn as the screen asked: a photo, a video, or a person who did "
            "not follow the prompt. Check the person and their ticket."
        )
    ),
    R.STAFF_OVERRIDE: ReasonInfo(_("Decided by gate staff.")),
    R.NO_FACE: ReasonInfo(
        _("No face found in the camera frame."),
        422,
        unusable=True,
        advice=_("We could not find a face. Face the camera in good light and try again."),
    ),
    R.MULTIPLE_FACES: ReasonInfo(
        _("Several faces in the frame: one person at a time."),
        422,
        unusable=True,
        advice=_("More than one face is in the photo. Please make sure you are alone."),
    ),
    R.UNKNOWN_TICKET: ReasonInfo(_("Unknown ticket code."), 422, unusable=True),
    R.OTHER_EVENT: ReasonInfo(_("This ticket is for another event."), 422, unusable=True),
    R.NO_TICKET: ReasonInfo(_("Scan the ticket's QR code or type its code."), 400, unusable=True),
    R.NO_FRAMES: ReasonInfo(
        _("Send at least one camera frame (field 'frames')."), 400, unusable=True
    ),
    R.TOO_FEW_FRAMES: ReasonInfo(
        _("The face was not seen in enough camera frames: look at the camera and try again."),
        422,
        unusable=True,
    ),
    R.CHALLENGE_REQUIRED: ReasonInfo(
        _(
            "This gate checks for a live person with a head-turn prompt: ask for a prompt "
            "first and send its challenge_token with the frames."
        ),
        400,
        unusable=True,
    ),
    R.CHALLENGE_INVALID: ReasonInfo(
        _("The head-turn prompt has expired or was already used: ask for a new one."),
        400,
        unusable=True,
    ),
    R.NOT_AN_IMAGE: ReasonInfo(
        _("The file is not a readable image."),
        400,
        unusable=True,
        advice=_("This file is not a photo we can read. Please use a JPEG, PNG or WebP picture."),
    ),
    R.TRUNCATED: ReasonInfo(
        _("The image data is incomplete or corrupt."),
        400,
        unusable=True,
        advice=_("This photo arrived incomplete. Please take or choose it again."),
    ),
    R.TOO_LARGE: ReasonInfo(
        _("The image is larger than the limit of %(limit)s."),
        413,
        unusable=True,
        advice=_(
            "The photo is larger than %(limit)s. Please take a new one or choose a smaller file."
        ),
    ),
    R.TOO_MANY_PIXELS: ReasonInfo(
        _("The image has too many pixels (the limit is %(limit)s megapixels)."),
        413,
        unusable=True,
        advice=_("The picture has far too many pixels. Please use a normal photo."),
    ),
    R.INVALID_BASE64: ReasonInfo(_("image_base64 is not valid base64."), 400, unusable=True),
    R.FACE_TOO_SMALL: ReasonInfo(
        _("The face is too small in the photo."),
        advice=_("Your face is too small in the photo. Move closer to the camera."),
    ),
    R.TOO_BLURRED: ReasonInfo(
        _("The photo is blurred."),
        advice=_("The photo is blurred. Hold the camera still and make sure it is in focus."),
    ),
    R.TOO_DARK: ReasonInfo(
        _("The photo is too dark."),
        advice=_("The photo is too dark. Move to a brighter place or turn towards the light."),
    ),
    R.OVEREXPOSED: ReasonInfo(
        _("The photo is too bright."),
        advice=_("The photo is too bright. Avoid strong light or a flash straight at you."),
    ),
    R.POSE_NOT_FRONTAL: ReasonInfo(
        _("The face is not turned to the camera."),
        advice=_("Please look straight at the camera with your whole face visible."),
    ),
    R.FILE_MISSING: ReasonInfo(
        _("The photo file is gone."), advice=_("The photo file is gone; please upload it again.")
    ),
    R.CONSENT_REQUIRED: ReasonInfo(
        _("Consent to biometric processing is required before any photo."), 409
    ),
    R.CONSENT_TEXT_CHANGED: ReasonInfo(
        _("The consent text has changed since you opened this page. Please read it again."), 409
    ),
    R.TOO_MANY_PHOTOS: ReasonInfo(
        _("At most %(limit)s photos per ticket holder; delete one first."), 409
    ),
    R.EVENT_CLOSED: ReasonInfo(
        _("The event is closed; its gates cannot be reopened."),
        409,
        advice=_("This event is over; registration is closed."),
    ),
    R.REGISTRATION_NOT_OPEN: ReasonInfo(
        _("Registration for this event has not opened yet. Please try again later."), 409
    ),
    R.GATE_INACTIVE: ReasonInfo(_("This gate is switched off."), 409),
    R.FACE_ONLY_CAPACITY: ReasonInfo(
        _(
            "At %(holders)s enrolled ticket holders, a face-only gate would admit only "
            "%(tpir)s of them without a staff check: ticket + face is the mode for this event's "
            "size. Confirm to open face-only gates anyway."
        ),
        409,
    ),
    R.WRONG_EVENT: ReasonInfo(_("This gate belongs to another event."), 422),
    R.NO_TICKET_HOLDER: ReasonInfo(
        _("No ticket is attached to this check-in: check the person at a ticket + face gate."),
        409,
    ),
    R.UNCHANGED: ReasonInfo(_("This check-in already stands as %(decision)s."), 409),
    R.SAME_PERSON: ReasonInfo(_("Same person as the last result: step through.")),
    R.NOT_AN_ATTEMPT: ReasonInfo(_("Override the original check-in, not an override."), 409),
    R.UNAVAILABLE: ReasonInfo(_("Face recognition is unavailable right now; retry shortly."), 503),
}


def reason_code_validator(value: str) -> None:
    """Model-field validator: a stored reason is empty or a code of this vocabulary (a
    validator, not choices, so a new reason needs no migration of every table that stores
    one)."""
    if value and value not in Reason.values:
        raise ValidationError(f"{value!r} is not a reason code (common.reasons.Reason).")


def reason_info(code: str) -> ReasonInfo:
    return INFO[Reason(code)]


def _limits() -> dict[Reason, dict[str, str]]:
    """Parameters that are deployment settings, filled in when a caller does not give them."""
    return {
        R.TOO_LARGE: {"limit": f"{settings.FACEPASS_UPLOAD_MAX_BYTES / 1_048_576:.0f} MB"},
        R.TOO_MANY_PIXELS: {"limit": f"{settings.FACEPASS_UPLOAD_MAX_PIXELS / 1e6:g}"},
        R.TOO_MANY_PHOTOS: {"limit": str(settings.FACEPASS_MAX_PHOTOS_PER_HOLDER)},
    }


def reason_text(code: str, *, advice: bool = False, **params) -> str:
    """The message (or the attendee's advice) for a code, parameters filled in; '' for none."""
    if not code:
        return ""
    reason = Reason(code)
    info = INFO[reason]
    text = str(info.advice if advice and info.advice is not None else info.message)
    params = {**_limits().get(reason, {}), **params}
    return text % params if params else text


def reason_status(code: str) -> int:
    return reason_info(code).status


class ReasonError(Exception):
    """A request refused for a reason of the vocabulary; channels render it (page, API)."""

    def __init__(self, reason: str, message: str | None = None, **params):
        self.reason = Reason(reason)
        self.params = params
        self.message = message or reason_text(reason, **params)
        super().__init__(self.message)

    @property
    def code(self) -> str:
        return self.reason.value

    @property
    def status(self) -> int:
        return reason_status(self.reason)

    @property
    def advice(self) -> str:
        return reason_text(self.reason, advice=True, **self.params)
