"""Scale-out: two enrollment worker processes on one queue share the work, and no photo is
processed twice (docs/deployment.md, "Adding worker hosts").

Which worker did what comes from Celery's own task events (hostname and return value of every
finished task), switched on at run time with the `enable_events` remote-control command: no
test-only code in the workers, no extra fields on the photo.
"""

import ast
import threading
import time
import uuid

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


PAIRS = 8
CROSS_BATCH_SIZE = 3


def database_deadlocks() -> int:
    """PostgreSQL's count of deadlocks detected in this test database (all sessions)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_two_workers_flag_each_cross_batch_duplicate_pair_once_without_deadlock(
    transactional_db, event_a, default_model
):
    """The mass-upload pattern that deadlocked: the same face on two tickets, the twins
    uploaded far apart (A0..A7, then B7..B0) so that they land in different batches of
    different workers, which used to lock the two holders in opposite orders."""
    prefix = f"dup-{uuid.uuid4().hex[:6]}"
    names = [f"{prefix}-a", f"{prefix}-b"]
    deadlocks_before = database_deadlocks()
    workers = [
        start_worker("recognition", name, FACEPASS_ENROLL_BATCH_SIZE=str(CROSS_BATCH_SIZE))
        for name in names
    ]
    try:
        for name in names:
            wait_for_worker_heartbeat(name)
        hostnames = [w["hostname"] for w in live_workers() if w["hostname"].startswith(prefix)]
        with TaskEvents() as events:
            events.wait(lambda: set(hostnames) <= events.seen, 30, "worker heartbeat events")
            app.control.enable_events(destination=hostnames, reply=True, timeout=10)
            holders = {}
            order = [("A", i) for i in range(PAIRS)] + [("B", i) for i in reversed(range(PAIRS))]
            for side, index in order:
                holder = consenting_holder(event_a, f"{side}{index}", f"Twin {side}{index}")
                enrollment_photo_create(holder=holder, image_bytes=val_photo(index))
                holders[side, index] = holder
            waiting = EnrollmentPhoto.objects.filter(status__in=["pending", "processing"])
            deadline = time.monotonic() + 240
            while waiting.exists():
                assert time.monotonic() < deadline, "photos still waiting after 240 s"
                time.sleep(0.3)
            events.wait(lambda: len(events.succeeded) >= 2 * PAIRS, 30, "every task's result")
    finally:
        for proc in workers:
            stop_worker(proc)  # a stopped backend has flushed its statistics

    assert events.failed == []
    assert database_deadlocks() == deadlocks_before
    photos = EnrollmentPhoto.objects.filter(holder__event=event_a)
    assert sorted(photos.values_list("attempts", flat=True)) == [1] * (2 * PAIRS)  # no retry
    accepted = set(photos.filter(status="accepted").values_list("holder__ticket_code", flat=True))
    pairs = [i for i in range(PAIRS) if {f"A{i}", f"B{i}"} <= accepted]
    assert len(pairs) >= PAIRS - 2  # a validation photo may fail a quality gate
    flagged = sum(ast.literal_eval(e["result"])["flagged"] for e in events.succeeded)
    assert flagged == len(pairs)  # each pair once, though both its batches may see it
    for index in pairs:
        first, second = (TicketHolder.objects.get(pk=holders[s, index].pk) for s in "AB")
        assert first.needs_review and f"(B{index})" in first.review_note
        assert second.needs_review and f"(A{index})" in second.review_note
    unpaired = TicketHolder.objects.filter(event=event_a).exclude(
        ticket_code__in=[f"{s}{i}" for i in pairs for s in "AB"]
    )
    assert not unpaired.filter(needs_review=True).exists()
