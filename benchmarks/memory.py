"""Resident memory of the web process and of a recognition worker with its model loaded.

On the benchmark database (benchmarks/stack.py):
- web: gunicorn as in production (`-k gthread -w 2 --threads 4`) with a gate worker behind it;
  after --rounds rounds of requests over HTTP touching every part of the web process (health
  check, login, gate list/page/check at both lanes, organizer admin pages, API: events, holders,
  photo upload, check-in, OpenAPI schema; registration page), the RSS of each gunicorn worker
  process. The web process must never load TensorFlow or dlib: their native libraries must not
  be mapped in it (/proc/<pid>/maps), else the run fails.
- recognition worker, per model (the default beside its baselines): `celery worker -Q recognition
  -c 1`, after it enrolled --photos photos; the RSS of its pool process (the one that loaded the
  model and ran the batches) and of the parent (the worker's main process, no model).
- the gate worker of the web run (default model), after it embedded the gate frames.
RSS is what `ps` shows (shared pages counted in each process); PSS splits shared pages among the
processes that share them (a forked pool process shares its parent's), so the sum of PSS is
what the worker really occupies. Targets: web <= 250 MB, worker with model <= 1.5 GB.

    nice -n 5 .venv/bin/python benchmarks/memory.py
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import stack  # noqa: E402

WEB_TARGET_MB = 250
WORKER_TARGET_MB = 1536


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of web requests")
    parser.add_argument("--photos", type=int, default=32, help="photos per recognition worker")
    parser.add_argument("--models", help="comma-separated specs (default: default + baselines)")
    parser.add_argument("--out", type=Path, help="JSON result (default results/memory.json)")
    return parser.parse_args(argv)


def process_row(role: str, pid: int, target: float | None, **extra) -> dict:
    rss = stack.rss_mb(pid)
    return {
        "process": role,
        "pid": pid,
        "rss_mb": rss,
        "pss_mb": stack.pss_mb(pid),
        "target_mb": target,
        "within_target": None if target is None or rss is None else rss <= target,
        "loaded": stack.heavy_libraries(pid),
        **extra,
    }


def login(base: str, username: str, password: str):
    from benchmarks.concurrency import GateClient

    return GateClient(base, username, password)


def web_traffic(base: str, rounds: int) -> dict:
    """Requests through every part of the web process; returns status counts per path."""
    import requests
    from django.conf import settings

    from api.services import api_key_create
    from attendees.services import ticket_holder_create, ticket_holder_record_consent
    from events.models import Membership
    from events.services import staff_user_create

    org = stack.organization("memory-web")
    event, gates, staff, password = stack.gate_event(org)
    organizer_password = "bench-" + password
    organizer = staff_user_create(
        organization=org,
        username=f"{org.slug}-organizer",
        password=organizer_password,
        role=Membership.Role.ORGANIZER,
    )
    holder = ticket_holder_create(event=event, ticket_code="MEM-1", name="Memory holder")
    ticket_holder_record_consent(holder=holder, text_version=settings.FACEPASS_CONSENT_TEXT_VERSION)
    _, api_key = api_key_create(organization=org, name="memory benchmark")
    frames = [p.read_bytes() for p in sorted((stack.DEV / "val").rglob("*.jpg"))[:4]]
    statuses: dict[str, dict[int, int]] = {}

    def note(label: str, response) -> None:
        counts = statuses.setdefault(label, {})
        counts[response.status_code] = counts.get(response.status_code, 0) + 1

    try:
        for _ in range(rounds):
            anonymous = requests.Session()
            note("GET /healthz", anonymous.get(f"{base}/healthz", timeout=30))
            note("GET /register/", anonymous.get(f"{base}/register/", timeout=30))
            gate_staff = login(base, staff.username, password)
            note("GET /gate/", gate_staff.session.get(f"{base}/gate/", timeout=30))
            for mode, gate in gates.items():
                note("GET /gate/<id>/", gate_staff.session.get(f"{base}/gate/{gate.pk}/"))
                for frame in frames:
                    ticket = "MEM-1" if mode == "ticket_and_face" else None
                    note(f"POST /gate/<id>/check {mode}", gate_staff.check(gate.pk, frame, ticket))
            admin = login(base, organizer.username, organizer_password).session
            for path in ("/admin/", "/admin/attendees/ticketholder/", "/admin/events/checkin/"):
                note(f"GET {path}", admin.get(base + path, timeout=60))
            api = requests.Session()
            api.headers["Authorization"] = f"Bearer {api_key}"
            v1 = f"{base}/api/v1"
            note("GET /api/v1/events/", api.get(f"{v1}/events/", timeout=30))
            note("GET holders", api.get(f"{v1}/events/{event.pk}/holders/", timeout=30))
            note(
                "POST photo",
                api.post(
                    f"{v1}/events/{event.pk}/holders/{holder.pk}/photos/",
                    files={"image": ("selfie.jpg", frames[0], "image/jpeg")},
                    timeout=30,
                ),
            )
            note(
                "POST /api/v1/checkins/",
                api.post(
                    f"{v1}/checkins/",
                    data={"gate": gates["ticket_and_face"].pk, "ticket_code": "MEM-1"},
                    files={"image": ("frame.jpg", frames[1], "image/jpeg")},
                    timeout=30,
                ),
            )
            note("GET /api/schema/", api.get(f"{base}/api/schema/", timeout=60))
    finally:
        stack.org_delete(org)
    return {label: dict(sorted(c.items())) for label, c in statuses.items()}


def measure_web(procs: stack.Processes, rounds: int) -> tuple[list[dict], dict]:
    from recognition.selectors import active_model

    gunicorn, base = procs.gunicorn(workers=2, threads=4)
    gate_worker = procs.celery_worker("gate")
    stack.wait_for_workers([gate_worker])
    statuses = web_traffic(base, rounds)
    time.sleep(1)  # let the last responses leave
    rows = [
        process_row("web: gunicorn worker", pid, WEB_TARGET_MB)
        for pid in stack.children(gunicorn.pid)
    ]
    rows.append(process_row("web: gunicorn master", gunicorn.pid, None))
    model = active_model()  # the default: main() activates it before the web run
    for pid in stack.children(gate_worker.pid):
        rows.append(process_row("gate worker: pool process", pid, WORKER_TARGET_MB, **_m(model)))
    rows.append(process_row("gate worker: main process", gate_worker.pid, None, **_m(model)))
    procs.stop(gate_worker)
    procs.stop(gunicorn)
    heavy = [r for r in rows if r["process"].startswith("web") and any(r["loaded"].values())]
    if heavy:
        raise SystemExit(f"the web process loaded TensorFlow or dlib: {heavy}")
    return rows, statuses


def _m(model) -> dict:
    return {"model": model.label, "embedder": model.kind, "is_default": True}


def measure_worker(procs: stack.Processes, spec: str, photos: int) -> list[dict]:
    from benchmarks.bulk_enrollment import drain, upload

    model, info = stack.activate(spec)
    worker = procs.celery_worker("recognition")
    try:
        stack.wait_for_workers([worker])
        org, event, holders = stack.consenting_event("memory-worker", photos)
        try:
            paths = stack.dataset_images(("val",))[:photos]
            upload(holders, [p.read_bytes() for p in paths])
            drain(event, photos, timeout=600)
        finally:
            stack.org_delete(org)
        extra = {
            "model": info["model"],
            "embedder": info["embedder"],
            "is_default": info["is_default"],
            "speed_only": info["speed_only"],
            "photos_processed": photos,
        }
        rows = [
            process_row("recognition worker: pool process", pid, WORKER_TARGET_MB, **extra)
            for pid in stack.children(worker.pid)
        ]
        rows.append(process_row("recognition worker: main process", worker.pid, None, **extra))
    finally:
        procs.stop(worker)
    return rows


def main(argv=None):
    args = parse_args(argv)
    stack.setup()
    specs = args.models.split(",") if args.models else stack.compared_specs()
    with stack.Processes() as procs:
        stack.activate("default")
        web_rows, statuses = measure_web(procs, args.rounds)
        worker_rows = [row for spec in specs for row in measure_worker(procs, spec, args.photos)]
    report = {
        "benchmark": "memory",
        "targets_mb": {"web": WEB_TARGET_MB, "worker_with_model": WORKER_TARGET_MB},
        "web_requests": statuses,
        "processes": web_rows + worker_rows,
    }
    stack.write_result("memory", report, args.out)
    for row in report["processes"]:
        loaded = ",".join(k for k, v in row["loaded"].items() if v) or "-"
        print(
            f"{row['process']:<36} {row.get('model', ''):<52} RSS {row['rss_mb']:>7} MB  "
            f"PSS {row['pss_mb']:>7} MB  loaded: {loaded}"
        )


if __name__ == "__main__":
    main()
