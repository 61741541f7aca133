"""Where a worker batch's time goes: the stage milliseconds each enrollment task reports
(enrollment.workflow.BATCH_STAGES), collected from real workers through Celery's task events.

The workers' events are switched on at run time (the `enable_events` remote-control command),
so the profile comes from the very processes and batches the throughput figure measures.
"""

from __future__ import annotations

import ast
import threading
import time


class TaskResults:
    """Results of the enroll tasks that succeed while it runs, received in a thread."""

    def __init__(self, destinations: list[str]):
        self.destinations = destinations
        self.results: list[dict] = []
        self.failed = 0
        self.retried = 0
        self.lock = threading.Lock()
        self.receiver = None
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from facepass_site.celery import app

        def succeeded(event):
            result = ast.literal_eval(event.get("result") or "None")
            if isinstance(result, dict):
                with self.lock:
                    self.results.append(result)

        def count(kind):
            def handler(_event):
                with self.lock:
                    setattr(self, kind, getattr(self, kind) + 1)

            return handler

        with app.connection() as connection:
            self.receiver = app.events.Receiver(
                connection,
                handlers={
                    "task-succeeded": succeeded,
                    "task-failed": count("failed"),
                    "task-retried": count("retried"),
                },
            )
            self.ready.set()
            self.receiver.capture(limit=None, timeout=None, wakeup=False)

    def __enter__(self) -> TaskResults:
        from facepass_site.celery import app

        self.thread.start()
        self.ready.wait(10)
        time.sleep(0.5)  # the receiver's queue is bound once capture() starts consuming
        app.control.enable_events(destination=self.destinations, reply=True, timeout=10)
        return self

    def __exit__(self, *exc) -> None:
        from facepass_site.celery import app

        app.control.disable_events(destination=self.destinations, reply=True, timeout=10)
        if self.receiver is not None:
            self.receiver.should_stop = True
        self.thread.join(timeout=10)

    def wait_for(self, photos: int, timeout: float = 30) -> None:
        """Events trail the database: wait until the results cover `photos` photos."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.processed() < photos:
            time.sleep(0.2)

    def processed(self) -> int:
        with self.lock:
            return sum(r.get("processed", 0) for r in self.results)


def summarise(results: list[dict], *, seconds: float, processes: int) -> dict:
    """Milliseconds per photo per stage, summed over the batches of every worker process, beside
    the wall time per photo per process; what no stage covers is the task's own overhead
    (message pick-up, acknowledgement, result back) and waiting for the CPU."""
    batches = [r for r in results if r.get("processed")]
    photos = sum(r["processed"] for r in batches)
    if not photos:
        return {}
    totals: dict[str, float] = {}
    for result in batches:
        for stage, ms in result.get("stage_ms", {}).items():
            totals[stage] = totals.get(stage, 0.0) + ms
    per_photo = {stage: round(ms / photos, 2) for stage, ms in totals.items()}
    wall = seconds * 1000.0 * processes / photos
    accounted = sum(per_photo.values())
    return {
        "batches": len(batches),
        "photos": photos,
        "mean_batch_size": round(photos / len(batches), 1),
        "ms_per_photo_by_stage": per_photo,
        "ms_per_photo_in_stages": round(accounted, 2),
        "ms_per_photo_wall_per_process": round(wall, 2),
        "ms_per_photo_outside_stages": round(wall - accounted, 2),
        "flagged_pairs": sum(r.get("flagged", 0) for r in batches),
    }


def table(profile: dict) -> str:
    """The profile as text lines, largest stage first."""
    stages = sorted(profile["ms_per_photo_by_stage"].items(), key=lambda kv: -kv[1])
    wall = profile["ms_per_photo_wall_per_process"]
    lines = [f"  {stage:<16} {ms:7.2f} ms/photo  {100 * ms / wall:5.1f}%" for stage, ms in stages]
    lines.append(f"  {'(outside)':<16} {profile['ms_per_photo_outside_stages']:7.2f} ms/photo")
    lines.append(f"  {'wall/process':<16} {wall:7.2f} ms/photo")
    return "\n".join(lines)
