import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from api.services import BULK_MAX_ROWS, api_key_create
from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.services import ticket_holder_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_a(org_a):
    _, plaintext = api_key_create(organization=org_a, name="shop a")
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=plaintext)
    return client


@pytest.fixture
def holder_a(event_a):
    return ticket_holder_create(event=event_a, ticket_code="A-001", name="Ana", email="a@x.org")


@pytest.fixture
def holder_b(event_b):
    return ticket_holder_create(event=event_b, ticket_code="B-001", name="Bea")


def url(event, holder=None):
    base = f"/api/v1/events/{event.pk}/holders/"
    return f"{base}{holder.pk}/" if holder else base


def test_holders_are_created_listed_retrieved_updated_and_deleted(api_a, event_a):
    created = api_a.post(
        url(event_a), {"ticket_code": "A-100", "name": "Ada", "email": "ada@x.org"}, format="json"
    )
    assert created.status_code == 201, created.json()
    holder = TicketHolder.objects.get(pk=created.json()["id"])
    assert holder.event == event_a
    assert created.json()["status"] == "invited"

    listing = api_a.get(url(event_a)).json()
    assert [h["ticket_code"] for h in listing["results"]] == ["A-100"]
    assert api_a.get(url(event_a, holder)).json()["name"] == "Ada"

    patched = api_a.patch(url(event_a, holder), {"name": "Ada L."}, format="json")
    assert patched.status_code == 200
    holder.refresh_from_db()
    assert holder.name == "Ada L."
    assert holder.email == "ada@x.org"

    assert api_a.delete(url(event_a, holder)).status_code == 204
    assert not TicketHolder.objects.filter(pk=holder.pk).exists()


def test_deleting_a_holder_removes_their_photos_and_the_files_on_disk(
    api_a, event_a, holder_a, django_capture_on_commit_callbacks
):
    photo = EnrollmentPhoto(holder=holder_a)
    photo.image.save("selfie.jpg", ContentFile(b"jpeg"), save=True)
    storage, name = photo.image.storage, photo.image.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response = api_a.delete(url(event_a, holder_a))
    assert response.status_code == 204
    assert not EnrollmentPhoto.objects.filter(pk=photo.pk).exists()
    assert not storage.exists(name)


def test_the_holder_list_filters_by_status_and_searches_ticket_codes(api_a, event_a, holder_a):
    ticket_holder_create(event=event_a, ticket_code="A-002", name="Bo")
    TicketHolder.objects.filter(ticket_code="A-002").update(status=TicketHolder.Status.REVOKED)
    revoked = api_a.get(url(event_a), {"status": "revoked"}).json()["results"]
    assert [h["ticket_code"] for h in revoked] == ["A-002"]
    found = api_a.get(url(event_a), {"search": "001"}).json()["results"]
    assert [h["ticket_code"] for h in found] == ["A-001"]
    bad = api_a.get(url(event_a), {"status": "nope"})
    assert bad.status_code == 400
    assert "status" in bad.json()["fields"]


def test_a_duplicate_ticket_code_or_bad_email_gives_field_errors(api_a, event_a, holder_a):
    response = api_a.post(
        url(event_a), {"ticket_code": "A-001", "name": "Dup", "email": "nope"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert {"ticket_code", "email"} <= set(body["fields"])
    patched = api_a.patch(url(event_a, holder_a), {"name": ""}, format="json")
    assert patched.status_code == 400
    assert "name" in patched.json()["fields"]


def test_another_organizations_holders_are_invisible_and_untouchable(
    api_a, event_a, event_b, holder_a, holder_b
):
    missing_event = api_a.get("/api/v1/events/999999/holders/")
    foreign_event = api_a.get(url(event_b))
    assert foreign_event.status_code == missing_event.status_code == 404
    assert foreign_event.json() == missing_event.json()
    assert api_a.get(url(event_b, holder_b)).status_code == 404
    # Another organization's holder id under one's own event is not found either.
    assert api_a.get(url(event_a, holder_b)).status_code == 404
    assert api_a.patch(url(event_b, holder_b), {"name": "x"}, format="json").status_code == 404
    assert api_a.patch(url(event_a, holder_b), {"name": "x"}, format="json").status_code == 404
    assert api_a.delete(url(event_b, holder_b)).status_code == 404
    assert api_a.delete(url(event_a, holder_b)).status_code == 404
    created = api_a.post(url(event_b), {"ticket_code": "X", "name": "x"}, format="json")
    assert created.status_code == 404
    bulk = api_a.post(f"{url(event_b)}bulk/", [{"ticket_code": "X", "name": "x"}], format="json")
    assert bulk.status_code == 404
    holder_b.refresh_from_db()
    assert holder_b.name == "Bea"
    assert list(TicketHolder.objects.filter(event=event_b)) == [holder_b]


def test_bulk_upsert_creates_updates_and_is_idempotent(api_a, event_a, holder_a):
    rows = [
        {"ticket_code": "A-001", "name": "Ana Maria", "email": "a@x.org", "external_id": "e1"},
        {"ticket_code": "A-002", "name": "Bo", "email": "", "external_id": ""},
        {"ticket_code": "A-003", "name": "Cy"},
    ]
    first = api_a.post(f"{url(event_a)}bulk/", rows, format="json")
    assert first.status_code == 200, first.json()
    assert first.json() == {"created": 2, "updated": 1, "unchanged": 0, "errors": []}
    holder_a.refresh_from_db()
    assert holder_a.name == "Ana Maria"
    assert holder_a.external_id == "e1"
    stamp = holder_a.updated_at

    second = api_a.post(f"{url(event_a)}bulk/", rows, format="json")
    assert second.json() == {"created": 0, "updated": 0, "unchanged": 3, "errors": []}
    holder_a.refresh_from_db()
    assert holder_a.updated_at == stamp
    assert TicketHolder.objects.filter(event=event_a).count() == 3


def test_bulk_upsert_reports_bad_rows_by_index_and_applies_the_rest(api_a, event_a):
    rows = [
        {"ticket_code": "A-010", "name": "Ok"},
        {"ticket_code": "", "name": "No code"},
        {"ticket_code": "A-011", "name": "Bad mail", "email": "not-an-email"},
        {"ticket_code": "A-010", "name": "Twice"},
        "not an object",
        {"ticket_code": 12, "name": "Number"},
        {"ticket_code": "A-012", "name": "x" * 201},
    ]
    response = api_a.post(f"{url(event_a)}bulk/", rows, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["created"] == 1
    assert [e["index"] for e in body["errors"]] == [1, 2, 3, 4, 5, 6]
    assert all(e["message"] for e in body["errors"])
    assert list(
        TicketHolder.objects.filter(event=event_a).values_list("ticket_code", flat=True)
    ) == ["A-010"]


def test_bulk_upsert_refuses_a_non_list_or_too_many_rows(api_a, event_a):
    response = api_a.post(f"{url(event_a)}bulk/", {"ticket_code": "A"}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    rows = [{"ticket_code": f"T{i}", "name": "n"} for i in range(BULK_MAX_ROWS + 1)]
    response = api_a.post(f"{url(event_a)}bulk/", rows, format="json")
    assert response.status_code == 400
    assert str(BULK_MAX_ROWS) in response.json()["message"]
    assert not TicketHolder.objects.filter(event=event_a).exists()
