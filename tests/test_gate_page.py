import cv2
import numpy as np
import pytest
from django.urls import reverse

from events.gate_views import read_qr_code
from events.models import Membership
from events.services import staff_user_create
from tests.faces import val_photo


@pytest.fixture
def gate_staff(org_a):
    return staff_user_create(
        organization=org_a, username="gina", password="pw-gina-123", role=Membership.Role.GATE_STAFF
    )


def _frame(data: bytes, name="frame.jpg"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def test_gate_staff_see_their_gates_and_the_check_in_page(client, gate_staff, event_a):
    client.force_login(gate_staff)
    listing = client.get(reverse("gate-list")).content.decode()
    gate = event_a.gates.get(mode="ticket_face")
    assert gate.name in listing
    page = client.get(reverse("gate-page", args=[gate.pk])).content.decode()
    assert 'id="preview"' in page and 'name="ticket_code"' in page


def test_staff_of_another_organization_cannot_open_or_use_the_gate(client, organizer_b, event_a):
    client.force_login(organizer_b)
    gate = event_a.gates.first()
    assert client.get(reverse("gate-page", args=[gate.pk])).status_code == 404
    response = client.post(reverse("gate-check", args=[gate.pk]), {"frames": _frame(b"x")})
    assert response.status_code == 404


def test_anonymous_users_are_sent_to_the_login_page(client, event_a):
    response = client.get(reverse("gate-page", args=[event_a.gates.first().pk]))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_check_without_frames_is_a_clear_400(client, gate_staff, event_a):
    client.force_login(gate_staff)
    gate = event_a.gates.get(mode="face_only")
    response = client.post(reverse("gate-check", args=[gate.pk]))
    assert response.status_code == 400 and response.json()["code"] == "no_frames"


def test_with_no_gate_worker_the_check_answers_503(client, gate_staff, enrolled):
    client.force_login(gate_staff)
    gate = enrolled.event.gates.get(mode="face_only")
    response = client.post(
        reverse("gate-check", args=[gate.pk]), {"frames": _frame(val_photo(6, 1))}
    )
    assert response.status_code == 503
    assert "worker" in response.json()["message"]


def test_the_ticket_qr_code_is_read_from_the_camera_frame():
    qr = cv2.QRCodeEncoder.create().encode("E-1")
    qr = cv2.resize(qr, None, fx=8, fy=8, interpolation=cv2.INTER_NEAREST)
    canvas = np.full((480, 640), 255, np.uint8)
    canvas[40 : 40 + qr.shape[0], 40 : 40 + qr.shape[1]] = qr
    frame = cv2.imencode(".jpg", cv2.cvtColor(canvas, cv2.COLOR_GRAY2BGR))[1].tobytes()
    assert read_qr_code(frame) == "E-1"
    assert read_qr_code(b"garbage") == ""


@pytest.mark.worker
def test_the_page_admits_once_shows_the_holder_and_then_denies_a_second_entry(
    client,
    gate_staff,
    enrolled,
    celery_worker_process,
):
    client.force_login(gate_staff)
    gate = enrolled.event.gates.get(mode="ticket_face")
    url = reverse("gate-check", args=[gate.pk])
    first = client.post(url, {"ticket_code": "E-1", "frames": _frame(val_photo(6, 1))}).json()
    assert first["decision"] == "admit", first
    assert first["holder"]["name"] == "Eve Enrolled"
    photo = client.get(first["holder"]["photo_url"])
    assert photo.status_code == 200 and photo["Content-Type"] == "image/jpeg"
    again = client.post(url, {"ticket_code": "E-1", "frames": _frame(val_photo(6, 1))}).json()
    assert (again["decision"], again["reason"]) == ("deny", "already_checked_in")
    face_only = enrolled.event.gates.get(mode="face_only")
    stranger = client.post(
        reverse("gate-check", args=[face_only.pk]), {"frames": _frame(val_photo(8, 0))}
    ).json()
    assert (stranger["decision"], stranger["reason"]) == ("deny", "no_match")
