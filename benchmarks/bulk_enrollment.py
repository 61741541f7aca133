"""Bulk enrollment: N photos queued through the real upload service, drained by 1, then 2 workers.

On the benchmark database (benchmarks/stack.py), with 2 worker processes on the `recognition`
queue (`celery worker -Q recognition -c 1` each, as production runs them; the same processes
serve every model in turn), per model (the default beside its baselines):
1. The model is activated and each worker is warmed up alone (the others stop consuming,
   through Celery's remote control) with one batch of photos, so that loading the model is
   start-up cost, not throughput.
2. Every worker stops consuming; --photos real photos (../shared celeba-dev val, then train,
   repeated when more are asked for) are uploaded through
   attendees.services.enrollment_photo_create for as many consenting ticket holders of a fresh
   event: stored privately, one `enroll_photo` task each queued on commit, exactly as the
   registration page and the API do.
3. One worker consumes again. The database is polled: the clock runs from the first claim (a
   photo leaves `pending`) to the last `processed_at`, so photos/s includes the tasks' own
   batching (a task claims its photo plus up to FACEPASS_ENROLL_BATCH_SIZE - 1 waiting ones),
   the quality gates, the embedding, the pgvector writes and the duplicate-face check.
4. Steps 2-3 again with both workers consuming.
Reported: photos/s, photos/s per process, scaling efficiency (rate with 2 / (2 x rate with 1)),
outcomes, photos claimed more than once and PostgreSQL deadlocks during the run (both must be 0),
and a per-stage profile of the batches (benchmarks/batch_profile.py: milliseconds per photo in
claim, file read, decode, detect, quality, align, embed, result write, duplicate check, index
refresh, as every task reported them). Worker memory: benchmarks/memory.py.

    nice -n 5 .venv/bin/python benchmarks/bulk_enrollment.py --photos 10000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import batch_profile, stack  # noqa: E402

TARGET_PER_PROCESS = 40.0  # photos/s, default model, batching included (the target)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000, help="photos queued per run")
    parser.add_argument("--workers", default="1,2", help="worker process counts, in order")
    parser.add_argument("--batch-size", type=int, help="FACEPASS_ENROLL_BATCH_SIZE of workers")
    parser.add_argument("--models", help="comma-separated specs (default: default + baselines)")
    parser.add_argument(
        "--photo-side",
        type=int,
        help="enlarge each photo to this many pixels on its longer side first (phone-sized "
        "selfies: a phone's are 4000, the dataset's about 320)",
    )
    parser.add_argument("--out", type=Path, help="JSON result file")
    return parser.parse_args(argv)


def upload(holders, images: list[bytes]) -> float:
    """One photo per holder through the real upload service; returns the seconds it took."""
    from enrollment.workflow import enrollment_photo_create

    started = time.perf_counter()
    for index, holder in enumerate(holders):
        enrollment_photo_create(holder=holder, image_bytes=images[index % len(images)])
    return time.perf_counter() - started


def drain(event, count: int, timeout: float) -> dict:
    """Poll until no photo of the event is pending or processing; first claim to last result."""
    from django.db.models import Count, Max

    from attendees.models import EnrollmentPhoto

    photos = EnrollmentPhoto.objects.filter(holder__event=event)
    deadline = time.monotonic() + timeout
    first_claim = None
    while time.monotonic() < deadline:
        now = time.time()
        by_status = dict(photos.values_list("status").annotate(n=Count("id")))
        waiting = by_status.get("pending", 0)
        if first_claim is None and waiting < count:
            first_claim = now
        if waiting + by_status.get("processing", 0) == 0:
            break
        time.sleep(0.1)
    else:
        raise SystemExit(f"photos still waiting after {timeout:.0f}s: {by_status}")
    last = photos.aggregate(last=Max("processed_at"))["last"].timestamp()
    seconds = max(last - first_claim, 1e-3)
    return {"seconds": round(seconds, 2), "photos_per_second": round(count / seconds, 2)}


def outcomes(event) -> dict:
    from django.db.models import Count, Q

    from attendees.models import EnrollmentPhoto, TicketHolder
    from recognition.models import FaceEmbedding

    photos = EnrollmentPhoto.objects.filter(holder__event=event)
    rejected = dict(
        photos.filter(status="rejected")
        .values_list("rejection_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    per_photo = FaceEmbedding.objects.filter(event=event).values("photo").annotate(n=Count("id"))
    return {
        "accepted": photos.filter(status="accepted").count(),
        "rejected": rejected,
        "claimed_more_than_once": photos.filter(attempts__gt=1).count(),
        "photos_with_several_embeddings": per_photo.filter(n__gt=1).count(),
        "holders_flagged_duplicate": TicketHolder.objects.filter(
            Q(event=event) & Q(needs_review=True)
        ).count(),
    }


def database_deadlocks() -> int:
    """Deadlocks PostgreSQL detected in the benchmark database so far (all sessions)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def warm(worker, workers, images, batch_size: int) -> float:
    """Only `worker` consumes while one batch goes through it (model load, first call)."""
    stack.consumers([w for w in workers if w is not worker], "recognition", on=False)
    stack.consumers([worker], "recognition", on=True)
    org, event, holders = stack.consenting_event("bulk-warmup", batch_size)
    started = time.perf_counter()
    try:
        upload(holders, images)
        drain(event, len(holders), timeout=600)
    finally:
        stack.org_delete(org)
    return round(time.perf_counter() - started, 1)


def run_model(args, spec: str, images: list[bytes], workers, batch_size: int) -> dict:
    _, info = stack.activate(spec)
    warm_seconds = {w.worker_name: warm(w, workers, images, batch_size) for w in workers}
    print(f"[bulk] {info['model']}: workers warm {warm_seconds}", file=sys.stderr)
    runs = []
    for count in [int(n) for n in args.workers.split(",")]:
        active = workers[:count]
        stack.consumers(workers, "recognition", on=False)
        org, event, holders = stack.consenting_event("bulk", args.photos)
        try:
            queued = upload(holders, images)
            deadlocks = database_deadlocks()
            with batch_profile.TaskResults(stack.worker_destinations(active)) as tasks:
                stack.consumers(active, "recognition", on=True)
                timing = drain(event, args.photos, timeout=args.photos / 2 + 600)
                tasks.wait_for(args.photos)
            result = outcomes(event)
            # Backends flush their statistics within a second of going idle.
            time.sleep(1.5)
            result["deadlocks"] = database_deadlocks() - deadlocks
            result["tasks_failed"], result["tasks_retried"] = tasks.failed, tasks.retried
        finally:
            stack.org_delete(org)
        profile = batch_profile.summarise(tasks.results, seconds=timing["seconds"], processes=count)
        if profile:
            print(f"[bulk] profile, {count} process(es):\n{batch_profile.table(profile)}")
        run = {
            "worker_processes": count,
            "photos": args.photos,
            **timing,
            "photos_per_second_per_process": round(timing["photos_per_second"] / count, 2),
            "queue_seconds": round(queued, 1),
            "queued_per_second": round(args.photos / queued, 1),
            **result,
            "profile": profile,
        }
        print(
            f"[bulk] {info['model']}: {args.photos} photos queued in {queued:.1f}s, "
            f"{count} worker process(es): {run['photos_per_second']} photos/s",
            file=sys.stderr,
        )
        runs.append(run)
    by_count = {r["worker_processes"]: r["photos_per_second"] for r in runs}
    scaling = None
    if 1 in by_count and 2 in by_count:
        scaling = round(by_count[2] / (2 * by_count[1]), 2)
    return {
        **info,
        "batch_size": batch_size,
        "warmup_seconds": warm_seconds,
        "runs": runs,
        "scaling_efficiency_2_vs_1": scaling,
        "target_per_process": TARGET_PER_PROCESS,
    }


def enlarged(jpeg: bytes, side: int) -> bytes:
    """The photo as a phone would store it: `side` pixels on the longer side, JPEG quality 90."""
    import cv2
    import numpy as np

    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    height, width = image.shape[:2]
    scale = side / max(height, width)
    size = (round(width * scale), round(height * scale))
    large = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
    return cv2.imencode(".jpg", large, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def main(argv=None):
    args = parse_args(argv)
    stack.setup()
    specs = args.models.split(",") if args.models else stack.compared_specs()
    paths = stack.dataset_images()
    images = [p.read_bytes() for p in paths[: min(len(paths), args.photos)]]
    if args.photo_side:
        images = [enlarged(image, args.photo_side) for image in images]
    from django.conf import settings

    batch_size = args.batch_size or settings.FACEPASS_ENROLL_BATCH_SIZE
    env = {"FACEPASS_ENROLL_BATCH_SIZE": str(batch_size)}
    processes = max(int(n) for n in args.workers.split(","))
    with stack.Processes() as procs:
        # The same worker processes serve every model in turn (each loads the active one).
        workers = [procs.celery_worker("recognition", env=env) for _ in range(processes)]
        stack.wait_for_workers(workers)
        models = [run_model(args, spec, images, workers, batch_size) for spec in specs]
    report = {
        "benchmark": "bulk_enrollment",
        "photos": args.photos,
        "source": "celeba-dev val then train, one photo per consenting holder",
        "photo_side": args.photo_side,
        "workers": "`celery worker -Q recognition -c 1` per process",
        "models": models,
    }
    stack.write_result("bulk_enrollment", report, args.out)
    for entry in models:
        rates = ", ".join(
            f"{r['worker_processes']}w {r['photos_per_second']}/s" for r in entry["runs"]
        )
        print(f"{entry['model']:<55} {rates}  scaling {entry['scaling_efficiency_2_vs_1']}")


if __name__ == "__main__":
    main()
