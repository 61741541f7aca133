"""Tenant isolation, URL by URL: staff or an API key of organization A can neither read nor
change anything of organization B.

Every URL pattern of the project (admin views of every registered model included) needs an
entry in CHECKS: a function that tries to reach B's objects as A and shows that it fails (and,
where it helps, that the same request works for B or a superuser, so the refusal is not an
accident of a wrong URL). Patterns that hold no tenant data say so with a check that they
show none. A new URL without an entry fails test_every_url_pattern_has_an_isolation_check.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.contrib.contenttypes.models import ContentType
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.services import api_key_create
from attendees.models import EnrollmentPhoto, TicketHolder
from attendees.registration_links import registration_path
from attendees.services import ticket_holder_create, ticket_holder_record_consent
from audit.models import AuditEntry
from events.models import CheckIn, CheckInFrame, Gate, Membership
from events.services import gate_create, organization_create, staff_user_create
from recognition.models import EmbeddingModel
from tests.conftest import make_event
from tests.faces import stored_photo, val_photo
from tests.test_rate_limits import clear_rate_limits
from webhooks.models import WebhookDelivery, WebhookEndpoint

MARK = "zqbeta"  # in every visible string of organization B's objects


# --- the URL patterns -------------------------------------------------------------------


def url_patterns() -> dict[str, str]:
    """Every URL pattern: 'namespace:name' (or 'route:<route>' when unnamed) -> route."""

    def walk(patterns, prefix: str, namespace: str):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                ns = ":".join(n for n in (namespace, pattern.namespace) if n)
                yield from walk(pattern.url_patterns, route, ns)
            elif pattern.name:
                yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), route
            else:
                yield f"route:{route}", route

    return dict(walk(get_resolver().url_patterns, "", ""))


# --- two organizations with one of everything -------------------------------------------


@dataclass
class World:
    org_a: object
    org_b: object
    event_a: object
    event_b: object
    gate_a: Gate
    gate_b: Gate
    holder_a: TicketHolder
    holder_b: TicketHolder
    photo_a: EnrollmentPhoto
    photo_b: EnrollmentPhoto
    checkin_a: CheckIn
    checkin_b: CheckIn
    frame_a: CheckInFrame
    frame_b: CheckInFrame
    key_a: object
    key_b: object
    api_a: APIClient
    api_b: APIClient
    endpoint_b: WebhookEndpoint
    delivery_b: WebhookDelivery
    audit_b: AuditEntry
    group_b: Group
    model_b: EmbeddingModel
    user_a: User
    user_b: User
    staff_a: Client  # organizer of A, logged in
    staff_b: Client  # organizer of B, logged in
    root: Client  # a superuser, for the positive controls of operator-only pages


def _api(org, name):
    key, plaintext = api_key_create(organization=org, name=name)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return key, client


def _logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _side(org, tag: str, user: User):
    event = make_event(org, f"{tag}-event Night", slug=f"{tag}-event")
    gate = gate_create(event=event, name=f"{tag}-gate", mode=Gate.Mode.TICKET_AND_FACE)
    holder = ticket_holder_create(
        event=event,
        ticket_code=f"{tag.upper()}-1",
        name=f"{tag}-holder",
        email=f"holder@{tag}.example",
    )
    holder = ticket_holder_record_consent(holder=holder, text_version="2026-11")
    photo = stored_photo(holder, val_photo(6, 0))
    EnrollmentPhoto.objects.filter(pk=photo.pk).update(status=EnrollmentPhoto.Status.ACCEPTED)
    checkin = CheckIn.objects.create(
        event=event,
        gate=gate,
        attendee=holder,
        decision=CheckIn.Decision.ADMIT,
        mode=gate.mode,
        staff_user=user,
    )
    frame = CheckInFrame(checkin=checkin, expires_at=timezone.now() + timedelta(hours=1))
    frame.image.save("frame.jpg", ContentFile(val_photo(6, 1)), save=True)
    return event, gate, holder, photo, checkin, frame


@pytest.fixture
def world(db, settings) -> World:
    return build_world(settings)


def build_world(settings) -> World:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    clear_rate_limits()
    org_a = organization_create(name="Alpha Arenas", slug="alpha")
    org_b = organization_create(name=f"{MARK}-org Concerts", slug=f"{MARK}-org")
    role = Membership.Role.ORGANIZER
    user_a = staff_user_create(organization=org_a, username="alice", password="pw", role=role)
    user_b = staff_user_create(
        organization=org_b, username=f"{MARK}-user", password="pw", role=role
    )
    event_a, gate_a, holder_a, photo_a, checkin_a, frame_a = _side(org_a, "alpha", user_a)
    event_b, gate_b, holder_b, photo_b, checkin_b, frame_b = _side(org_b, MARK, user_b)
    key_a, api_a = _api(org_a, "alpha-key")
    key_b, api_b = _api(org_b, f"{MARK}-key")
    endpoint_b = WebhookEndpoint.objects.create(
        organization=org_b, url=f"https://{MARK}-hook.example/in", description=MARK
    )
    delivery_b = WebhookDelivery.objects.create(
        endpoint=endpoint_b, event_type="checkin.created", payload={"who": MARK}
    )
    audit_b = AuditEntry.objects.create(
        organization=org_b,
        action=AuditEntry.Action.DATA_EXPORT,
        actor_label=f"{MARK}-actor",
        target_repr=f"{MARK}-audit",
    )
    root = User.objects.create_superuser("root", "root@example.org", "pw")
    return World(
        org_a=org_a,
        org_b=org_b,
        event_a=event_a,
        event_b=event_b,
        gate_a=gate_a,
        gate_b=gate_b,
        holder_a=holder_a,
        holder_b=holder_b,
        photo_a=photo_a,
        photo_b=photo_b,
        checkin_a=checkin_a,
        checkin_b=checkin_b,
        frame_a=frame_a,
        frame_b=frame_b,
        key_a=key_a,
        key_b=key_b,
        api_a=api_a,
        api_b=api_b,
        endpoint_b=endpoint_b,
        delivery_b=delivery_b,
        audit_b=audit_b,
        group_b=Group.objects.create(name=f"{MARK}-group"),
        model_b=EmbeddingModel.objects.create(
            name=f"{MARK}-model", version="1", kind=EmbeddingModel.Kind.DLIB_RESNET
        ),
        user_a=user_a,
        user_b=user_b,
        staff_a=_logged_in(user_a),
        staff_b=_logged_in(user_b),
        root=_logged_in(root),
    )


# --- assertions -------------------------------------------------------------------------


def content_of(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def shows_nothing_of_b(response) -> None:
    body = content_of(response)
    assert MARK.encode() not in body, body[:2000]
    assert MARK not in response.get("Location", "")


def shows_b(response) -> None:
    assert response.status_code == 200, response.status_code
    assert MARK.encode() in content_of(response)


def snapshot(obj) -> dict:
    fresh = type(obj)._base_manager.filter(pk=obj.pk).first()
    assert fresh is not None, f"{obj!r} was deleted"
    return {f.attname: getattr(fresh, f.attname) for f in fresh._meta.concrete_fields}


def refused(response, *codes) -> None:
    """Not served: 404 (or, for the admin, a redirect away, 403 or 404) and nothing of B."""
    assert response.status_code in (codes or (404,)), response.status_code
    shows_nothing_of_b(response)


ADMIN_REFUSED = (302, 403, 404)


def jpeg_file(name="x.jpg"):
    return SimpleUploadedFile(name, val_photo(6, 0), content_type="image/jpeg")


# --- the admin of every registered model ------------------------------------------------

# Organization B's object of each model registered in the admin.
ADMIN_OBJECTS: dict[str, Callable[[World], object]] = {
    "auth.User": lambda w: w.user_b,
    "auth.Group": lambda w: w.group_b,
    "events.Organization": lambda w: w.org_b,
    "events.Event": lambda w: w.event_b,
    "events.CheckIn": lambda w: w.checkin_b,
    "attendees.TicketHolder": lambda w: w.holder_b,
    "recognition.EmbeddingModel": lambda w: w.model_b,
    "api.ApiKey": lambda w: w.key_b,
    "webhooks.WebhookEndpoint": lambda w: w.endpoint_b,
    "webhooks.WebhookDelivery": lambda w: w.delivery_b,
    "audit.AuditEntry": lambda w: w.audit_b,
}

# The add form's foreign key into B's data, per model; None: organizers may not add at all.
ADMIN_ADD_FOREIGN_KEY: dict[str, tuple[str, Callable[[World], object]] | None] = {
    "auth.User": None,
    "auth.Group": None,
    "events.Organization": None,
    "events.Event": ("organization", lambda w: w.org_b),
    "events.CheckIn": None,
    "attendees.TicketHolder": ("event", lambda w: w.event_b),
    "recognition.EmbeddingModel": None,
    "api.ApiKey": ("organization", lambda w: w.org_b),
    "webhooks.WebhookEndpoint": ("organization", lambda w: w.org_b),
    "webhooks.WebhookDelivery": None,
    "audit.AuditEntry": None,
}


def _admin_name(model, view: str) -> str:
    return f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"


def admin_changelist_check(model) -> Callable[[World], None]:
    def check(w: World) -> None:
        obj = ADMIN_OBJECTS[model._meta.label](w)
        url = reverse(_admin_name(model, "changelist"))
        shows_b(w.root.get(url))  # the marker would show, were B's row listed
        # The search term in capitals: the page echoes it; the search ignores case.
        for query in ("", f"?q={MARK.upper()}", "?all=", "?o=1"):
            response = w.staff_a.get(url + query)
            assert response.status_code in (200, 403)
            shows_nothing_of_b(response)
        before = snapshot(obj)
        actions = ["delete_selected", *(a for a in admin.site._registry[model].actions or [])]
        for action in actions:
            name = action if isinstance(action, str) else action.__name__
            data = {"action": name, "_selected_action": [obj.pk], "post": "yes", "index": 0}
            response = w.staff_a.post(url, data)
            shows_nothing_of_b(response)
            assert snapshot(obj) == before, name

    return check


def admin_add_check(model) -> Callable[[World], None]:
    def check(w: World) -> None:
        url = reverse(_admin_name(model, "add"))
        spec = ADMIN_ADD_FOREIGN_KEY[model._meta.label]
        count = model._base_manager.count()
        if spec is None:
            assert w.staff_a.get(url).status_code == 403
            assert w.staff_a.post(url, {}).status_code == 403
            assert model._base_manager.count() == count
            return
        field, target = spec
        page = w.staff_a.get(url)
        assert page.status_code == 200
        shows_nothing_of_b(page)
        choices = page.context["adminform"].form.fields[field].queryset
        assert target(w) not in choices and choices.exists()
        posted = w.staff_a.post(url, {field: target(w).pk, "name": f"{MARK}-added"})
        assert posted.status_code == 200  # the form again, with the error
        assert field in posted.context["adminform"].form.errors
        assert model._base_manager.count() == count

    return check


def admin_object_check(model, view: str) -> Callable[[World], None]:
    """change, delete, history: B's object is neither shown nor changed nor deleted."""

    def check(w: World) -> None:
        obj = ADMIN_OBJECTS[model._meta.label](w)
        url = reverse(_admin_name(model, view), args=[obj.pk])
        if view != "delete" or admin.site._registry[model].has_delete_permission:
            root_page = w.root.get(url)
            assert root_page.status_code in (200, 403)  # 403: not deletable even by root
            if root_page.status_code == 200:
                shows_b(root_page)
        before = snapshot(obj)
        refused(w.staff_a.get(url), *ADMIN_REFUSED)
        refused(w.staff_a.get(url, follow=True), 200, 403, 404)
        posted = w.staff_a.post(url, {"post": "yes", "name": "pwned", "is_active": "on"})
        refused(posted, *ADMIN_REFUSED)
        assert snapshot(obj) == before

    return check


def admin_redirect_check(model) -> Callable[[World], None]:
    """admin/<app>/<model>/<id>/ redirects to the change page, which refuses."""

    def check(w: World) -> None:
        obj = ADMIN_OBJECTS[model._meta.label](w)
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/{obj.pk}/"
        refused(w.staff_a.get(url, follow=True), 200, 403, 404)
        assert w.root.get(url).status_code == 302  # the route is live

    return check


def admin_checks() -> dict[str, Callable[[World], None]]:
    checks = {}
    for model in admin.site._registry:
        checks[_admin_name(model, "changelist")] = admin_changelist_check(model)
        checks[_admin_name(model, "add")] = admin_add_check(model)
        for view in ("change", "delete", "history"):
            checks[_admin_name(model, view)] = admin_object_check(model, view)
        route = f"route:admin/{model._meta.app_label}/{model._meta.model_name}/<path:object_id>/"
        checks[route] = admin_redirect_check(model)
    return checks


# --- other admin views --------------------------------------------------------------------


def check_admin_pages_without_tenant_data(w: World, url: str) -> None:
    for client in (w.staff_a, Client()):
        response = client.get(url)
        assert response.status_code in (200, 302, 403, 404)
        shows_nothing_of_b(response)


def check_admin_index(w: World) -> None:
    check_admin_pages_without_tenant_data(w, reverse("admin:index"))
    for app in ("events", "attendees", "api", "webhooks", "audit", "auth", "recognition"):
        check_admin_pages_without_tenant_data(w, f"/admin/{app}/")


def check_admin_view_on_site(w: World) -> None:
    """The shortcut redirects to an object's get_absolute_url; none of ours has one."""
    for label, get in ADMIN_OBJECTS.items():
        obj = get(w)
        ct = ContentType.objects.get_for_model(type(obj))
        response = w.staff_a.get(reverse("admin:view_on_site", args=[ct.pk, obj.pk]))
        assert response.status_code == 404, label
        shows_nothing_of_b(response)


def check_admin_autocomplete(w: World) -> None:
    url = reverse("admin:autocomplete")
    for model in admin.site._registry:
        for field in model._meta.get_fields():
            if not (field.is_relation and field.many_to_one):
                continue
            target = field.related_model._meta
            query = {
                "app_label": model._meta.app_label,
                "model_name": model._meta.model_name,
                "field_name": field.name,
                "term": MARK,
            }
            response = w.staff_a.get(url, query)
            assert response.status_code in (200, 403, 404), (model, field, target)
            shows_nothing_of_b(response)


def check_admin_catch_all(w: World) -> None:
    for url in (f"/admin/events/event/{w.event_b.pk}/change/x", "/admin/nothing-here/"):
        response = w.staff_a.get(url, follow=True)
        assert response.status_code in (200, 404)
        shows_nothing_of_b(response)


def check_admin_user_password(w: World) -> None:
    url = reverse("admin:auth_user_password_change", args=[w.user_b.pk])
    assert w.root.get(url).status_code == 200
    before = snapshot(w.user_b)
    refused(w.staff_a.get(url), 403, 404)
    data = {"password1": "Hijacked-Pass-987", "password2": "Hijacked-Pass-987"}
    refused(w.staff_a.post(url, data), 403, 404)
    assert snapshot(w.user_b) == before


def check_admin_checkin_frame(w: World) -> None:
    def url(checkin, frame):
        return reverse("admin:events_checkin_frame", args=[checkin.pk, frame.pk])

    response = w.staff_b.get(url(w.checkin_b, w.frame_b))
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    assert w.staff_a.get(url(w.checkin_a, w.frame_a)).status_code == 200
    refused(w.staff_a.get(url(w.checkin_b, w.frame_b)))
    refused(w.staff_a.get(url(w.checkin_a, w.frame_b)))  # own check-in, B's frame id


def check_admin_csv_import(w: World) -> None:
    url = reverse("admin:attendees_ticketholder_import_csv")
    page = w.staff_a.get(url)
    assert page.status_code == 200
    shows_nothing_of_b(page)
    csv = SimpleUploadedFile(
        "h.csv", f"name,email,ticket_code\n{MARK}-new,x@y.org,{MARK.upper()}-1\n".encode()
    )
    before = snapshot(w.holder_b)
    count = TicketHolder.objects.filter(event=w.event_b).count()
    response = w.staff_a.post(url, {"event": w.event_b.pk, "csv_file": csv})
    assert "event" in response.context["form"].errors
    assert TicketHolder.objects.filter(event=w.event_b).count() == count
    assert snapshot(w.holder_b) == before


def check_admin_event_dashboard(w: World) -> None:
    def url(event):
        return reverse("admin:events_event_dashboard", args=[event.pk])

    shows_b(w.staff_b.get(url(w.event_b)))
    own = w.staff_a.get(url(w.event_a))
    assert own.status_code == 200
    shows_nothing_of_b(own)
    refused(w.staff_a.get(url(w.event_b)))


def check_admin_holder_acts(w: World) -> None:
    """Revoke, unrevoke and issue-link buttons of a holder's page: B's holder stays as it was."""
    before = snapshot(w.holder_b)
    for what in ("revoke", "unrevoke", "link"):
        url = reverse("admin:attendees_ticketholder_act", args=[w.holder_b.pk, what])
        refused(w.staff_a.post(url))
        refused(w.staff_a.get(url))
    assert snapshot(w.holder_b) == before
    own = reverse("admin:attendees_ticketholder_act", args=[w.holder_a.pk, "link"])
    assert w.staff_a.post(own).status_code == 302


# --- the API ------------------------------------------------------------------------------


def _api_refuses(w: World, method: str, url: str, data=None, fmt="json") -> None:
    call = getattr(w.api_a, method)
    response = call(url) if data is None else call(url, data, format=fmt)
    assert response.status_code == 404, (method, url, response.status_code, response.content)
    assert response.json()["code"] == "not_found"
    shows_nothing_of_b(response)


def check_api_event_list(w: World) -> None:
    shows_b(w.api_b.get("/api/v1/events/"))
    response = w.api_a.get("/api/v1/events/?page_size=1000")
    assert response.status_code == 200 and response.json()["results"]
    shows_nothing_of_b(response)


def check_api_event_detail(w: World) -> None:
    url = f"/api/v1/events/{w.event_b.pk}/"
    shows_b(w.api_b.get(url))
    before = snapshot(w.event_b)
    _api_refuses(w, "get", url)
    _api_refuses(w, "patch", url, {"name": "pwned"})
    assert snapshot(w.event_b) == before


def check_api_event_action(action: str):
    def check(w: World) -> None:
        before = snapshot(w.event_b)
        _api_refuses(w, "post", f"/api/v1/events/{w.event_b.pk}/{action}/")
        assert snapshot(w.event_b) == before

    return check


def check_api_face(action: str):
    def check(w: World) -> None:
        url = f"/api/v1/events/{w.event_b.pk}/{action}/"
        data = {"image": jpeg_file(), "ticket_code": w.holder_b.ticket_code}
        _api_refuses(w, "post", url, data, fmt="multipart")

    return check


def _holder_urls(w: World, suffix: str = "") -> list[str]:
    """B's holder under B's event, and under A's event (a guessed id in a valid parent)."""
    return [
        f"/api/v1/events/{w.event_b.pk}/holders/{w.holder_b.pk}/{suffix}",
        f"/api/v1/events/{w.event_a.pk}/holders/{w.holder_b.pk}/{suffix}",
    ]


def check_api_holder_list(w: World) -> None:
    url = f"/api/v1/events/{w.event_b.pk}/holders/"
    shows_b(w.api_b.get(url))
    _api_refuses(w, "get", url)
    count = TicketHolder.objects.count()
    _api_refuses(w, "post", url, {"ticket_code": "X-9", "name": "pwned"})
    assert TicketHolder.objects.count() == count
    own = w.api_a.get(f"/api/v1/events/{w.event_a.pk}/holders/?search={MARK.upper()}")
    assert own.status_code == 200 and own.json()["count"] == 0


def check_api_holder_bulk(w: World) -> None:
    before = snapshot(w.holder_b)
    count = TicketHolder.objects.count()
    rows = [{"ticket_code": w.holder_b.ticket_code, "name": "pwned"}]
    _api_refuses(w, "post", f"/api/v1/events/{w.event_b.pk}/holders/bulk/", rows)
    assert TicketHolder.objects.count() == count and snapshot(w.holder_b) == before


def check_api_holder_detail(w: World) -> None:
    shows_b(w.api_b.get(_holder_urls(w)[0]))
    before = snapshot(w.holder_b)
    for url in _holder_urls(w):
        _api_refuses(w, "get", url)
        _api_refuses(w, "patch", url, {"name": "pwned"})
        _api_refuses(w, "delete", url)
    assert snapshot(w.holder_b) == before


def check_api_holder_action(suffix: str, method: str):
    def check(w: World) -> None:
        before = snapshot(w.holder_b)
        data = {"text_version": "2026-11"} if suffix == "consent/" else None
        for url in _holder_urls(w, suffix):
            _api_refuses(w, method, url, data)
        assert snapshot(w.holder_b) == before
        assert snapshot(w.photo_b)["status"] == EnrollmentPhoto.Status.ACCEPTED

    return check


def check_api_holder_photos(w: World) -> None:
    listed = w.api_b.get(_holder_urls(w, "photos/")[0]).json()["results"]
    assert [photo["id"] for photo in listed] == [w.photo_b.pk]
    count = EnrollmentPhoto.objects.count()
    for url in _holder_urls(w, "photos/"):
        _api_refuses(w, "get", url)
        _api_refuses(w, "post", url, {"image": jpeg_file()}, fmt="multipart")
    assert EnrollmentPhoto.objects.count() == count


def check_api_photo_detail(w: World) -> None:
    url = f"/api/v1/photos/{w.photo_b.pk}/"
    assert w.api_b.get(url).status_code == 200
    _api_refuses(w, "get", url)
    _api_refuses(w, "delete", url)
    snapshot(w.photo_b)


def check_api_checkin_list(w: World) -> None:
    shows_b(w.api_b.get("/api/v1/checkins/"))  # B's holder is named in B's log
    for query in ("", f"?event={w.event_b.pk}", f"?gate={w.gate_b.pk}"):
        response = w.api_a.get("/api/v1/checkins/" + query)
        assert response.status_code in (200, 400)
        shows_nothing_of_b(response)
        if response.status_code == 200 and query:
            assert response.json()["results"] == []
    count = CheckIn.objects.count()
    data = {"gate": w.gate_b.pk, "image": jpeg_file(), "ticket_code": w.holder_b.ticket_code}
    _api_refuses(w, "post", "/api/v1/checkins/", data, fmt="multipart")
    assert CheckIn.objects.count() == count


def check_api_checkin_challenge(w: World) -> None:
    own = w.api_b.post("/api/v1/checkins/challenge/", {"gate": w.gate_b.pk}, format="json")
    assert own.status_code == 200 and own.json()["challenge_token"]
    _api_refuses(w, "post", "/api/v1/checkins/challenge/", {"gate": w.gate_b.pk})


def check_api_checkin_detail(w: World) -> None:
    url = f"/api/v1/checkins/{w.checkin_b.pk}/"
    shows_b(w.api_b.get(url))
    _api_refuses(w, "get", url)


def check_api_gate_list(w: World) -> None:
    url = f"/api/v1/events/{w.event_b.pk}/gates/"
    shows_b(w.api_b.get(url))
    _api_refuses(w, "get", url)
    count = Gate.objects.count()
    _api_refuses(w, "post", url, {"name": "pwned", "mode": "face_only"})
    assert Gate.objects.count() == count


def check_api_gate_detail(w: World) -> None:
    url = f"/api/v1/events/{w.event_b.pk}/gates/{w.gate_b.pk}/"
    shows_b(w.api_b.get(url))
    _api_refuses(w, "get", url)
    _api_refuses(w, "get", f"/api/v1/events/{w.event_a.pk}/gates/{w.gate_b.pk}/")


def check_api_gate_switch(action: str):
    def check(w: World) -> None:
        before = snapshot(w.gate_b)
        for event in (w.event_b, w.event_a):
            url = f"/api/v1/events/{event.pk}/gates/{w.gate_b.pk}/{action}/"
            _api_refuses(w, "post", url, {"confirm_face_only": True})
        assert snapshot(w.gate_b) == before

    return check


def check_api_checkin_override(w: World) -> None:
    count = CheckIn.objects.count()
    url = f"/api/v1/checkins/{w.checkin_b.pk}/override/"
    _api_refuses(w, "post", url, {"decision": "deny", "reason": "pwned"})
    assert CheckIn.objects.count() == count


def check_api_not_found(w: World) -> None:
    for url in ("/api/v1/nothing/", f"/api/v1/events/{w.event_b.pk}/tickets/"):
        response = w.api_a.get(url)
        assert response.status_code == 404 and response.json()["code"] == "not_found"
        shows_nothing_of_b(response)


def check_no_tenant_data(url_name: str):
    """Pages about no organization's data (health, schema, docs, log-in)."""

    def check(w: World) -> None:
        url = reverse(url_name)
        for client in (w.staff_a, Client(), w.api_a):
            response = client.get(url)
            assert response.status_code in (200, 302, 403, 405), response.status_code
            shows_nothing_of_b(response)

    return check


def check_favicon(w: World) -> None:
    response = Client().get(reverse("favicon"))
    assert response.status_code == 301 and response["Location"].startswith("/static/")


def check_set_language(w: World) -> None:
    """The language switcher sets a cookie and goes back to a page of this site, never away."""
    for client in (w.staff_a, Client()):
        back = client.post(reverse("set_language"), {"language": "en", "next": "/register/"})
        assert back.status_code == 302 and back["Location"] == "/register/"
        away = client.post(
            reverse("set_language"), {"language": "en", "next": "https://evil.example/"}
        )
        assert away.status_code == 302 and away["Location"] == "/"
        shows_nothing_of_b(client.get(back["Location"]))


def check_password_reset_confirm(w: World) -> None:
    url = reverse("password_reset_confirm", args=["MQ", "bad-token"])
    response = Client().get(url, follow=True)
    assert response.status_code == 200
    shows_nothing_of_b(response)


# --- the gate pages ------------------------------------------------------------------------


def check_gate_list(w: World) -> None:
    shows_b(w.staff_b.get(reverse("gate-list")))
    response = w.staff_a.get(reverse("gate-list"))
    assert response.status_code == 200 and b"alpha-gate" in response.content
    shows_nothing_of_b(response)


def check_gate_page(w: World) -> None:
    shows_b(w.staff_b.get(reverse("gate-page", args=[w.gate_b.pk])))
    refused(w.staff_a.get(reverse("gate-page", args=[w.gate_b.pk])))


def check_gate_check(w: World) -> None:
    count = CheckIn.objects.count()
    url = reverse("gate-check", args=[w.gate_b.pk])
    data = {"frames": [jpeg_file()], "ticket_code": w.holder_b.ticket_code}
    refused(w.staff_a.post(url, data))
    assert CheckIn.objects.count() == count


def check_gate_challenge(w: World) -> None:
    own = w.staff_b.post(reverse("gate-challenge", args=[w.gate_b.pk]))
    assert own.status_code == 200 and own.json()["direction"] in ("left", "right")
    refused(w.staff_a.post(reverse("gate-challenge", args=[w.gate_b.pk])))


def check_gate_override(w: World) -> None:
    count = CheckIn.objects.count()
    data = {"decision": "deny", "reason": "pwned"}
    for gate, checkin in ((w.gate_b, w.checkin_b), (w.gate_a, w.checkin_b)):
        refused(w.staff_a.post(reverse("gate-override", args=[gate.pk, checkin.pk]), data))
    assert CheckIn.objects.count() == count


def check_gate_holder_photo(w: World) -> None:
    own = w.staff_a.get(reverse("gate-holder-photo", args=[w.gate_a.pk, w.photo_a.pk]))
    assert own.status_code == 200 and own["Content-Type"] == "image/jpeg"
    for gate in (w.gate_b, w.gate_a):
        refused(w.staff_a.get(reverse("gate-holder-photo", args=[gate.pk, w.photo_b.pk])))


def check_photo_thumbnail(w: World) -> None:
    url = reverse("photo-thumbnail", args=[w.photo_b.pk])
    assert w.staff_b.get(url).status_code == 200
    refused(w.staff_a.get(url))
    assert Client().get(url).status_code == 302  # to the log-in page


# --- the registration pages: the signed token is the holder's key -------------------------


def _token(holder) -> str:
    return registration_path(holder).rstrip("/").rsplit("/", 1)[-1]


def _reg(name: str, holder, **kwargs) -> str:
    return reverse(f"attendees:{name}", kwargs={"token": _token(holder), **kwargs})


def check_register_start(w: World) -> None:
    client = Client()
    mixed = {"ticket_code": w.holder_b.ticket_code, "email": w.holder_a.email}
    response = client.post(reverse("attendees:start"), mixed)
    assert response.status_code == 400
    shows_nothing_of_b(response)


def check_register_page(w: World) -> None:
    shows_b(Client().get(_reg("register", w.holder_b)))
    response = Client().get(_reg("register", w.holder_a))
    assert response.status_code == 200 and b"alpha-holder" in response.content
    shows_nothing_of_b(response)


def check_register_status(w: World) -> None:
    response = Client().get(_reg("status", w.holder_a), HTTP_ACCEPT="application/json")
    assert [p["id"] for p in response.json()["photos"]] == [w.photo_a.pk]


def check_register_posts_touch_only_the_links_holder(name: str, data: Callable[[], dict]):
    def check(w: World) -> None:
        before = (snapshot(w.holder_b), snapshot(w.photo_b))
        Client().post(_reg(name, w.holder_a), data())
        assert (snapshot(w.holder_b), snapshot(w.photo_b)) == before

    return check


def check_register_photo_thumbnail(w: World) -> None:
    own = Client().get(_reg("photo-thumbnail", w.holder_a, photo_id=w.photo_a.pk))
    assert own.status_code == 200
    refused(Client().get(_reg("photo-thumbnail", w.holder_a, photo_id=w.photo_b.pk)))


def check_register_photo_delete(w: World) -> None:
    refused(Client().post(_reg("photo-delete", w.holder_a, photo_id=w.photo_b.pk)))
    snapshot(w.photo_b)


def check_register_data_export(w: World) -> None:
    shows_b(Client().get(_reg("data-export", w.holder_b)))
    response = Client().get(_reg("data-export", w.holder_a))
    assert response.status_code == 200 and json.loads(content_of(response))
    shows_nothing_of_b(response)


def check_healthz(w: World) -> None:
    response = Client().get("/healthz")
    assert response.status_code in (200, 503)
    shows_nothing_of_b(response)


# --- the table ----------------------------------------------------------------------------

CHECKS: dict[str, Callable[[World], None]] = {
    **admin_checks(),
    "healthz": check_healthz,
    "admin:index": check_admin_index,
    "admin:app_list": check_admin_index,
    "admin:login": check_no_tenant_data("admin:login"),
    "admin:logout": check_no_tenant_data("admin:logout"),  # own session only
    "admin:password_change": check_no_tenant_data("admin:password_change"),  # own password
    "admin:password_change_done": check_no_tenant_data("admin:password_change_done"),
    "admin:jsi18n": check_no_tenant_data("admin:jsi18n"),
    "admin:autocomplete": check_admin_autocomplete,
    "admin:view_on_site": check_admin_view_on_site,
    "route:admin/(?P<url>.*)$": check_admin_catch_all,
    "admin:auth_user_password_change": check_admin_user_password,
    "admin:events_checkin_frame": check_admin_checkin_frame,
    "admin:attendees_ticketholder_import_csv": check_admin_csv_import,
    "admin:events_event_dashboard": check_admin_event_dashboard,
    "admin:attendees_ticketholder_act": check_admin_holder_acts,
    "home": check_no_tenant_data("home"),
    "api:event-list": check_api_event_list,
    "api:event-detail": check_api_event_detail,
    "api:event-close": check_api_event_action("close"),
    "api:event-open-gates": check_api_event_action("open-gates"),
    "api:face-identify": check_api_face("identify"),
    "api:face-verify": check_api_face("verify"),
    "api:holder-list": check_api_holder_list,
    "api:holder-bulk": check_api_holder_bulk,
    "api:holder-detail": check_api_holder_detail,
    "api:holder-biometrics": check_api_holder_action("biometrics/", "delete"),
    "api:holder-consent": check_api_holder_action("consent/", "post"),
    "api:holder-export": check_api_holder_action("export/", "get"),
    "api:holder-registration-link": check_api_holder_action("registration-link/", "post"),
    "api:holder-photo-list": check_api_holder_photos,
    "api:photo-detail": check_api_photo_detail,
    "api:checkin-list": check_api_checkin_list,
    "api:checkin-detail": check_api_checkin_detail,
    "api:checkin-challenge": check_api_checkin_challenge,
    "api:checkin-override": check_api_checkin_override,
    "api:gate-list": check_api_gate_list,
    "api:gate-detail": check_api_gate_detail,
    "api:gate-activate": check_api_gate_switch("activate"),
    "api:gate-deactivate": check_api_gate_switch("deactivate"),
    "route:api/v1/^[\\s\\S]*$": check_api_not_found,
    "api-schema": check_no_tenant_data("api-schema"),
    "api-docs": check_no_tenant_data("api-docs"),
    "photo-thumbnail": check_photo_thumbnail,
    "favicon": check_favicon,
    "set_language": check_set_language,
    # django.contrib.auth's pages act on the logged-in user or an e-mail's owner only.
    "login": check_no_tenant_data("login"),
    "logout": check_no_tenant_data("logout"),
    "password_change": check_no_tenant_data("password_change"),
    "password_change_done": check_no_tenant_data("password_change_done"),
    "password_reset": check_no_tenant_data("password_reset"),
    "password_reset_done": check_no_tenant_data("password_reset_done"),
    "password_reset_confirm": check_password_reset_confirm,
    "password_reset_complete": check_no_tenant_data("password_reset_complete"),
    "gate-list": check_gate_list,
    "gate-page": check_gate_page,
    "gate-check": check_gate_check,
    "gate-override": check_gate_override,
    "gate-challenge": check_gate_challenge,
    "gate-holder-photo": check_gate_holder_photo,
    "attendees:start": check_register_start,
    "attendees:register": check_register_page,
    "attendees:status": check_register_status,
    "attendees:consent": check_register_posts_touch_only_the_links_holder(
        "consent",
        lambda: {"agree": "on", "text_version": settings.FACEPASS_CONSENT_TEXT_VERSION},
    ),
    "attendees:photo-upload": check_register_posts_touch_only_the_links_holder(
        "photo-upload", lambda: {"photo": jpeg_file()}
    ),
    "attendees:photo-thumbnail": check_register_photo_thumbnail,
    "attendees:photo-delete": check_register_photo_delete,
    "attendees:biometrics-delete": check_register_posts_touch_only_the_links_holder(
        "biometrics-delete", dict
    ),
    "attendees:data-export": check_register_data_export,
}


def test_every_url_pattern_has_an_isolation_check():
    patterns = url_patterns()
    missing = sorted(set(patterns) - set(CHECKS))
    assert not missing, (
        "These URL patterns have no tenant-isolation check: "
        + ", ".join(f"{name} ({patterns[name]})" for name in missing)
        + ". Add an entry to CHECKS in tests/test_tenant_isolation.py showing that staff or an "
        "API key of organization A can neither read nor change organization B's data there "
        "(or that the URL shows no organization's data)."
    )
    stale = sorted(set(CHECKS) - set(patterns))
    assert not stale, f"CHECKS has entries for URL patterns that no longer exist: {stale}"


def test_every_model_in_the_admin_has_an_object_of_organization_b():
    labels = {model._meta.label for model in admin.site._registry}
    missing = labels - set(ADMIN_OBJECTS) | labels - set(ADMIN_ADD_FOREIGN_KEY)
    assert not missing, (
        f"Add {sorted(missing)} to ADMIN_OBJECTS (B's object) and ADMIN_ADD_FOREIGN_KEY in "
        "tests/test_tenant_isolation.py."
    )


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_organization_a_cannot_reach_organization_b_through(name, world):
    CHECKS[name](world)
