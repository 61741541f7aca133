"""The audit log: overrides, deletions, model activation, API keys and exports are recorded with
who, when and what; the admin shows them read-only, each organization only its own."""

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke
from attendees.registration_links import registration_token_make
from audit.models import AuditEntry
from audit.services import audit_record
from checkins.gate import GateOutcome
from checkins.services import checkin_override, checkin_record
from events.models import Membership
from events.services import staff_user_create
from recognition.models import EmbeddingModel
from recognition.services import embedding_model_register
from tests.api.conftest import api_client
from tests.faces import blank_jpeg, consenting_holder, stored_photo

pytestmark = pytest.mark.django_db


def recent(entry) -> bool:
    return timezone.now() - timedelta(minutes=1) < entry.timestamp <= timezone.now()


def test_a_gate_override_is_recorded_with_who_when_and_what(event_a, org_a):
    staff = staff_user_create(
        organization=org_a, username="gina", password="pw-gina-123", role="gate_staff"
    )
    holder = consenting_holder(event_a, "E-1", "Eve")
    gate = event_a.gates.get(mode="ticket_face")
    attempt, _ = checkin_record(gate=gate, outcome=GateOutcome("deny", "face_mismatch", holder))

    override = checkin_override(
        checkin=attempt, decision="admit", reason="Matches ID card", staff_user=staff
    )

    entry = AuditEntry.objects.get(action=AuditEntry.Action.CHECKIN_OVERRIDE)
    assert (entry.actor, entry.actor_label, entry.organization) == (staff, "gina", org_a)
    assert (entry.target_type, entry.target_id) == ("events.checkin", str(attempt.pk))
    assert entry.details == {
        "override_id": override.pk,
        "decision": "admit",
        "reason": "Matches ID card",
    }
    assert recent(entry)


def test_deletions_name_their_actor_an_api_key_or_the_attendee_link(client, event_a, org_a):
    api = api_client(org_a)
    prefix = ApiKey.objects.get(organization=org_a).prefix
    photo_holder = consenting_holder(event_a, "D-1", "Dana")
    photo = stored_photo(photo_holder, blank_jpeg())
    gone_holder = consenting_holder(event_a, "D-2", "Dora")
    link_holder = consenting_holder(event_a, "D-3", "Dina")

    assert api.delete(f"/api/v1/photos/{photo.pk}/").status_code == 204
    holder_url = f"/api/v1/events/{event_a.pk}/holders/{gone_holder.pk}/"
    assert api.delete(holder_url).status_code == 204
    client.post(reverse("attendees:biometrics-delete", args=[registration_token_make(link_holder)]))

    entries = {e.action: e for e in AuditEntry.objects.exclude(action="api_key_create")}
    assert set(entries) == {"photo_delete", "holder_delete", "holder_biometrics_delete"}
    for action in ("photo_delete", "holder_delete"):
        assert entries[action].actor_label == f"api key fp_{prefix}"
        assert entries[action].actor is None and entries[action].organization == org_a
    assert entries["photo_delete"].target_repr == f"photo {photo.pk} of ticket D-1"
    # Holders are named by ticket code only: the log outlives their erased personal data.
    assert entries["holder_delete"].target_repr == "ticket D-2"
    assert "Dora" not in str(entries["holder_delete"].details)
    link = entries["holder_biometrics_delete"]
    assert link.actor_label == "attendee (registration link)"
    assert link.target_id == str(link_holder.pk)


def test_model_activation_is_recorded_for_the_operator_only(default_model):
    candidate = embedding_model_register(
        metadata={
            "name": "candidate",
            "version": "2",
            "embedder": "dlib-resnet",
            "dimensions": 128,
            "thresholds": {"1e-3": 0.9},
        }
    )
    call_command("activate_model", "candidate", "2", stdout=StringIO())

    entry = AuditEntry.objects.get(action="model_activate", target_id=str(candidate.pk))
    assert entry.actor_label.startswith("command: activate_model (OS user ")
    assert entry.organization is None  # deployment-wide: superusers see it
    assert entry.details == {"model": "candidate@2", "previous": [default_model.label]}
    assert EmbeddingModel.objects.get(is_active=True) == candidate


def test_api_keys_created_and_revoked_in_the_admin_are_recorded_once(client_a, org_a, organizer_a):
    add = client_a.post(
        reverse("admin:api_apikey_add"), {"organization": org_a.pk, "name": "ticket shop"}
    )
    assert add.status_code == 302
    key = ApiKey.objects.get(name="ticket shop")
    created = AuditEntry.objects.get(action="api_key_create")
    assert (created.actor, created.organization, created.target_id) == (
        organizer_a,
        org_a,
        str(key.pk),
    )
    assert created.details == {"name": "ticket shop", "prefix": key.prefix}

    revoke = {"action": "revoke_keys", "_selected_action": [key.pk], "post": "yes"}
    client_a.post(reverse("admin:api_apikey_changelist"), revoke)
    api_key_revoke(key=ApiKey.objects.get(pk=key.pk), actor=organizer_a)  # already revoked
    [revoked] = AuditEntry.objects.filter(action="api_key_revoke")
    assert (revoked.actor, revoked.target_id) == (organizer_a, str(key.pk))
    assert ApiKey.objects.get(pk=key.pk).revoked_at is not None


def test_an_export_is_recorded(client, event_a):
    holder = consenting_holder(event_a, "X-1", "Xena")
    client.get(reverse("attendees:data-export", args=[registration_token_make(holder)]))
    entry = AuditEntry.objects.get(action="data_export")
    assert (entry.target_type, entry.target_id) == ("attendees.ticketholder", str(holder.pk))
    assert entry.organization == event_a.organization and recent(entry)


@pytest.fixture
def three_entries(org_a, org_b):
    key_a, _ = api_key_create(organization=org_a, name="shop alpha")
    key_b, _ = api_key_create(organization=org_b, name="shop beta")
    operator = audit_record(action="model_activate", actor_label="command: activate_model")
    return (
        AuditEntry.objects.get(target_id=str(key_a.pk), action="api_key_create"),
        AuditEntry.objects.get(target_id=str(key_b.pk), action="api_key_create"),
        operator,
    )


def test_organizers_read_their_own_entries_and_cannot_change_or_delete_them(
    client_a, three_entries
):
    own, other, operator = three_entries
    listing = client_a.get(reverse("admin:audit_auditentry_changelist"))
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "shop alpha" in text
    assert "shop beta" not in text and "command: activate_model" not in text

    change_url = reverse("admin:audit_auditentry_change", args=[own.pk])
    page = client_a.get(change_url)
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client_a.post(change_url, {"actor_label": "someone else"}).status_code == 403
    delete_url = reverse("admin:audit_auditentry_delete", args=[own.pk])
    assert client_a.post(delete_url, {"post": "yes"}).status_code == 403
    assert client_a.get(reverse("admin:audit_auditentry_add")).status_code == 403
    for hidden in (other, operator):
        response = client_a.get(reverse("admin:audit_auditentry_change", args=[hidden.pk]))
        assert response.status_code == 302  # "does not exist", back to the admin index
    assert AuditEntry.objects.get(pk=own.pk).actor_label == own.actor_label


def test_superusers_read_every_entry_but_cannot_change_or_delete_either(client, three_entries):
    root = get_user_model().objects.create_superuser("root", "root@example.org", "pw-root-123")
    client.force_login(root)
    text = client.get(reverse("admin:audit_auditentry_changelist")).content.decode()
    assert "shop alpha" in text and "shop beta" in text and "command: activate_model" in text
    own = three_entries[0]
    change_url = reverse("admin:audit_auditentry_change", args=[own.pk])
    assert client.post(change_url, {"actor_label": "x"}).status_code == 403
    delete_url = reverse("admin:audit_auditentry_delete", args=[own.pk])
    assert client.post(delete_url, {"post": "yes"}).status_code == 403
    assert AuditEntry.objects.count() == 3


def test_an_entry_cannot_be_changed_or_deleted_in_code_either(three_entries):
    entry = three_entries[0]
    entry.actor_label = "someone else"
    with pytest.raises(ValueError):
        entry.save()
    with pytest.raises(ValueError):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).actor_label != "someone else"


def test_gate_staff_have_no_access_to_the_audit_log(client, org_a, three_entries):
    staff = staff_user_create(
        organization=org_a, username="gus", password="pw-gus-123", role=Membership.Role.GATE_STAFF
    )
    client.force_login(staff)
    response = client.get(reverse("admin:audit_auditentry_changelist"))
    assert response.status_code == 302  # not staff: to the admin login
