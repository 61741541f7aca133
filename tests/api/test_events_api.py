from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from api.services import api_key_create
from events.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_a(org_a):
    _, plaintext = api_key_create(organization=org_a, name="shop a")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def _new_event(**overrides):
    starts = timezone.now() + timedelta(days=10)
    data = {
        "name": "Cup Semi",
        "venue": "Arena",
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=4)).isoformat(),
        "security_level": "high",
    }
    data.update(overrides)
    return data


def test_the_event_list_shows_only_the_keys_organization(api_a, event_a, event_b):
    response = api_a.get("/api/v1/events/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    event = body["results"][0]
    assert event["id"] == event_a.pk
    assert sorted(g["name"] for g in event["gates"]) == ["Face lane", "North"]


def test_an_event_is_created_with_a_slug_from_its_name(api_a, org_a):
    response = api_a.post("/api/v1/events/", _new_event(), format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    event = Event.objects.get(pk=body["id"])
    assert event.organization == org_a
    assert event.slug == "cup-semi"
    assert event.security_level == "high"
    assert event.status == Event.Status.DRAFT
    assert event.starts_at.tzinfo is not None
    assert body["gates"] == []
    assert body["time_zone"] == event.time_zone == settings.TIME_ZONE  # the site's by default


def test_an_event_takes_an_iana_time_zone_and_refuses_a_made_up_one(api_a):
    bogota = api_a.post("/api/v1/events/", _new_event(time_zone="America/Bogota"), format="json")
    assert bogota.status_code == 201, bogota.json()
    assert Event.objects.get(pk=bogota.json()["id"]).time_zone == "America/Bogota"
    wrong = api_a.post(
        "/api/v1/events/", _new_event(slug="x", time_zone="Mars/Olympus"), format="json"
    )
    assert wrong.status_code == 400 and "time_zone" in wrong.json()["fields"]


def test_creating_an_event_that_ends_before_it_starts_gives_field_errors(api_a):
    data = _new_event()
    data["ends_at"], data["starts_at"] = data["starts_at"], data["ends_at"]
    response = api_a.post("/api/v1/events/", data, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"]
    assert "ends_at" in body["fields"]
    assert Event.objects.filter(name="Cup Semi").count() == 0


def test_creating_an_event_with_missing_and_bad_fields_lists_every_field(api_a):
    response = api_a.post(
        "/api/v1/events/",
        {"starts_at": "not a date", "security_level": "extreme"},
        format="json",
    )
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert {"name", "starts_at", "ends_at", "security_level"} <= set(fields)
    assert all(isinstance(m, list) and m for m in fields.values())


def test_a_duplicate_slug_in_the_organization_is_a_field_error(api_a, event_a):
    response = api_a.post("/api/v1/events/", _new_event(slug=event_a.slug), format="json")
    assert response.status_code == 400
    assert "slug" in response.json()["fields"]


def test_malformed_json_and_non_json_bodies_get_json_errors(api_a):
    response = api_a.post("/api/v1/events/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    response = api_a.post("/api/v1/events/", "name=x", content_type="text/plain")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_unsupported_methods_and_unknown_urls_get_json_errors(api_a, event_a):
    response = api_a.delete(f"/api/v1/events/{event_a.pk}/")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    response = api_a.get("/api/v1/nothing-here/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    response = api_a.get("/api/v1/events/abc/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_event_is_partially_updated(api_a, event_a):
    response = api_a.patch(
        f"/api/v1/events/{event_a.pk}/",
        {"venue": "New Stadium", "biometric_retention_days": 3},
        format="json",
    )
    assert response.status_code == 200, response.json()
    event_a.refresh_from_db()
    assert event_a.venue == "New Stadium"
    assert event_a.biometric_retention_days == 3
    assert event_a.name == "Alpha Cup Final"


def test_a_partial_update_cannot_move_the_end_before_the_start(api_a, event_a):
    too_early = (event_a.starts_at - timedelta(hours=1)).isoformat()
    response = api_a.patch(f"/api/v1/events/{event_a.pk}/", {"ends_at": too_early}, format="json")
    assert response.status_code == 400
    assert "ends_at" in response.json()["fields"]
    old_end = event_a.ends_at
    event_a.refresh_from_db()
    assert event_a.ends_at == old_end


def test_another_organizations_event_answers_404_like_a_missing_one(api_a, event_b):
    missing = api_a.get("/api/v1/events/999999/")
    foreign = api_a.get(f"/api/v1/events/{event_b.pk}/")
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    patched = api_a.patch(f"/api/v1/events/{event_b.pk}/", {"name": "hijacked"}, format="json")
    assert patched.status_code == 404
    assert api_a.post(f"/api/v1/events/{event_b.pk}/close/").status_code == 404
    event_b.refresh_from_db()
    assert event_b.name == "Beta Tour Night"
    assert event_b.status == Event.Status.GATES_OPEN


def test_gates_are_opened_and_the_event_closed(api_a, event_a):
    Event.objects.filter(pk=event_a.pk).update(status=Event.Status.REGISTRATION_OPEN)
    response = api_a.post(f"/api/v1/events/{event_a.pk}/open-gates/")
    assert response.status_code == 200
    assert response.json()["status"] == "gates_open"
    event_a.refresh_from_db()
    assert event_a.status == Event.Status.GATES_OPEN
    response = api_a.post(f"/api/v1/events/{event_a.pk}/close/")
    assert response.status_code == 200
    event_a.refresh_from_db()
    assert event_a.status == Event.Status.CLOSED


def test_a_closed_event_cannot_have_its_gates_reopened(api_a, event_a):
    api_a.post(f"/api/v1/events/{event_a.pk}/close/")
    response = api_a.post(f"/api/v1/events/{event_a.pk}/open-gates/")
    assert response.status_code == 409
    assert response.json()["code"] == "event_closed"
    event_a.refresh_from_db()
    assert event_a.status == Event.Status.CLOSED


def test_the_status_cannot_be_set_by_a_partial_update(api_a, event_a):
    api_a.patch(f"/api/v1/events/{event_a.pk}/", {"status": "closed"}, format="json")
    event_a.refresh_from_db()
    assert event_a.status == Event.Status.GATES_OPEN


def test_the_schema_endpoint_lists_the_api_paths(db):
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in [
        "/api/v1/events/",
        "/api/v1/events/{id}/",
        "/api/v1/events/{id}/open-gates/",
        "/api/v1/events/{id}/close/",
        "/api/v1/events/{event_id}/holders/",
        "/api/v1/events/{event_id}/holders/{id}/",
        "/api/v1/events/{event_id}/holders/bulk/",
    ]:
        assert path in paths


def test_the_swagger_page_loads_its_assets_locally_not_from_a_cdn(client):
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    assert "cdn.jsdelivr" not in page and "unpkg.com" not in page
