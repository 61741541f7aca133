"""CSRF on every form: each HTML page with a POST form (registration, gate, log-in, admin
list/add/change/delete pages of every model) carries the token, and a POST without it is a 403
from the CSRF check. The pages' scripts send the token with their fetches; the API, which
never authenticates by cookie, needs none."""

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from api.services import api_key_create
from attendees.models import EnrollmentPhoto
from tests.faces import val_photo
from tests.test_tenant_isolation import ADMIN_OBJECTS, _reg, build_world

STATIC = Path(__file__).resolve().parent.parent / "static"
TOKEN = "csrfmiddlewaretoken"


class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {
                "method": (attrs.get("method") or "get").lower(),
                "action": attrs.get("action") or "",
                "id": attrs.get("id", ""),
                "fields": {},
            }
            self.forms.append(self._form)
        elif tag in ("input", "textarea", "select") and self._form is not None:
            name = attrs.get("name")
            if name and attrs.get("type") not in ("file", "submit", "checkbox"):
                self._form["fields"][name] = attrs.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def forms_of(response) -> list[dict]:
    parser = FormParser()
    parser.feed(response.content.decode())
    return parser.forms


@pytest.fixture
def world(db, settings):
    return build_world(settings)


def strict(user=None) -> Client:
    client = Client(enforce_csrf_checks=True)
    if user is not None:
        client.force_login(user)
    return client


def csrf_refused(response) -> bool:
    return response.status_code == 403 and b"CSRF" in response.content


def pages(w) -> list[tuple[Client, str]]:
    """Every page with a form, as the client who sees it."""
    anonymous, organizer, root = strict(), strict(w.user_a), strict()
    root.force_login(type(w.user_a).objects.get(username="root"))
    listed = [
        (anonymous, reverse("attendees:start")),
        (anonymous, "/register/1:forged-link/"),
        (anonymous, _reg("register", w.holder_a)),
        (anonymous, _reg("biometrics-delete", w.holder_a)),
        (anonymous, reverse("login")),
        (anonymous, reverse("password_reset")),
        (anonymous, reverse("admin:login")),
        (organizer, reverse("gate-list")),
        (organizer, reverse("gate-page", args=[w.gate_a.pk])),
        (organizer, reverse("password_change")),
        (root, reverse("admin:index")),
        (root, reverse("admin:password_change")),
        (root, reverse("admin:attendees_ticketholder_import_csv")),
        (root, reverse("admin:auth_user_password_change", args=[w.user_a.pk])),
    ]
    for model in admin.site._registry:
        obj = ADMIN_OBJECTS[model._meta.label](w)
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        listed.append((root, reverse(f"{prefix}_changelist")))
        listed.append((root, reverse(f"{prefix}_add")))
        listed.append((root, reverse(f"{prefix}_change", args=[obj.pk])))
        listed.append((root, reverse(f"{prefix}_delete", args=[obj.pk])))
    return listed


def test_every_post_form_carries_the_token_and_fails_with_403_without_it(world):
    checked = 0
    for client, url in pages(world):
        page = client.get(url)
        assert page.status_code in (200, 403, 404, 410), (url, page.status_code)
        if page.status_code == 403:
            continue  # e.g. adding audit entries: no form to protect
        for form in forms_of(page):
            if form["method"] != "post":
                continue
            assert TOKEN in form["fields"], f"a POST form on {url} has no CSRF token"
            fields = {k: v for k, v in form["fields"].items() if k != TOKEN}
            action = urljoin(url, form["action"]) if form["action"] else url
            response = client.post(action, fields)
            assert csrf_refused(response), (url, action, response.status_code)
            checked += 1
    assert checked >= 40  # every model's admin pages and every public form were walked


def test_a_post_with_the_pages_token_is_accepted(world):
    client = strict()
    page = client.get(reverse("attendees:start"))
    token = forms_of(page)[0]["fields"][TOKEN]
    data = {TOKEN: token, "ticket_code": world.holder_a.ticket_code, "email": "wrong@x.org"}
    assert client.post(reverse("attendees:start"), data).status_code == 400  # checked, not 403


def test_the_pages_that_scripts_post_to_refuse_requests_without_the_token(world):
    organizer = strict(world.user_a)
    organizer.get(reverse("gate-page", args=[world.gate_a.pk]))  # sets the cookie
    frame = SimpleUploadedFile("f.jpg", val_photo(6, 0), content_type="image/jpeg")
    check = reverse("gate-check", args=[world.gate_a.pk])
    assert csrf_refused(organizer.post(check, {"frames": [frame], "ticket_code": "X"}))
    override = reverse("gate-override", args=[world.gate_a.pk, world.checkin_a.pk])
    assert csrf_refused(organizer.post(override, {"decision": "deny", "reason": "r"}))
    anonymous = strict()
    anonymous.get(_reg("register", world.holder_a))
    count = EnrollmentPhoto.objects.count()
    refused = anonymous.post(
        _reg("photo-upload", world.holder_a), {"photo": frame}, HTTP_ACCEPT="application/json"
    )
    assert csrf_refused(refused) and EnrollmentPhoto.objects.count() == count
    photo_delete = _reg("photo-delete", world.holder_a, photo_id=world.photo_a.pk)
    assert csrf_refused(anonymous.post(photo_delete))
    assert EnrollmentPhoto.objects.filter(pk=world.photo_a.pk).exists()


def test_the_gate_page_script_sends_the_token_with_every_post(world):
    script = (STATIC / "gate" / "checkin.js").read_text()
    # The check posts FormData of the check form, which holds the token; the override and the
    # head-turn prompt request send it as the X-CSRFToken header.
    assert re.search(r'const form = \$\("check-form"\)', script)
    assert re.search(r"await post\(root\.dataset\.checkUrl, data", script)
    assert re.search(r"const data = new FormData\(form\)", script)
    assert re.search(r'post\(state\.attempt\.url, data, \{ "X-CSRFToken": csrfToken \}\)', script)
    challenge = r'post\(root\.dataset\.challengeUrl, data, \{ "X-CSRFToken": csrfToken \}\)'
    assert re.search(challenge, script)
    assert script.count("await post(") == 3 and script.count("fetch(") == 1

    organizer = strict(world.user_a)
    page = organizer.get(reverse("gate-page", args=[world.gate_a.pk]))
    check_form = next(f for f in forms_of(page) if f["id"] == "check-form")
    token = check_form["fields"][TOKEN]
    frame = SimpleUploadedFile("f.jpg", val_photo(6, 0), content_type="image/jpeg")
    as_script = organizer.post(
        reverse("gate-check", args=[world.gate_a.pk]),
        {**check_form["fields"], "frames": [frame], "ticket_code": "NOBODY"},
    )
    assert not csrf_refused(as_script) and as_script["Content-Type"] == "application/json"
    override = organizer.post(
        reverse("gate-override", args=[world.gate_a.pk, world.checkin_a.pk]),
        {"decision": "deny", "reason": "wrong person"},
        HTTP_X_CSRFTOKEN=token,
    )
    assert override.status_code == 200, override.content


def test_the_registration_page_script_sends_the_token_with_its_upload(world):
    script = (STATIC / "attendees" / "register.js").read_text()
    assert 'data.append("csrfmiddlewaretoken", csrfToken())' in script
    assert script.count('method: "POST"') == 1  # the upload is the script's only POST
    client = strict()
    page = client.get(_reg("register", world.holder_a))
    token = next(f for f in forms_of(page) if TOKEN in f["fields"])["fields"][TOKEN]
    photo = SimpleUploadedFile("s.jpg", val_photo(6, 0), content_type="image/jpeg")
    response = client.post(
        _reg("photo-upload", world.holder_a),
        {TOKEN: token, "photo": photo},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 201, response.content


def test_the_api_needs_no_csrf_token_and_ignores_session_cookies(world):
    _, plaintext = api_key_create(organization=world.org_a, name="csrf")
    api = APIClient(enforce_csrf_checks=True)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    created = api.post(
        f"/api/v1/events/{world.event_a.pk}/holders/",
        {"ticket_code": "CSRF-1", "name": "No Cookie"},
        format="json",
    )
    assert created.status_code == 201
    # A logged-in organizer's browser (a cross-site form's target) has no API access at all.
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(world.user_a)
    response = browser.post(
        f"/api/v1/events/{world.event_a.pk}/holders/",
        {"ticket_code": "CSRF-2", "name": "Forged"},
        format="json",
    )
    assert response.status_code == 401


@pytest.mark.parametrize("setting", ["CSRF_COOKIE_SAMESITE", "SESSION_COOKIE_SAMESITE"])
def test_cookies_are_not_sent_on_cross_site_posts(settings, setting):
    assert getattr(settings, setting) in ("Lax", "Strict")
