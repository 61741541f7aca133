"""Scale-out: two enrollment worker processes on one queue share the work, and no photo is
processed twice (docs/deployment.md, "Adding worker hosts").

Which worker did what comes from Celery's own task events (hostname and return value of every
finished task), switched on at run time with the `enable_events` remote-control command: no
test-only code in the workers, no extra fields on the photo.
"""

import ast
import re
import threading
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from attendees.models import EnrollmentPhoto, TicketHolder
from common.workers import live_workers
from enrollment.workflow import enrollment_photo_create
from facepass_site.celery import app
from recognition.models import FaceEmbedding
from tests.conftest import start_worker, stop_worker, wait_for_worker_heartbeat
from tests.faces import consenting_holder, val_photo

pytestmark = [pytest.mark.worker, pytest.mark.slow]

PHOTOS = 12
BATCH_SIZE = 2


class TaskEvents:
    """Celery events received in a background thread: worker heartbeats and finished tasks."""

    def __init__(self):
        self.succeeded: list[dict] = []
        self.failed: list[dict] = []
        self.seen: set[str] = set()
        self.lock = threading.Lock()
        self.receiver = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _on(self, kind):
        def handler(event):
            with self.lock:
                self.seen.add(event["hostname"])
                if kind is not None:
                    kind.append(event)

        return handler

    def _run(self):
        with app.connection() as connection:
            self.receiver = app.events.Receiver(
                connection,
                handlers={
                    "worker-heartbeat": self._on(None),
                    "task-succeeded": self._on(self.succeeded),
                    "task-failed": self._on(self.failed),
                },
            )
            self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.receiver is not None:
            self.receiver.should_stop = True
        self.thread.join(timeout=10)

    def wait(self, condition, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{what} within {timeout}s")


def test_two_workers_on_one_queue_share_the_photos_and_process_each_once(
    transactional_db, event_a, default_model
):
    prefix = f"share-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-a", f"{prefix}-b"]
    workers = [
        start_worker("recognition", name, FACEPASS_ENROLL_BATCH_SIZE=str(BATCH_SIZE))
        for name in names
    ]
    try:
        for name in names:
            wait_for_worker_heartbeat(name)
        hostnames = sorted(
            w["hostname"] for w in live_workers() if w["hostname"].startswith(prefix)
        )
        assert len(hostnames) == 2
        with TaskEvents() as events:
            # Both workers' heartbeat events arrive: the receiver is subscribed.
            events.wait(lambda: set(hostnames) <= events.seen, 30, "worker heartbeat events")
            replies = app.control.enable_events(destination=hostnames, reply=True, timeout=10)
            assert {host for reply in replies for host in reply} == set(hostnames)

            photos = []
            for index in range(PHOTOS):
                holder = consenting_holder(event_a, f"SHARE-{index}", f"Sharer {index}")
                # The real upload service: stored privately, one task queued on commit.
                photos.append(enrollment_photo_create(holder=holder, image_bytes=val_photo(index)))

            ids = [p.pk for p in photos]
            deadline = time.monotonic() + 180
            waiting = EnrollmentPhoto.objects.filter(
                pk__in=ids, status__in=["pending", "processing"]
            )
            while waiting.exists():
                assert time.monotonic() < deadline, "photos still waiting after 180 s"
                time.sleep(0.3)
            # One task per upload; each answers how many photos its batch processed.
            events.wait(lambda: len(events.succeeded) >= PHOTOS, 30, "a result for every task")
    finally:
        for proc in workers:
            stop_worker(proc)

    assert events.failed == []
    processed_by: dict[str, int] = dict.fromkeys(hostnames, 0)
    tasks_by: dict[str, int] = dict.fromkeys(hostnames, 0)
    for event in events.succeeded:
        result = ast.literal_eval(event["result"])
        processed_by[event["hostname"]] += result["processed"]
        tasks_by[event["hostname"]] += 1
    assert sum(tasks_by.values()) == PHOTOS
    # The work was shared: each worker process ran batches that processed photos ...
    assert all(count > 0 for count in processed_by.values()), processed_by
    # ... and together exactly as many photos as were uploaded: none twice.
    assert sum(processed_by.values()) == PHOTOS, processed_by

    rows = EnrollmentPhoto.objects.filter(pk__in=ids)
    assert sorted(rows.values_list("attempts", flat=True)) == [1] * PHOTOS
    accepted = set(rows.filter(status="accepted").values_list("pk", flat=True))
    assert len(accepted) >= PHOTOS - 2  # a validation photo may fail a quality gate
    per_photo = {pk: 0 for pk in ids}
    for photo_id in FaceEmbedding.objects.filter(photo_id__in=ids).values_list(
        "photo_id", flat=True
    ):
        per_photo[photo_id] += 1
    assert {pk: n for pk, n in per_photo.items() if pk in accepted} == dict.fromkeys(accepted, 1)
    assert all(per_photo[pk] == 0 for pk in set(ids) - accepted)


FACES = 8
DUPLICATE_LINE = re.compile(r"possible duplicate person: holders (\d+) and (\d+)")


def database_deadlocks() -> int:
    """PostgreSQL's count of deadlocks detected in this test database (all sessions)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def upload_faces(event, side: str, indexes) -> dict[int, int]:
    """One holder per face index, its photo through the upload service; holder id -> face."""
    faces = {}
    for index in indexes:
        holder = consenting_holder(event, f"{side}{index}", f"Twin {side}{index}")
        enrollment_photo_create(holder=holder, image_bytes=val_photo(index))
        faces[holder.pk] = index
    return faces


def wait_until_processed(timeout: float) -> None:
    waiting = EnrollmentPhoto.objects.filter(status__in=["pending", "processing"])
    deadline = time.monotonic() + timeout
    while waiting.exists():
        assert time.monotonic() < deadline, f"photos still waiting after {timeout:.0f} s"
        time.sleep(0.3)


def test_two_workers_flag_duplicate_faces_crossing_their_batches_once_without_deadlock(
    transactional_db, event_a, default_model, tmp_path
):
    """The mass-upload pattern that deadlocked: the same face on several tickets. Faces 0-7
    are enrolled once (C0..C7); then each worker gets one batch of the same faces, one in
    order (X0..X7), the other reversed (Y7..Y0), both released at once, so the two batches
    meet the enrolled holders in opposite orders."""
    prefix = f"dup-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-a", f"{prefix}-b"]
    logs = [(tmp_path / f"{name}.log").open("wb") for name in names]
    deadlocks_before = database_deadlocks()
    workers = [
        start_worker("recognition", name, stderr=log, FACEPASS_ENROLL_BATCH_SIZE=str(FACES))
        for name, log in zip(names, logs, strict=True)
    ]
    try:
        for name in names:
            wait_for_worker_heartbeat(name)
        hostnames = [w["hostname"] for w in live_workers() if w["hostname"].startswith(prefix)]
        with TaskEvents() as events:
            events.wait(lambda: set(hostnames) <= events.seen, 30, "worker heartbeat events")
            app.control.enable_events(destination=hostnames, reply=True, timeout=10)
            face_of = upload_faces(event_a, "C", range(FACES))
            wait_until_processed(240)
            replies = app.control.cancel_consumer(
                "recognition", destination=hostnames, reply=True, timeout=10
            )
            assert len(replies) == 2
            face_of |= upload_faces(event_a, "X", range(FACES))
            face_of |= upload_faces(event_a, "Y", reversed(range(FACES)))
            app.control.add_consumer("recognition", destination=hostnames, reply=True, timeout=10)
            wait_until_processed(240)
            events.wait(lambda: len(events.succeeded) >= 3 * FACES, 30, "every task's result")
    finally:
        for proc in workers:
            stop_worker(proc)  # a stopped backend has flushed its statistics
        for log in logs:
            log.close()

    assert events.failed == []
    assert database_deadlocks() == deadlocks_before
    photos = EnrollmentPhoto.objects.filter(holder__event=event_a)
    assert sorted(photos.values_list("attempts", flat=True)) == [1] * (3 * FACES)  # no retry
    accepted = set(photos.filter(status="accepted").values_list("holder_id", flat=True))
    codes = dict(TicketHolder.objects.values_list("pk", "ticket_code"))
    assert len(accepted) >= 3 * (FACES - 2)  # a validation photo may fail a quality gate
    logged = [
        tuple(sorted(map(int, m.groups())))
        for log in logs
        for m in DUPLICATE_LINE.finditer(Path(log.name).read_text())
    ]
    flagged = sum(ast.literal_eval(e["result"])["flagged"] for e in events.succeeded)
    assert flagged == len(logged) == len(set(logged))  # each pair once
    assert all(face_of[a] == face_of[b] for a, b in logged)  # a pair shares one face
    # Every accepted copy (X, Y) of a face with another accepted holder is in a flagged pair.
    copies = [pk for pk in accepted if codes[pk][0] in "XY"]
    shared = [pk for pk in copies if sum(face_of[o] == face_of[pk] for o in accepted) >= 2]
    in_pairs = {pk for pair in logged for pk in pair}
    assert set(shared) <= in_pairs
    flagged_holders = TicketHolder.objects.filter(event=event_a, needs_review=True)
    assert set(flagged_holders.values_list("pk", flat=True)) == in_pairs
