"""Public registration page: an attendee with a signed link gives consent and enrolls a selfie.

Every page works without JavaScript (form posts, redirect, status on reload); register.js
adds the live camera, uploads without leaving the page and polls the status endpoint.
"""

from __future__ import annotations

import functools
import logging
import time

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import (
    RegistrationLinkError,
    holder_from_registration_token,
    registration_path,
)
from attendees.selectors import (
    registration_block,
    ticket_holder_by_code_and_email,
    ticket_holder_photo,
    ticket_holder_photos,
)
from attendees.services import (
    enrollment_photo_delete,
    registration_consent_record,
)
from audit.services import ATTENDEE_LINK
from common import ratelimit
from common.reasons import ReasonError, reason_text
from common.thumbnails import thumbnail_response
from enrollment.workflow import registration_photo_add
from pages.forms import ConsentForm, PhotoUploadForm, TicketLookupForm
from privacy.services import ticket_holder_biometrics_delete, ticket_holder_data_export

security_log = logging.getLogger("facepass.security")

LOOKUP_FAILED = _(
    "We could not find a ticket with this code and e-mail address. Please check both."
)
THUMBNAIL_SIZE = 320

# Attendee-facing words: the model's labels are written for organizers.
HOLDER_STATUS_TEXT = {
    TicketHolder.Status.INVITED: _("Please read the consent below; then you can add your selfie."),
    TicketHolder.Status.CONSENTED: _("Consent given. Add a selfie so your face can open the gate."),
    TicketHolder.Status.ENROLLED: _("You are registered: your face will open the gate."),
    TicketHolder.Status.REVOKED: _("This ticket has been revoked."),
}
_CHECKING_TEXT = (_("Checking…"), _("We are checking your photo; this takes a few seconds."))
PHOTO_STATUS_TEXT = {
    EnrollmentPhoto.Status.PENDING: _CHECKING_TEXT,
    EnrollmentPhoto.Status.PROCESSING: _CHECKING_TEXT,
    EnrollmentPhoto.Status.ACCEPTED: (_("Accepted"), _("This photo is good.")),
    EnrollmentPhoto.Status.REJECTED: (
        _("Not usable"),
        _("This photo could not be used. Please take another one."),
    ),
}
CHECKING = (EnrollmentPhoto.Status.PENDING, EnrollmentPhoto.Status.PROCESSING)


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _link_error(request, exc: RegistrationLinkError):
    status = 410 if exc.code == "link_expired" else 404
    if _wants_json(request):
        return JsonResponse({"code": exc.code, "message": exc.message}, status=status)
    context = {"message": exc.message, "form": TicketLookupForm()}
    return render(request, "attendees/link_error.html", context, status=status)


TOO_MANY_POSTS = _("Too many requests from your network. Please wait a moment and try again.")
TOO_MANY_LOOKUPS = _(
    "Too many attempts with wrong ticket details. For your security, please wait before "
    "trying again, or use the registration link from your ticket e-mail."
)
TOO_MANY_FOR_TICKET = _("Too many requests for this ticket. Please wait a moment and try again.")


def _limited(request, verdict, message):
    return ratelimit.too_many_requests(request, verdict, message, as_json=_wants_json(request))


def throttled(view):
    """POSTs of a holder's pages: generous per client address (a stadium may share one
    carrier-NAT address), strict per ticket holder."""

    @functools.wraps(view)
    def wrapper(request, holder, token, *args, **kwargs):
        if request.method == "POST":
            by_ip = ratelimit.hit(
                "register-ip", ratelimit.client_ip(request), settings.FACEPASS_RATE_REGISTER_IP
            )
            by_holder = ratelimit.hit(
                "register-holder", str(holder.pk), settings.FACEPASS_RATE_REGISTER_HOLDER
            )
            refused = ratelimit.first_refusal(by_ip, by_holder)
            if refused is not None:
                message = TOO_MANY_POSTS if refused is by_ip else TOO_MANY_FOR_TICKET
                return _limited(request, refused, message)
        return view(request, holder, token, *args, **kwargs)

    return wrapper


def _lookup_keys(ticket_code: str, email: str) -> list[str]:
    """Failure counters of a look-up: the ticket code and the e-mail, as keyed digests."""
    return [
        ratelimit.digest(f"code:{ticket_code.strip()}"),
        ratelimit.digest(f"email:{email.strip().lower()}"),
    ]


def _lookup_refused(request, ip: str, ticket_code: str, email: str):
    """A 429 when this address or this ticket code / e-mail has failed too often."""
    verdicts = [ratelimit.peek("register-fail-ip", ip, settings.FACEPASS_RATE_REGISTER_FAILURES_IP)]
    verdicts += [
        ratelimit.peek("register-fail-ticket", key, settings.FACEPASS_RATE_REGISTER_TICKET)
        for key in _lookup_keys(ticket_code, email)
    ]
    refused = ratelimit.first_refusal(*verdicts)
    if refused is None:
        return None
    security_log.warning(
        "registration lookup refused (rate limit) ip=%s ticket=%s",
        ip,
        _lookup_keys(ticket_code, email)[0],
    )
    return _limited(request, refused, TOO_MANY_LOOKUPS)


def _lookup_failed(ip: str, ticket_code: str, email: str) -> None:
    """Count, log (no e-mail or code in clear) and slow down a failed look-up."""
    by_ip = ratelimit.hit("register-fail-ip", ip, settings.FACEPASS_RATE_REGISTER_FAILURES_IP)
    for key in _lookup_keys(ticket_code, email):
        ratelimit.hit("register-fail-ticket", key, settings.FACEPASS_RATE_REGISTER_TICKET)
    failures = by_ip.count if by_ip is not None else 0
    code_key, email_key = _lookup_keys(ticket_code, email)
    security_log.warning(
        "registration lookup failed ip=%s ticket=%s email=%s failures_from_ip=%d",
        ip,
        code_key,
        email_key,
        failures,
    )
    delay = min(settings.FACEPASS_REGISTER_FAILURE_DELAY_MAX, 0.25 * 2 ** (failures - 4))
    if failures > 3 and delay > 0:
        time.sleep(delay)


def with_holder(view):
    """Resolve the signed token to its holder, or answer with a clear link error."""

    @functools.wraps(view)
    def wrapper(request, token: str, *args, **kwargs):
        try:
            holder = holder_from_registration_token(token)
        except RegistrationLinkError as exc:
            return _link_error(request, exc)
        return view(request, holder, token, *args, **kwargs)

    return never_cache(wrapper)


@never_cache
@require_http_methods(["GET", "POST"])
def register_start(request):
    """Ticket code plus e-mail, for attendees without their link: success leads to the link."""
    form = TicketLookupForm(request.POST or None)
    if request.method == "POST":
        ip = ratelimit.client_ip(request)
        by_ip = ratelimit.hit("register-ip", ip, settings.FACEPASS_RATE_REGISTER_IP)
        if by_ip is not None and not by_ip.allowed:
            return _limited(request, by_ip, TOO_MANY_POSTS)
    if request.method == "POST" and form.is_valid():
        refused = _lookup_refused(request, ip, **form.cleaned_data)
        if refused is not None:
            return refused
        holder = ticket_holder_by_code_and_email(**form.cleaned_data)
        if holder is not None:
            return redirect(registration_path(holder))
        _lookup_failed(ip, **form.cleaned_data)
        # One message for both fields: which of the two was wrong would help a guesser.
        form.add_error(None, LOOKUP_FAILED)
    status = 400 if form.errors else 200
    return render(request, "attendees/start.html", {"form": form}, status=status)


def status_payload(holder: TicketHolder, token: str) -> dict:
    """What the page shows about the holder and their photos; also the status endpoint's JSON."""
    photos = list(ticket_holder_photos(holder))
    block = registration_block(holder)
    # Counted as enrollment_photo_create counts them: rejected photos leave room for a retake.
    in_use = sum(1 for p in photos if p.status != EnrollmentPhoto.Status.REJECTED)
    limit = settings.FACEPASS_MAX_PHOTOS_PER_HOLDER
    message = HOLDER_STATUS_TEXT[holder.status]
    if block and holder.status in (TicketHolder.Status.INVITED, TicketHolder.Status.CONSENTED):
        message = _("No photo can be added right now.")
    return {
        "status": holder.status,
        "message": str(message),
        "consented": holder.has_consented,
        "blocked": reason_text(block, advice=True) if block else "",
        "can_upload": block is None and holder.has_consented and in_use < limit,
        "photos_in_use": in_use,
        "max_photos": limit,
        "checking": any(p.status in CHECKING for p in photos),
        "photos": [_photo_payload(photo, token) for photo in photos],
    }


def _photo_payload(photo: EnrollmentPhoto, token: str) -> dict:
    label, text = PHOTO_STATUS_TEXT[photo.status]
    if photo.status == EnrollmentPhoto.Status.REJECTED and photo.rejection_code:
        text = reason_text(photo.rejection_code, advice=True)
    args = {"token": token, "photo_id": photo.pk}
    return {
        "id": photo.pk,
        "status": photo.status,
        "label": str(label),
        "text": str(text),
        "uploaded_at": photo.created_at.isoformat(),
        "thumbnail_url": reverse("attendees:photo-thumbnail", kwargs=args),
        "delete_url": reverse("attendees:photo-delete", kwargs=args),
    }


def _script_text() -> dict[str, str]:
    """register.js's words, translated here (the page hands them over as JSON)."""
    return {
        "accepted": _("Your photo was accepted."),
        "rejected": _("This photo could not be used:"),
        "uploading": _("Uploading…"),
        "checking": _("Photo received. Checking it…"),
        "connection": _("Connection trouble; still trying…"),
        "slow": _(
            "Checking takes longer than usual. Your photo is saved: reload this page in a minute."
        ),
        "upload_failed": _("The upload failed (%(status)s). Please try again."),
        "not_sent": _("The photo did not reach us (%(error)s). Please try again."),
        "no_camera": _("The camera could not be opened (%(error)s). Choose a photo file instead."),
        "not_ready": _("The camera is not ready yet."),
        "not_taken": _("The photo could not be taken. Please try again."),
        "choose_first": _("Please take or choose a photo first."),
    }


def _render_page(request, holder, token, *, status=200, consent_form=None, upload_form=None):
    version = settings.FACEPASS_CONSENT_TEXT_VERSION
    context = {
        "holder": holder,
        "event": holder.event,
        "token": token,
        "state": status_payload(holder, token),
        "consent_version": version,
        "consent_template": f"attendees/consent/{version}.html",
        "consent_form": consent_form or ConsentForm(),
        "upload_form": upload_form or PhotoUploadForm(),
        "script_text": _script_text(),
    }
    return render(request, "attendees/register.html", context, status=status)


@with_holder
@require_GET
def register(request, holder, token):
    return _render_page(request, holder, token)


@with_holder
@require_GET
def register_status(request, holder, token):
    return JsonResponse(status_payload(holder, token))


@with_holder
@throttled
@require_POST
def register_consent(request, holder, token):
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            registration_consent_record(
                holder=holder, text_version=form.cleaned_data["text_version"]
            )
        except ReasonError as exc:
            form.add_error(None, exc.advice)
        else:
            return redirect(reverse("attendees:register", kwargs={"token": token}) + "#photo")
    return _render_page(request, holder, token, status=400, consent_form=form)


@with_holder
@throttled
@require_POST
def register_photo_upload(request, holder, token):
    form = PhotoUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            registration_photo_add(holder=holder, image_bytes=form.cleaned_data["photo"])
        except ReasonError as exc:
            form.add_error("photo", exc.advice)
    if form.errors:
        if _wants_json(request):
            message = " ".join(e for errors in form.errors.values() for e in errors)
            return JsonResponse({"code": "photo_refused", "message": message}, status=400)
        return _render_page(request, holder, token, status=400, upload_form=form)
    if _wants_json(request):
        return JsonResponse(status_payload(holder, token), status=201)
    messages.success(
        request, _("Photo received. We are checking it: reload this page in a moment.")
    )
    return redirect(reverse("attendees:register", kwargs={"token": token}) + "#photos")


def _own_photo(holder, photo_id: int) -> EnrollmentPhoto:
    photo = ticket_holder_photo(holder, photo_id)
    if photo is None:
        raise Http404(_("No such photo."))
    return photo


@with_holder
@require_GET
def register_photo_thumbnail(request, holder, token, photo_id: int):
    return thumbnail_response(_own_photo(holder, photo_id).image, THUMBNAIL_SIZE)


@with_holder
@throttled
@require_POST
def register_photo_delete(request, holder, token, photo_id: int):
    enrollment_photo_delete(photo=_own_photo(holder, photo_id), actor_label=ATTENDEE_LINK)
    messages.success(request, _("The photo has been deleted."))
    return redirect(reverse("attendees:register", kwargs={"token": token}) + "#photos")


@with_holder
@throttled
@require_http_methods(["GET", "POST"])
def register_biometrics_delete(request, holder, token):
    """GET asks for confirmation; the POST deletes every photo and face template."""
    if request.method == "GET":
        context = {"holder": holder, "event": holder.event, "token": token}
        return render(request, "attendees/delete_confirm.html", context)
    count = ticket_holder_biometrics_delete(holder=holder, actor_label=ATTENDEE_LINK)
    messages.success(
        request,
        ngettext(
            "Deleted %(count)d photo and your face data; your consent is withdrawn.",
            "Deleted %(count)d photos and your face data; your consent is withdrawn.",
            count,
        )
        % {"count": count},
    )
    return redirect("attendees:register", token=token)


@with_holder
@require_GET
def register_data_export(request, holder, token):
    """The attendee's own data as a JSON download (see ticket_holder_export_data)."""
    data = ticket_holder_data_export(holder=holder, actor_label=ATTENDEE_LINK)
    response = JsonResponse(data, json_dumps_params={"indent": 2})
    filename = f"facepass-data-{holder.event.slug}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
