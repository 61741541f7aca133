import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.utils import timezone, translation

from enrollment.workflow import enrollment_process
from events.models import Event, Gate, Membership
from events.services import event_create, gate_create, organization_create, staff_user_create
from recognition.models import EmbeddingModel
from tests.faces import consenting_holder, stored_photo, val_photo

REPO_ROOT = Path(__file__).resolve().parent.parent
# Test modules read English, also in texts they compute at import (reason_text(...) constants):
# the site's default language is Spanish. Tests of Spanish pages ask for it (Accept-Language).
translation.activate("en")


@pytest.fixture(scope="session", autouse=True)
def _clean_test_redis():
    """Tests use their own Redis database; stale heartbeats or tasks from a killed run go."""
    from common.workers import redis_client

    redis_client().flushdb()


@pytest.fixture(autouse=True)
def _english_by_default(settings):
    """Tests read English unless they ask otherwise: the site's default language is Spanish,
    so a request without Accept-Language would render Spanish. Tests of the Spanish pages send
    Accept-Language or set settings.LANGUAGE_CODE themselves (tests/test_translations.py)."""
    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def org_a(db):
    return organization_create(name="Alpha Arenas", slug="alpha")


@pytest.fixture
def org_b(db):
    return organization_create(name="Beta Concerts", slug="beta")


def make_event(org, name="Final", **fields):
    now = timezone.now()
    defaults = {
        "slug": name.lower().replace(" ", "-"),
        "starts_at": now - timedelta(hours=1),
        "ends_at": now + timedelta(hours=5),
        "status": Event.Status.GATES_OPEN,
    }
    defaults.update(fields)
    return event_create(organization=org, name=name, **defaults)


@pytest.fixture
def event_a(org_a):
    event = make_event(org_a, "Alpha Cup Final")
    gate_create(event=event, name="North", mode=Gate.Mode.TICKET_AND_FACE)
    gate_create(event=event, name="Face lane", mode=Gate.Mode.FACE_ONLY)
    return event


@pytest.fixture
def event_b(org_b):
    event = make_event(org_b, "Beta Tour Night")
    gate_create(event=event, name="Main", mode=Gate.Mode.TICKET_AND_FACE)
    return event


@pytest.fixture
def organizer_a(org_a):
    return staff_user_create(
        organization=org_a,
        username="alice",
        password="pw-alice-123",
        role=Membership.Role.ORGANIZER,
    )


@pytest.fixture
def organizer_b(org_b):
    return staff_user_create(
        organization=org_b, username="bob", password="pw-bob-123", role=Membership.Role.ORGANIZER
    )


@pytest.fixture
def client_a(client, organizer_a):
    client.force_login(organizer_a)
    return client


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    db = connection.settings_dict
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}:{db['PASSWORD'] or ''}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    env["FACEPASS_PRIVATE_MEDIA_ROOT"] = str(settings.FACEPASS_PRIVATE_MEDIA_ROOT)
    env["MEDIA_ROOT"] = str(settings.MEDIA_ROOT)
    return env


def start_worker(queues: str, name: str | None = None, stderr=None, **env) -> subprocess.Popen:
    """A `celery worker -c 1` process; `stderr` (a file) collects its log when given."""
    name = name or f"test-{uuid.uuid4().hex[:8]}"
    cmd = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "facepass_site",
        "worker",
        "-Q",
        queues,
        "-c",
        "1",
        "-n",
        f"{name}@%h",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
    ]
    return subprocess.Popen(cmd, cwd=REPO_ROOT, env={**_worker_env(), **env}, stderr=stderr)


def wait_for_worker_heartbeat(name_prefix: str, timeout: float = 90.0) -> None:
    from common.workers import live_workers

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(w["hostname"].startswith(name_prefix) for w in live_workers()):
            return
        time.sleep(0.3)
    raise TimeoutError(f"worker {name_prefix} did not report within {timeout}s")


def stop_worker(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def celery_worker_process(transactional_db):
    """A real Celery worker on every queue, sharing this test's database and media."""
    name = f"test-{uuid.uuid4().hex[:8]}"
    proc = start_worker("gate,recognition,default", name)
    try:
        wait_for_worker_heartbeat(name)
        yield proc
    finally:
        stop_worker(proc)


@pytest.fixture
def default_model(db):
    call_command("ensure_default_model")
    return EmbeddingModel.objects.get(is_active=True)


@pytest.fixture
def enrolled(event_a, default_model):
    """Holder 'Eve' enrolled from the first photo of a validation identity."""
    holder = consenting_holder(event_a, "E-1", "Eve Enrolled")
    photo = stored_photo(holder, val_photo(6, 0))
    enrollment_process(photo_ids=[photo.pk])
    photo.refresh_from_db()
    assert photo.status == "accepted"
    holder.refresh_from_db()
    return holder
