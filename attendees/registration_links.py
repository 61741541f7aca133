"""Signed, expiring registration links: one per ticket holder, for the ticketing system's e-mail.

The token carries the holder id and is signed with SECRET_KEY and a salt bound to the holder's
ticket code, so a link dies when the ticket is re-issued (new code) or the holder is deleted.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from attendees.models import TicketHolder

SALT = "facepass.registration"


class RegistrationLinkError(Exception):
    """The link is malformed, forged, expired or for a holder that no longer exists."""

    def __init__(self, code: str, message: str | Promise):
        super().__init__(message)
        self.code = code
        self.message = message


def _signer(ticket_code: str) -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=f"{SALT}:{ticket_code}")


class _IssuedAtSigner(signing.TimestampSigner):
    """A TimestampSigner that signs with a stored issue time instead of now: the same holder
    and time give the same token (verified by the ordinary TimestampSigner)."""

    def __init__(self, *, issued_at: datetime, **kwargs):
        super().__init__(**kwargs)
        self._stamp = signing.b62_encode(int(issued_at.timestamp()))

    def timestamp(self):
        return self._stamp


def registration_token_make(holder: TicketHolder) -> str:
    return _signer(holder.ticket_code).sign(str(holder.pk))


def registration_link_expires_at(holder: TicketHolder) -> datetime | None:
    issued = holder.registration_link_issued_at
    if issued is None:
        return None
    return issued + timedelta(seconds=settings.FACEPASS_REGISTRATION_LINK_MAX_AGE)


def registration_link_current(holder: TicketHolder, base_url: str = "") -> str | None:
    """The holder's issued link, identical on every call until it is issued again; None when
    none was issued or it has expired."""
    expires = registration_link_expires_at(holder)
    if expires is None or expires <= timezone.now():
        return None
    issued = holder.registration_link_issued_at
    assert issued is not None
    signer = _IssuedAtSigner(issued_at=issued, salt=f"{SALT}:{holder.ticket_code}")
    path = reverse("attendees:register", kwargs={"token": signer.sign(str(holder.pk))})
    base = (base_url or settings.FACEPASS_PUBLIC_BASE_URL).rstrip("/")
    return f"{base}{path}"


def registration_path(holder: TicketHolder) -> str:
    return reverse("attendees:register", kwargs={"token": registration_token_make(holder)})


def registration_url(holder: TicketHolder, base_url: str = "") -> str:
    """Absolute link when base_url (e.g. request.build_absolute_uri('/')) or the setting is set."""
    base = (base_url or settings.FACEPASS_PUBLIC_BASE_URL).rstrip("/")
    return f"{base}{registration_path(holder)}"


def holder_from_registration_token(token: str) -> TicketHolder:
    holder_id = token.partition(":")[0]
    if not holder_id.isdigit():
        raise RegistrationLinkError("link_invalid", _("This registration link is not valid."))
    holder = TicketHolder.objects.select_related("event").filter(pk=int(holder_id)).first()
    if holder is None:
        raise RegistrationLinkError("link_invalid", _("This registration link is not valid."))
    try:
        _signer(holder.ticket_code).unsign(
            token, max_age=settings.FACEPASS_REGISTRATION_LINK_MAX_AGE
        )
    except signing.SignatureExpired as exc:
        raise RegistrationLinkError(
            "link_expired",
            _("This registration link has expired. Ask the organizer for a new one."),
        ) from exc
    except signing.BadSignature as exc:
        raise RegistrationLinkError(
            "link_invalid", _("This registration link is not valid.")
        ) from exc
    return holder
