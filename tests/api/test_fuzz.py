"""A short schemathesis run against the API, in-process (the WSGI app, real PostgreSQL and
Redis): every operation of /api/schema/ with generated valid and invalid input, with a valid
key of a seeded organization. No 5xx, and every documented response matches the schema.
`make fuzz` runs the long version against a live server (scripts/fuzz.sh)."""

import os

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.services import api_key_create
from attendees.models import EnrollmentPhoto
from events.models import CheckIn
from events.services import organization_create
from tests.conftest import make_event
from tests.faces import consenting_holder, stored_photo, val_photo
from tests.test_rate_limits import clear_rate_limits

MAX_EXAMPLES = int(os.environ.get("FACEPASS_FUZZ_EXAMPLES", "12"))


@schemathesis.check
def no_server_error_but_no_face_worker(ctx, response, case):
    """No 5xx, except the documented 503 `unavailable` of the face endpoints: this run has no
    face model and no worker, and the generated multipart bodies hold real (tiny) PNG files
    that pass the upload checks and reach the face stage."""
    if response.status_code == 503 and response.json().get("code") == "unavailable":
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error_but_no_face_worker,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

seeded: dict = {}


@pytest.fixture
def api_schema(transactional_db):
    """The schema served by the app itself, and a seeded organization to act as."""
    # The WSGI handler would close the test's connection after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    clear_rate_limits()
    org = organization_create(name="Fuzz Org", slug="fuzz")
    event = make_event(org, "Fuzz Fest")
    gate = event.gates.create(name="Fuzz gate", mode="ticket_face")
    holder = consenting_holder(event, "FZ-1", "Fuzzy Holder")
    photo = stored_photo(holder, val_photo(6, 0))
    EnrollmentPhoto.objects.filter(pk=photo.pk).update(status="accepted")
    checkin = CheckIn.objects.create(
        event=event, gate=gate, attendee=holder, decision="deny", mode=gate.mode
    )
    _, plaintext = api_key_create(organization=org, name="fuzz")
    seeded.update(
        key=plaintext, event=event.pk, holder=holder.pk, photo=photo.pk, checkin=checkin.pk
    )
    schema = schemathesis.openapi.from_wsgi("/api/schema/", WSGIHandler())
    # Deterministic in the suite (the same examples every run, no .hypothesis/ directory);
    # FACEPASS_FUZZ_RANDOM=1 explores, `make fuzz` runs the long version.
    schema.config.generation.update(
        max_examples=MAX_EXAMPLES,
        database="none",
        deterministic=os.environ.get("FACEPASS_FUZZ_RANDOM") != "1",
    )
    yield schema
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


schema = schemathesis.pytest.from_fixture("api_schema")


def _aim_at_seeded_rows(case) -> None:
    """Even ids generated for path parameters become the seeded rows' ids, so the fuzzer
    reaches real objects as well as missing ones."""
    params = case.path_parameters or {}
    for name, value in params.items():
        if not isinstance(value, int) or value % 2:
            continue
        if name == "event_id":
            params[name] = seeded["event"]
        elif name == "holder_id":
            params[name] = seeded["holder"]
        elif name == "id":
            path = case.operation.path
            kind = (
                "checkin"
                if path.startswith("/api/v1/checkins/")
                else "photo"
                if path.startswith("/api/v1/photos/")
                else "holder"
                if "/holders/{id}" in path
                else "event"
            )
            params[name] = seeded[kind]


@schema.parametrize()
def test_the_api_answers_generated_requests_without_5xx_and_as_documented(case):
    _aim_at_seeded_rows(case)
    case.call_and_validate(headers={"Authorization": f"Bearer {seeded['key']}"}, checks=CHECKS)
