import hashlib

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from api.models import ApiKey
from api.services import api_key_create, api_key_revoke

pytestmark = pytest.mark.django_db

EVENTS_URL = "/api/v1/events/"


def _assert_json_error(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == code
    assert body["message"]
    assert body["fields"] == {}


def test_creating_a_key_stores_only_a_hash_and_the_plaintext_authenticates(
    org_a, organizer_a, event_a
):
    key, plaintext = api_key_create(organization=org_a, name="ticket shop", user=organizer_a)
    assert plaintext.startswith(f"fp_{key.prefix}_")
    assert len(key.prefix) == 8
    row = ApiKey.objects.get(pk=key.pk)
    assert row.hashed_secret == hashlib.sha256(plaintext.encode()).hexdigest()
    secret = plaintext.split("_", 2)[2]
    stored = " ".join(str(getattr(row, f.attname)) for f in ApiKey._meta.concrete_fields)
    assert secret not in stored
    assert row.created_by == organizer_a

    client = APIClient()
    response = client.get(EVENTS_URL, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [event_a.pk]
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_the_key_is_also_accepted_in_the_x_api_key_header(org_a):
    _, plaintext = api_key_create(organization=org_a, name="shop")
    assert APIClient().get(EVENTS_URL, HTTP_X_API_KEY=plaintext).status_code == 200


def test_a_revoked_key_is_refused_with_401(org_a):
    key, plaintext = api_key_create(organization=org_a, name="shop")
    api_key_revoke(key=key)
    response = APIClient().get(EVENTS_URL, HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    _assert_json_error(response, 401, "authentication_failed")


def test_a_missing_key_is_refused_with_401_and_a_json_body(db):
    response = APIClient().get(EVENTS_URL)
    _assert_json_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer fp_nonsense",
        "Bearer garbage",
        "Bearer",
        "Bearer a b",
        "Bearer fp_00000000_wrongsecret",
    ],
)
def test_a_garbled_or_unknown_key_is_refused_with_401_and_a_json_body(org_a, header):
    api_key_create(organization=org_a, name="shop")
    response = APIClient().get(EVENTS_URL, HTTP_AUTHORIZATION=header)
    _assert_json_error(response, 401, "authentication_failed")


def test_a_key_with_the_right_prefix_but_a_wrong_secret_is_refused(org_a):
    key, plaintext = api_key_create(organization=org_a, name="shop")
    forged = f"fp_{key.prefix}_{'x' * 43}"
    assert forged != plaintext
    response = APIClient().get(EVENTS_URL, HTTP_AUTHORIZATION=f"Bearer {forged}")
    _assert_json_error(response, 401, "authentication_failed")


def test_an_organizer_creates_a_key_in_the_admin_and_sees_the_plaintext_once(
    client_a, org_a, org_b
):
    form = client_a.get(reverse("admin:api_apikey_add")).content.decode()
    assert org_a.name in form
    assert org_b.name not in form
    response = client_a.post(
        reverse("admin:api_apikey_add"),
        {"organization": org_a.pk, "name": "ticket shop"},
        follow=True,
    )
    assert response.status_code == 200
    key = ApiKey.objects.get(name="ticket shop")
    shown = [str(m) for m in response.context["messages"]]
    plaintext = next(word for m in shown for word in m.split() if word.startswith("fp_"))
    assert key.hashed_secret == hashlib.sha256(plaintext.encode()).hexdigest()
    assert key.hashed_secret not in response.content.decode()

    listing = client_a.get(reverse("admin:api_apikey_changelist")).content.decode()
    assert f"fp_{key.prefix}_" in listing
    assert plaintext not in listing
    assert key.hashed_secret not in listing
    assert APIClient().get(EVENTS_URL, HTTP_X_API_KEY=plaintext).status_code == 200


def test_an_organizer_revokes_a_key_with_the_admin_action(client_a, org_a):
    key, plaintext = api_key_create(organization=org_a, name="shop")
    client_a.post(
        reverse("admin:api_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [key.pk], "post": "yes"},
    )
    key.refresh_from_db()
    assert key.revoked_at is not None
    assert APIClient().get(EVENTS_URL, HTTP_X_API_KEY=plaintext).status_code == 401


def test_an_organizer_cannot_see_or_revoke_another_organizations_keys(client_a, org_b):
    key, _ = api_key_create(organization=org_b, name="beta shop")
    listing = client_a.get(reverse("admin:api_apikey_changelist")).content.decode()
    assert key.prefix not in listing
    client_a.post(
        reverse("admin:api_apikey_changelist"),
        {"action": "revoke_keys", "_selected_action": [key.pk], "post": "yes"},
    )
    key.refresh_from_db()
    assert key.revoked_at is None


def test_a_keys_admin_page_shows_the_prefix_but_never_the_hash(client_a, org_a):
    key, _ = api_key_create(organization=org_a, name="shop")
    page = client_a.get(reverse("admin:api_apikey_change", args=[key.pk]))
    assert page.status_code == 200
    assert f"fp_{key.prefix}_" in page.content.decode()
    assert key.hashed_secret not in page.content.decode()


def test_a_non_bearer_authorization_header_is_not_a_key(org_a):
    response = APIClient().get(EVENTS_URL, HTTP_AUTHORIZATION="Basic dXNlcjpwdw==")
    _assert_json_error(response, 401, "not_authenticated")
