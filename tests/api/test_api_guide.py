"""The guide served at the top of /api/docs/ (api/guide.md, api/webhooks.md): its code runs
as printed, against the real API and the real webhook signatures."""

import re
import time

import pytest

from api.docs_guide import HERE
from api.services import api_key_create
from attendees.models import TicketHolder
from events.models import Event
from events.services import organization_create
from webhooks.signing import signature_header


def python_blocks(name: str) -> list[str]:
    text = (HERE / name).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_the_schema_served_to_swagger_ui_starts_with_the_guide(client):
    schema = client.get("/api/schema/?format=json").json()
    description = schema["info"]["description"]
    for heading in ("## Getting started", "### A Python client", "## Webhooks"):
        assert heading in description
    assert "/admin/api/apikey/add/" in description and "X-FacePass-Signature" in description
    scheme = schema["components"]["securitySchemes"]["ApiKeyAuth"]
    assert "`fp_<prefix>_<secret>`" in scheme["description"]


def test_the_python_client_of_the_guide_sets_up_an_event_against_the_real_api(live_server):
    org = organization_create(name="Guide Org", slug="guide")
    _, key = api_key_create(organization=org, name="guide")
    setup, _gate_part = python_blocks("guide.md")[0].split("# Later, at the gate")
    setup = setup.replace('"https://facepass.example.com/api/v1"', f'"{live_server.url}/api/v1"')
    printed = []
    namespace = {"FACEPASS_KEY": key, "print": lambda *a: printed.append(a)}
    exec(setup, namespace)  # noqa: S102
    namespace["session"].close()  # no kept-alive connection to the live server's thread
    event = Event.objects.get(organization=org)
    assert event.gates.get().name == "North"
    holder = TicketHolder.objects.get(event=event)
    assert holder.ticket_code == "RVF-2026-000481"
    assert printed[0][0] == "Send this to Ana:" and "/register/" in printed[0][1]


@pytest.fixture
def verify():
    (code,) = python_blocks("webhooks.md")
    namespace: dict = {}
    exec(code, namespace)  # noqa: S102
    return namespace["facepass_signature_ok"]


def test_the_signature_check_of_the_webhooks_page_accepts_what_facepass_signs(verify):
    secret, body = "whsec-test", b'{"id":"6f1c","type":"checkin.created","data":{}}'
    now = str(int(time.time()))
    header = signature_header(secret, now, body)
    assert verify(secret, now, body, header)
    assert verify(secret, now, body, f"v1=00ff, {header}")  # during a secret change
    assert not verify(secret, now, body + b" ", header)
    assert not verify("another secret", now, body, header)
    old = str(int(time.time()) - 3600)
    assert not verify(secret, old, body, signature_header(secret, old, body))


def test_the_guides_numbers_are_the_servers_defaults():
    from django.conf import settings

    from api.services import BULK_MAX_ROWS

    guide = " ".join((HERE / "guide.md").read_text(encoding="utf-8").split())
    assert f"up to {BULK_MAX_ROWS:,} per" in guide
    hooks = " ".join((HERE / "webhooks.md").read_text(encoding="utf-8").split())
    assert f"within {settings.FACEPASS_WEBHOOK_TIMEOUT_SECONDS:g} seconds" in hooks
    base = settings.FACEPASS_WEBHOOK_BACKOFF_SECONDS
    assert f"retried after {base:g} s, then {2 * base:g} s" in hooks
    assert settings.FACEPASS_WEBHOOK_MAX_ATTEMPTS == 6 and "six attempts" in hooks
