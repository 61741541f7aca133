"""Face-only gates that stay safe as events grow (open-set 1:N): thresholds follow the number of
enrolled holders, a look-alike stranger goes to review instead of in, and organizers see and
must confirm what a face-only gate can do at their event's size."""

from html.parser import HTMLParser

import numpy as np
import pytest
from django.urls import reverse

from checkins.gate import gate_decide
from checkins.selectors import face_only_capacity
from enrollment.workflow import enrollment_process
from events.models import Event
from recognition.models import FaceEmbedding
from recognition.selectors import enrolled_holder_count, model_threshold
from tests.api.conftest import api_client
from tests.faces import VAL, consenting_holder, stored_photo, val_photo

# val identity 7369 (index 28) and a train photo of another woman whose dlib-resnet template
# score against 7369's two-photo template is 0.945: above the 1:1 threshold at FAR 1e-3 (what
# face-only gates used to admit with), below the 1:N threshold for eight holders.
LOOK_ALIKE_HOLDER = 28
LOOK_ALIKE_STRANGER = VAL.parent / "train" / "7371" / "120339.jpg"
OTHER_HOLDERS = (0, 3, 5, 9, 12, 17, 21)


def _enroll(event, indexes):
    holders = {}
    photos = []
    for index in indexes:
        holder = consenting_holder(event, f"V-{index}", f"Val {index}")
        photos += [stored_photo(holder, val_photo(index, k)) for k in (0, 1)]
        holders[index] = holder
    enrollment_process(photo_ids=[p.pk for p in photos], batch_size=len(photos))
    return holders


@pytest.mark.worker
def test_a_stranger_who_resembles_a_holder_is_sent_to_review_never_admitted(
    event_a, default_model, celery_worker_process
):
    holders = _enroll(event_a, (LOOK_ALIKE_HOLDER, *OTHER_HOLDERS))
    assert enrolled_holder_count(event_id=event_a.pk, model=default_model) == 8
    face_only = event_a.gates.get(mode="face_only")

    stranger = gate_decide(gate=face_only, frames=[LOOK_ALIKE_STRANGER.read_bytes()])
    assert stranger.decision in ("review", "deny"), stranger
    # The case this is about: the old per-comparison threshold would have let her in.
    assert stranger.score >= model_threshold(default_model, event_a.target_far)
    assert (stranger.decision, stranger.holder) == ("review", holders[LOOK_ALIKE_HOLDER])
    assert stranger.details["threshold"] > stranger.score >= stranger.details["review_threshold"]

    genuine = gate_decide(gate=face_only, frames=[val_photo(LOOK_ALIKE_HOLDER, 4)])
    assert (genuine.decision, genuine.holder) == ("admit", holders[LOOK_ALIKE_HOLDER])


def _fake_enrolled(event, model, holders: int):
    """Holders with one random embedding each: enough to count the gallery (no faces needed)."""
    rng = np.random.default_rng(0)
    for index in range(holders):
        holder = consenting_holder(event, f"F-{index}", f"Fill {index}")
        photo = stored_photo(holder, b"-")
        vector = rng.normal(size=model.dimensions).astype(np.float32)
        FaceEmbedding.objects.create(
            photo=photo, model=model, event=event, holder=holder, vector=vector
        )


def test_capacity_shrinks_as_the_event_grows_and_the_level_rises(event_a, default_model):
    small = face_only_capacity(event_a, holders=20)
    large = face_only_capacity(event_a, holders=10_000)
    assert small.face_only_sensible and small.expected_fpir <= 1e-3 + 1e-12
    assert large.expected_tpir < small.expected_tpir
    assert not face_only_capacity(event_a, holders=100_000).face_only_sensible
    Event.objects.filter(pk=event_a.pk).update(security_level="high")
    event_a.refresh_from_db()
    assert face_only_capacity(event_a, holders=20).expected_tpir < small.expected_tpir


def test_face_only_gates_open_past_capacity_only_on_confirmation(event_a, default_model, client_a):
    Event.objects.filter(pk=event_a.pk).update(
        security_level="high", status=Event.Status.REGISTRATION_OPEN
    )
    _fake_enrolled(event_a, default_model, 40)  # at "high", face only admits well up to ~10
    api = api_client(event_a.organization)
    url = f"/api/v1/events/{event_a.pk}/open-gates/"
    refused = api.post(url, {}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (409, "face_only_capacity")
    assert "ticket + face" in refused.json()["message"]
    event = api.get(f"/api/v1/events/{event_a.pk}/").json()
    assert event["status"] == "registration_open"
    assert event["face_only_capacity"]["holders"] == 40
    assert event["face_only_capacity"]["face_only_sensible"] is False
    opened = api.post(url, {"confirm_face_only": True}, format="json")
    assert (opened.status_code, opened.json()["status"]) == (200, "gates_open")

    page = client_a.get(reverse("admin:events_event_change", args=[event_a.pk])).content.decode()
    assert "Face-only capacity" in page and "Ticket + face (1:1) is the mode" in page


class _AdminFormFields(HTMLParser):
    """The values an admin change page would post back as it stands (inputs, selects,
    textareas), so a test changes only what a person would change."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attr = dict(attrs)
        name = attr.get("name")
        if tag == "input" and name and attr.get("type") not in ("submit", "button", "file"):
            if attr.get("type") != "checkbox" or "checked" in attr:
                self.data[name] = attr.get("value") or (
                    "on" if attr.get("type") == "checkbox" else ""
                )
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in attr:
            self.data[self._select] = attr.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.data[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data


def test_switching_a_face_only_gate_on_in_the_admin_past_capacity_needs_the_confirmation(
    event_a, default_model, client_a
):
    Event.objects.filter(pk=event_a.pk).update(security_level="high")
    face_lane = event_a.gates.get(mode="face_only")
    face_lane.is_active = False
    face_lane.save(update_fields=["is_active"])
    _fake_enrolled(event_a, default_model, 40)
    url = reverse("admin:events_event_change", args=[event_a.pk])
    fields = _AdminFormFields()
    fields.feed(client_a.get(url).content.decode())
    index = next(k.split("-")[1] for k, v in fields.data.items() if v == str(face_lane.pk))
    data = {**fields.data, f"gates-{index}-is_active": "on"}

    refused = client_a.post(url, data)
    assert refused.status_code == 200 and "ticket + face" in refused.content.decode()
    face_lane.refresh_from_db()
    assert not face_lane.is_active

    confirmed = client_a.post(url, {**data, "confirm_face_only": "on"})
    assert confirmed.status_code == 302
    face_lane.refresh_from_db()
    assert face_lane.is_active
