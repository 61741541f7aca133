import io

import pytest
from django.urls import reverse
from PIL import Image

from attendees.models import EnrollmentPhoto
from attendees.services import ticket_holder_create
from events.models import CheckIn, Event

pytestmark = pytest.mark.django_db


def test_an_organizer_sees_only_their_own_organizations_events(client_a, event_a, event_b):
    page = client_a.get(reverse("admin:events_event_changelist"))
    assert page.status_code == 200
    assert event_a.name in page.content.decode()
    assert event_b.name not in page.content.decode()


def test_an_organizer_cannot_open_or_change_another_organizations_event(client_a, event_b):
    url = reverse("admin:events_event_change", args=[event_b.pk])
    assert client_a.get(url).status_code in (302, 403, 404)
    client_a.post(url, {"name": "hijacked"})
    event_b.refresh_from_db()
    assert event_b.name == "Beta Tour Night"


def test_the_event_form_offers_only_the_organizers_own_organization(client_a, org_a, org_b):
    page = client_a.get(reverse("admin:events_event_add")).content.decode()
    assert org_a.name in page
    assert org_b.name not in page


def test_an_organizer_creates_an_event_with_inline_gates(client_a, org_a):
    data = {
        "organization": org_a.pk,
        "name": "Cup Semi",
        "slug": "cup-semi",
        "venue": "Arena",
        "time_zone": "America/Bogota",
        "starts_at_0": "2026-12-01",
        "starts_at_1": "18:00:00",
        "ends_at_0": "2026-12-01",
        "ends_at_1": "23:00:00",
        "status": "registration_open",
        "entry_policy": "single",
        "security_level": "standard",
        "biometric_retention_days": 3,
        "dispute_frame_retention_hours": 0,
        "gates-TOTAL_FORMS": 1,
        "gates-INITIAL_FORMS": 0,
        "gates-0-name": "East",
        "gates-0-mode": "face_only",
        "gates-0-is_active": "on",
    }
    response = client_a.post(reverse("admin:events_event_add"), data)
    assert response.status_code == 302, response.content.decode()[:2000]
    event = Event.objects.get(slug="cup-semi")
    assert event.organization == org_a and event.time_zone == "America/Bogota"
    assert list(event.gates.values_list("name", "mode")) == [("East", "face_only")]


def test_ticket_holders_of_another_organization_are_invisible(client_a, event_a, event_b):
    ticket_holder_create(event=event_a, ticket_code="A1", name="Alma Own")
    other = ticket_holder_create(event=event_b, ticket_code="B1", name="Bert Other")
    page = client_a.get(reverse("admin:attendees_ticketholder_changelist")).content.decode()
    assert "Alma Own" in page and "Bert Other" not in page
    change = client_a.get(reverse("admin:attendees_ticketholder_change", args=[other.pk]))
    assert change.status_code in (302, 403, 404)


def test_gate_staff_cannot_use_the_admin(client, org_a, event_a):
    from events.models import Membership
    from events.services import staff_user_create

    user = staff_user_create(
        organization=org_a, username="gary", password="pw-gary-123", role=Membership.Role.GATE_STAFF
    )
    client.force_login(user)
    assert client.get(reverse("admin:events_event_changelist")).status_code == 302


def test_the_check_in_log_is_read_only(client_a, event_a):
    checkin = CheckIn.objects.create(
        event=event_a,
        gate=event_a.gates.first(),
        decision="deny",
        mode="face_only",
        reason="no_face",
    )
    url = reverse("admin:events_checkin_change", args=[checkin.pk])
    page = client_a.get(url)
    assert page.status_code == 200
    assert 'name="decision"' not in page.content.decode()
    client_a.post(url, {"decision": "admit"})
    checkin.refresh_from_db()
    assert checkin.decision == "deny"
    delete = client_a.post(
        reverse("admin:events_checkin_delete", args=[checkin.pk]), {"post": "yes"}
    )
    assert delete.status_code == 403
    assert CheckIn.objects.filter(pk=checkin.pk).exists()


def _photo(holder) -> EnrollmentPhoto:
    from django.core.files.base import ContentFile

    buf = io.BytesIO()
    Image.new("RGB", (400, 300), (200, 120, 90)).save(buf, "JPEG")
    photo = EnrollmentPhoto(holder=holder, status="accepted")
    photo.image.save("x.jpg", ContentFile(buf.getvalue()), save=False)
    photo.save()
    return photo


def test_photo_thumbnails_are_served_only_to_the_owning_organization(
    client, organizer_a, organizer_b, event_a
):
    photo = _photo(ticket_holder_create(event=event_a, ticket_code="P1", name="Pia"))
    url = reverse("photo-thumbnail", args=[photo.pk]) + "?size=64"
    assert client.get(url).status_code == 302  # anonymous: to the login page
    client.force_login(organizer_b)
    assert client.get(url).status_code == 404
    client.force_login(organizer_a)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(response.content)).size) == 64


def test_enrollment_photos_have_no_public_url(event_a):
    photo = _photo(ticket_holder_create(event=event_a, ticket_code="P2", name="Pau"))
    with pytest.raises(ValueError):
        _ = photo.image.url
