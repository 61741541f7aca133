"""Gate decision latency: JPEG 640x480 in, decision out, server side, both gate modes.

Builds a throw-away event with --holders enrolled ticket holders, starts a real Celery worker on
the `gate` queue (as in production: the web process never loads a model), then POSTs camera
frames to the gate check endpoint through Django's request handler (middleware, auth, view,
worker round trip, pgvector search, check-in row) and times each request. Network time between
a browser and the server is not included; everything the server does is.

Who is in the gallery:
- --genuine validation identities are enrolled with the real embedding of their first photo;
  their other photos are the queries (letterboxed to 640x480 JPEG), so admits are real matches.
- The other holders are synthetic: real embeddings of --gallery-source faces (identities disjoint
  from the queries), each given its own random direction (jitter) so that no two holders are the
  same person. JITTER is chosen so two jittered copies of one face are about as similar as two
  different people are for a face model, which keeps the gallery's structure realistic (a crowd
  of plausible faces) rather than uniform noise.
The event allows re-entry, so every request runs the full decision instead of stopping at
"already checked in".

    DEBUG=1 .venv/bin/python benchmarks/gate_latency.py --holders 10000 --requests 200 \\
        --out benchmarks/results/gate_latency.json
"""

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facepass_site.settings")
SHARED = Path(os.environ.get("FACEPASS_SHARED_DIR", ROOT.parent / "shared"))
DEV = SHARED / "datasets" / "celeba-dev"
JITTER = 0.35  # std of the per-holder offset, relative to the unit embedding's length


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--holders", type=int, default=10_000, help="holders in the event")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per mode")
    parser.add_argument("--genuine", type=int, default=40, help="real enrolled identities")
    parser.add_argument("--queries", type=Path, default=DEV / "val")
    parser.add_argument("--gallery-source", type=Path, default=DEV / "train")
    parser.add_argument("--gallery-images", type=int, default=600)
    parser.add_argument("--frames", type=int, default=1, help="frames per request (fused)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="write the JSON result here too")
    return parser.parse_args(argv)


def identity_images(folder: Path) -> dict[str, list[Path]]:
    return {
        d.name: sorted(p for p in d.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        for d in sorted(folder.iterdir())
        if d.is_dir()
    }


def camera_jpeg(path: Path) -> bytes:
    """The photo letterboxed into a 640x480 frame, as a gate camera would send it."""
    import cv2

    image = cv2.imread(str(path))
    scale = min(640 / image.shape[1], 480 / image.shape[0])
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    frame = np.zeros((480, 640, 3), np.uint8)
    top, left = (480 - resized.shape[0]) // 2, (640 - resized.shape[1]) // 2
    frame[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
    return cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def real_embeddings(model, paths: list[Path]) -> np.ndarray:
    """Embeddings by the model under test, cached: dlib-resnet takes ~80 ms a face."""
    from django.conf import settings

    from recognition import inference

    key = hashlib.sha256(json.dumps([model.label, [str(p) for p in paths]]).encode()).hexdigest()
    cache = Path(settings.BASE_DIR) / "var" / "bench_cache" / f"embeddings-{key[:16]}.npy"
    if cache.is_file():
        return np.load(cache)
    rows = []
    for path in paths:
        result = inference.embed_largest_face(model, path.read_bytes())
        rows.append(result.embedding if result.accepted else np.full(model.dimensions, np.nan))
    vectors = np.asarray(rows, np.float32)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, vectors)
    return vectors


def synthetic_gallery(base: np.ndarray, count: int, rng) -> np.ndarray:
    base = base[~np.isnan(base).any(axis=1)]
    picks = base[rng.integers(0, len(base), count)]
    noise = rng.normal(size=picks.shape).astype(np.float32) * JITTER / np.sqrt(picks.shape[1])
    vectors = picks + noise
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def make_event(staff_password: str):
    from django.utils import timezone

    from events.models import Event, Gate, Membership
    from events.services import event_create, gate_create, organization_create, staff_user_create

    slug = f"bench-{uuid.uuid4().hex[:8]}"
    org = organization_create(name=f"Gate benchmark {slug}", slug=slug)
    now = timezone.now()
    event = event_create(
        organization=org,
        name="Gate benchmark",
        slug="gate-benchmark",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=5),
        status=Event.Status.GATES_OPEN,
        entry_policy=Event.EntryPolicy.RE_ENTRY,
    )
    gates = {
        "face_only": gate_create(event=event, name="Face lane", mode=Gate.Mode.FACE_ONLY),
        "ticket_and_face": gate_create(event=event, name="Ticket lane"),
    }
    staff = staff_user_create(
        organization=org, username=slug, password=staff_password, role=Membership.Role.GATE_STAFF
    )
    return org, event, gates, staff


def enroll(event, model, vectors: np.ndarray, prefix: str) -> list:
    """Holders with one accepted photo row (no file) and its embedding, in bulk."""
    from django.utils import timezone

    from attendees.models import EnrollmentPhoto, TicketHolder
    from recognition.models import FaceEmbedding

    now = timezone.now()
    holders = TicketHolder.objects.bulk_create(
        [
            TicketHolder(
                event=event,
                ticket_code=f"{prefix}{i}",
                name=f"{prefix} holder {i}",
                consent_at=now,
                consent_text_version="bench",
                status=TicketHolder.Status.ENROLLED,
            )
            for i in range(len(vectors))
        ],
        batch_size=2000,
    )
    photos = EnrollmentPhoto.objects.bulk_create(
        [EnrollmentPhoto(holder=h, status="accepted", processed_at=now) for h in holders],
        batch_size=2000,
    )
    FaceEmbedding.objects.bulk_create(
        [
            FaceEmbedding(photo=p, model=model, event=event, holder=h, vector=v)
            for p, h, v in zip(photos, holders, vectors, strict=True)
        ],
        batch_size=2000,
    )
    return holders


def start_gate_worker() -> subprocess.Popen:
    from facepass_site.health import live_workers

    name = f"bench-gate-{uuid.uuid4().hex[:6]}"
    cmd = [sys.executable, "-m", "celery", "-A", "facepass_site", "worker", "-Q", "gate"]
    cmd += ["-c", "1", "-n", f"{name}@%h", "--loglevel", "WARNING", "--without-gossip"]
    proc = subprocess.Popen(cmd, cwd=ROOT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if any(w["hostname"].startswith(name) for w in live_workers()):
            return proc
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("the gate worker did not start")


def timed_requests(client, gate, queries, count: int, frames: int) -> dict:
    url = f"/gate/{gate.pk}/check"
    latencies, decisions, statuses = [], {}, {}
    for index in range(count + 5):
        ticket, jpeg = queries[index % len(queries)]
        data = {"frames": [_upload(jpeg, n) for n in range(frames)]}
        if gate.mode == gate.Mode.TICKET_AND_FACE:
            data["ticket_code"] = ticket
        started = time.perf_counter()
        response = client.post(url, data)
        elapsed = (time.perf_counter() - started) * 1000
        if index < 5:
            continue  # warm-up: connections, first TensorFlow/dlib call in the worker
        latencies.append(elapsed)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        decision = response.json().get("decision", response.json().get("code"))
        decisions[decision] = decisions.get(decision, 0) + 1
    values = np.asarray(latencies)
    return {
        "requests": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "p99_ms": round(float(np.percentile(values, 99)), 1),
        "mean_ms": round(float(values.mean()), 1),
        "decisions": decisions,
        "http_status": statuses,
    }


def _upload(jpeg: bytes, index: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(f"frame{index}.jpg", jpeg, content_type="image/jpeg")


def build_gallery(args, event, model, rng):
    """Enrolled genuine identities and synthetic holders; returns (ticket, jpeg) queries."""
    identities = [(n, p) for n, p in identity_images(args.queries).items() if len(p) >= 2]
    genuine = identities[: args.genuine]
    first_photos = [paths[0] for _, paths in genuine]
    enrolled_vectors = real_embeddings(model, first_photos)
    ok = ~np.isnan(enrolled_vectors).any(axis=1)
    holders = enroll(event, model, enrolled_vectors[ok], "G")
    kept = [g for g, keep in zip(genuine, ok, strict=True) if keep]
    source = [p for paths in identity_images(args.gallery_source).values() for p in paths]
    sample = sorted(rng.choice(len(source), min(args.gallery_images, len(source)), False))
    base = real_embeddings(model, [source[i] for i in sample])
    synthetic = max(args.holders - len(holders), 0)
    enroll(event, model, synthetic_gallery(base, synthetic, rng), "S")
    queries = [
        (holder.ticket_code, camera_jpeg(path))
        for holder, (_, paths) in zip(holders, kept, strict=True)
        for path in paths[1:3]
    ]
    return queries, len(holders), synthetic


def run(args) -> dict:
    from django.test import Client

    from recognition.selectors import active_model

    model = active_model()
    rng = np.random.default_rng(args.seed)
    password = uuid.uuid4().hex
    org, event, gates, staff = make_event(password)
    worker = None
    try:
        queries, genuine, synthetic = build_gallery(args, event, model, rng)
        worker = start_gate_worker()
        client = Client(HTTP_HOST="127.0.0.1")  # in the default ALLOWED_HOSTS
        client.force_login(staff)
        modes = {
            mode: timed_requests(client, gate, queries, args.requests, args.frames)
            for mode, gate in gates.items()
        }
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=30)
        cleanup(org)
    return {
        "benchmark": "gate_latency",
        "model": model.label,
        "embedder": model.kind,
        "holders_in_event": genuine + synthetic,
        "genuine_identities": genuine,
        "synthetic_holders": synthetic,
        "frames_per_request": args.frames,
        "modes": modes,
    }


def cleanup(org) -> None:
    """The check-in log is protected against deletion in the product; benchmark rows go."""
    from events.models import CheckIn

    CheckIn.objects.filter(event__organization=org, overrides__isnull=False).delete()
    CheckIn.objects.filter(event__organization=org).delete()
    org.delete()


def machine() -> dict:
    return {"cpu_count": os.cpu_count(), "platform": platform.platform()}


def main(argv=None):
    args = parse_args(argv)
    import django

    django.setup()
    report = {**run(args), "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
