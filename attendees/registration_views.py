"""Public registration page: an attendee with a signed link gives consent and enrolls a selfie.

Every page works without JavaScript (form posts, redirect, status on reload); register.js
adds the live camera, uploads without leaving the page and polls the status endpoint.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from attendees.forms import ConsentForm, PhotoUploadForm, TicketLookupForm
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
    EnrollmentError,
    enrollment_photo_delete,
    registration_consent_record,
    registration_photo_add,
    ticket_holder_biometrics_delete,
)
from attendees.views import render_thumbnail

LOOKUP_FAILED = "We could not find a ticket with this code and e-mail address. Please check both."
THUMBNAIL_SIZE = 320

# Attendee-facing words: the model's labels are written for organizers.
HOLDER_STATUS_TEXT = {
    TicketHolder.Status.INVITED: "Please read the consent below; then you can add your selfie.",
    TicketHolder.Status.CONSENTED: "Consent given. Add a selfie so your face can open the gate.",
    TicketHolder.Status.ENROLLED: "You are registered: your face will open the gate.",
    TicketHolder.Status.REVOKED: "This ticket has been revoked.",
}
_CHECKING_TEXT = ("Checking…", "We are checking your photo; this takes a few seconds.")
PHOTO_STATUS_TEXT = {
    EnrollmentPhoto.Status.PENDING: _CHECKING_TEXT,
    EnrollmentPhoto.Status.PROCESSING: _CHECKING_TEXT,
    EnrollmentPhoto.Status.ACCEPTED: ("Accepted", "This photo is good."),
    EnrollmentPhoto.Status.REJECTED: (
        "Not usable",
        "This photo could not be used. Please take another one.",
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
    if request.method == "POST" and form.is_valid():
        holder = ticket_holder_by_code_and_email(**form.cleaned_data)
        if holder is not None:
            return redirect(registration_path(holder))
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
        message = "No photo can be added right now."
    return {
        "status": holder.status,
        "message": message,
        "consented": holder.has_consented,
        "blocked": block.message if block else "",
        "can_upload": block is None and holder.has_consented and in_use < limit,
        "photos_in_use": in_use,
        "max_photos": limit,
        "checking": any(p.status in CHECKING for p in photos),
        "photos": [_photo_payload(photo, token) for photo in photos],
    }


def _photo_payload(photo: EnrollmentPhoto, token: str) -> dict:
    label, text = PHOTO_STATUS_TEXT[photo.status]
    if photo.status == EnrollmentPhoto.Status.REJECTED and photo.rejection_message:
        text = photo.rejection_message
    args = {"token": token, "photo_id": photo.pk}
    return {
        "id": photo.pk,
        "status": photo.status,
        "label": label,
        "text": text,
        "uploaded_at": photo.created_at.isoformat(),
        "thumbnail_url": reverse("attendees:photo-thumbnail", kwargs=args),
        "delete_url": reverse("attendees:photo-delete", kwargs=args),
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
@require_POST
def register_consent(request, holder, token):
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            registration_consent_record(
                holder=holder, text_version=form.cleaned_data["text_version"]
            )
        except EnrollmentError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect(reverse("attendees:register", kwargs={"token": token}) + "#photo")
    return _render_page(request, holder, token, status=400, consent_form=form)


@with_holder
@require_POST
def register_photo_upload(request, holder, token):
    form = PhotoUploadForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            registration_photo_add(holder=holder, image_bytes=form.cleaned_data["photo"])
        except EnrollmentError as exc:
            form.add_error("photo", exc.message)
    if form.errors:
        if _wants_json(request):
            message = " ".join(e for errors in form.errors.values() for e in errors)
            return JsonResponse({"code": "photo_refused", "message": message}, status=400)
        return _render_page(request, holder, token, status=400, upload_form=form)
    if _wants_json(request):
        return JsonResponse(status_payload(holder, token), status=201)
    messages.success(request, "Photo received. We are checking it: reload this page in a moment.")
    return redirect(reverse("attendees:register", kwargs={"token": token}) + "#photos")


def _own_photo(holder, photo_id: int) -> EnrollmentPhoto:
    photo = ticket_holder_photo(holder, photo_id)
    if photo is None:
        raise Http404("No such photo.")
    return photo


@with_holder
@require_GET
def register_photo_thumbnail(request, holder, token, photo_id: int):
    data = render_thumbnail(_own_photo(holder, photo_id), THUMBNAIL_SIZE)
    if data is None:
        raise Http404("Photo file is missing or unreadable.")
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = "private, no-store"
    return response


@with_holder
@require_POST
def register_photo_delete(request, holder, token, photo_id: int):
    enrollment_photo_delete(photo=_own_photo(holder, photo_id))
    messages.success(request, "The photo has been deleted.")
    return redirect(reverse("attendees:register", kwargs={"token": token}) + "#photos")


@with_holder
@require_http_methods(["GET", "POST"])
def register_biometrics_delete(request, holder, token):
    """GET asks for confirmation; the POST deletes every photo and face template."""
    if request.method == "GET":
        context = {"holder": holder, "event": holder.event, "token": token}
        return render(request, "attendees/delete_confirm.html", context)
    count = ticket_holder_biometrics_delete(holder=holder)
    messages.success(
        request,
        f"Deleted {count} photo{'s' if count != 1 else ''} and your face data; "
        "your consent is withdrawn.",
    )
    return redirect("attendees:register", token=token)
