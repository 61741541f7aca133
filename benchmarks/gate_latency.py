"""Gate decision latency: JPEG 640x480 in, decision out, server side, both gate modes.

Builds a throw-away event with --holders enrolled ticket holders, starts a real Celery worker on
the `gate` queue (as in production: the web process never loads a model), then POSTs camera
frames to the gate check endpoint through Django's request handler (middleware, auth, view,
worker round trip, pgvector search, check-in row) and times each request. Network time between
a browser and the server is not included; everything the server does is.

Who is in the gallery:
- --genuine validation identities are enrolled with the real embedding of their first photo;
  their other photos are the queries (letterboxed to 640x480 JPEG), so admits are real matches.
- The other holders are synthetic, one photo each (benchmarks/gallery.py FaceSpace): real
  embeddings of --gallery-images --gallery-source faces (identities disjoint from the queries)
  plus an identity offset and photo noise drawn from those faces' own between- and
  within-identity covariances, scaled so that synthetic genuine / impostor pairs have the mean
  similarities of the sample's real pairs: a crowd of plausible, distinct faces rather than
  uniform noise. Rows go in with COPY (gallery.insert_gallery).
The event allows re-entry, so every request runs the full decision instead of stopping at
"already checked in". The compared modes (ticket + face, face-only from the copy in memory,
face-only through PostgreSQL's HNSW index) take turns in 5 rounds, so that a machine whose speed
drifts (shared cores) weighs on each alike and the ratios compare like with like.

    DEBUG=1 .venv/bin/python benchmarks/gate_latency.py --holders 10000 --requests 200 \\
        --out benchmarks/results/gate_latency.json
"""

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "facepass_site.settings")

from benchmarks import gallery, gate_profile, stack  # noqa: E402

DEV = gallery.DEV


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
    parser.add_argument(
        "--recall-probes",
        type=int,
        default=3000,
        help="real photos (--queries, then --gallery-source) whose HNSW top-1 is checked "
        "against exact search (0: no check)",
    )
    parser.add_argument(
        "--recall-ef",
        type=lambda text: [int(v) for v in text.split(",")],
        default=[200, 800, 1000],
        help="hnsw.ef_search values of the recall check (pgvector allows 1-1000)",
    )
    parser.add_argument("--out", type=Path, help="write the JSON result here too")
    return parser.parse_args(argv)


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


def enroll(event, model, vectors: np.ndarray, prefix: str, rng=None) -> np.ndarray:
    """Holders with one accepted photo row (no file) and its embedding, by COPY; their ids."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        return gallery.insert_gallery(
            cursor,
            event_ids=[event.pk] * len(vectors),
            model_id=model.pk,
            vectors=vectors,
            owners=np.arange(len(vectors)),
            prefix=prefix,
        )


def start_gate_worker() -> subprocess.Popen:
    from common.workers import live_workers

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


WARM_UP_REQUESTS = 5  # connections, the first model call in the worker, the gallery's load
ROUNDS = 5  # the compared modes take turns, so a machine slowing down weighs on each alike


def timed_requests(client, gate, queries, count: int, frames: int) -> dict:
    """`count` timed requests at one gate, after warm-up ones."""
    return summarise_requests(request_times(client, gate, queries, count, frames))


def timed_rounds(client, lanes: list, queries, count: int, frames: int) -> dict:
    """`count` timed requests in each lane (mode, gate, settings to run it under), in ROUNDS
    turns, lane after lane: the ratios between modes are taken over the same minutes."""
    samples: dict[str, dict] = {}
    for round_index in range(ROUNDS):
        share = count // ROUNDS + (round_index < count % ROUNDS)
        for mode, gate, under in lanes:
            warm_up = WARM_UP_REQUESTS if round_index == 0 else 0
            with under:
                found = request_times(client, gate, queries, share, frames, warm_up, round_index)
            into = samples.setdefault(mode, {k: [] for k in found})
            for key, values in found.items():
                into[key].extend(values)
    return {mode: summarise_requests(found) for mode, found in samples.items()}


def request_times(client, gate, queries, count, frames, warm_up=WARM_UP_REQUESTS, offset=0):
    url = f"/gate/{gate.pk}/check"
    found: dict[str, list] = {"latencies": [], "decisions": [], "statuses": [], "stages": []}
    clock = gate_profile.StageClock()
    for index in range(count + warm_up):
        ticket, jpeg = queries[(index + offset * count) % len(queries)]
        data = {"frames": [_upload(jpeg, n) for n in range(frames)]}
        if gate.mode == gate.Mode.TICKET_AND_FACE:
            data["ticket_code"] = ticket
        warming = index < warm_up
        with clock, clock.request([] if warming else found["stages"]):
            started = time.perf_counter()
            response = client.post(url, data)
            elapsed = (time.perf_counter() - started) * 1000
        if warming:
            continue
        found["latencies"].append(elapsed)
        found["statuses"].append(response.status_code)
        found["decisions"].append(response.json().get("decision", response.json().get("code")))
    return found


def summarise_requests(found: dict) -> dict:
    values = np.asarray(found["latencies"])
    return {
        "requests": len(values),
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
        "p99_ms": round(float(np.percentile(values, 99)), 1),
        "mean_ms": round(float(values.mean()), 1),
        "decisions": dict(Counter(found["decisions"])),
        "http_status": dict(Counter(found["statuses"])),
        "profile": gate_profile.summarise(found["stages"]),
    }


def _upload(jpeg: bytes, index: int):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(f"frame{index}.jpg", jpeg, content_type="image/jpeg")


def search_recall(event, model, probe_paths: list[Path], ef_values: list[int]) -> dict:
    """recall@1 of the event's HNSW index against exact search on the same real-face probes.

    The gate's own question: does the index return the holder exact search would? Probes are
    real photos (enrolled identities' other photos and faces not enrolled), embedded by the model
    under test; a tie in similarity (1e-5) counts as the same answer.
    """
    from django.test import override_settings

    from checkins.gate import SEARCH_LIMIT
    from recognition.selectors import gate_nearest_holders, nearest_holders

    vectors = gallery.real_embeddings(model, probe_paths)
    vectors = vectors[~np.isnan(vectors).any(axis=1)]
    truth = [
        nearest_holders(event=event, model=model, vector=v, limit=1, exact=True)[0] for v in vectors
    ]
    by_ef = {}
    for ef in ef_values:
        with override_settings(FACEPASS_HNSW_EF_SEARCH=ef):
            found = [
                nearest_holders(event=event, model=model, vector=v, limit=SEARCH_LIMIT, exact=False)
                for v in vectors
            ]
        by_ef[str(ef)] = recall_against(found, truth)
        print(f"[gate_latency] recall ef_search {ef}: {by_ef[str(ef)]}", file=sys.stderr)
    # The copy in memory face-only gates search (recognition.gallery): exact by construction.
    found = gate_nearest_holders(
        event_id=event.pk, model=model, vectors=vectors, limit=SEARCH_LIMIT
    )
    by_ef["memory"] = recall_against(found, truth)
    print(f"[gate_latency] recall in memory: {by_ef['memory']}", file=sys.stderr)
    return by_ef


def recall_against(found: list, truth: list) -> dict:
    """Each probe's search result (holders, best first) against exact search's top holder."""
    misses = not_candidates = 0
    for matches, expected in zip(found, truth, strict=True):
        same = matches and (
            matches[0].holder_id == expected.holder_id
            or abs(matches[0].similarity - expected.similarity) < 1e-5
        )
        misses += not same
        # The gate re-scores its SEARCH_LIMIT candidates on their templates: what it needs is
        # exact search's holder among them.
        not_candidates += expected.holder_id not in {m.holder_id for m in matches}
    return {
        "probes": len(truth),
        "misses": misses,
        "recall_at_1": round(1 - misses / len(truth), 5),
        "missing_from_gate_candidates": not_candidates,
    }


def build_gallery(args, event, model, rng):
    """Enrolled genuine identities and synthetic holders; returns (ticket, jpeg) queries."""
    identities = [(n, p) for n, p in gallery.identity_images(args.queries).items() if len(p) >= 2]
    genuine = identities[: args.genuine]
    first_photos = [paths[0] for _, paths in genuine]
    enrolled_vectors = gallery.real_embeddings(model, first_photos)
    ok = ~np.isnan(enrolled_vectors).any(axis=1)
    holder_ids = enroll(event, model, enrolled_vectors[ok], "G")
    kept = [g for g, keep in zip(genuine, ok, strict=True) if keep]
    source = [
        (name, p)
        for name, paths in gallery.identity_images(args.gallery_source).items()
        for p in paths
    ]
    sample = sorted(rng.choice(len(source), min(args.gallery_images, len(source)), False))
    base = gallery.real_embeddings(model, [source[i][1] for i in sample])
    labels = np.asarray([source[i][0] for i in sample])
    found = ~np.isnan(base).any(axis=1)
    base, labels = gallery.normalise(base[found]), labels[found]
    space = gallery.calibrate(base, labels, base, labels, seed=args.seed)
    synthetic = max(args.holders - len(holder_ids), 0)
    enroll(event, model, space.photos(space.identities(synthetic, rng), rng), "S")
    queries = [
        (f"G{holder_id}", camera_jpeg(path))
        for holder_id, (_, paths) in zip(holder_ids.tolist(), kept, strict=True)
        for path in paths[1:3]
    ]
    return queries, len(holder_ids), synthetic, space


def gallery_load(event, model) -> dict:
    """How the face-only lanes search (recognition.gallery decides: in memory up to its limit,
    else PostgreSQL), and what the first face-only decision of an event in a web process pays
    to load its copy."""
    from recognition.gallery import GALLERIES, gallery_search

    GALLERIES.clear()
    started = time.perf_counter()
    found = gallery_search(event_id=event.pk, model_id=model.pk, probes=np.ones((1, 128)), limit=1)
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    return {"face_only": "postgresql" if found is None else "memory", "memory_load_ms": elapsed}


def run(args) -> dict:
    from django.conf import settings
    from django.test import Client, override_settings

    from recognition.selectors import active_model

    model = active_model()
    rng = np.random.default_rng(args.seed)
    org = stack.organization("gate latency")
    event, gates, staff, _ = stack.gate_event(org)
    worker = None
    try:
        queries, genuine, synthetic, space = build_gallery(args, event, model, rng)
        worker = start_gate_worker()
        client = Client(HTTP_HOST="127.0.0.1")  # in the default ALLOWED_HOSTS
        client.force_login(staff)
        modes, search = {}, {"method": "exact"}
        in_postgresql = override_settings(FACEPASS_GALLERY_MEMORY_ROWS=0)
        if genuine + synthetic >= settings.FACEPASS_SEARCH_INDEX_MIN_ROWS:
            # Baselines in PostgreSQL: exact search before the event's HNSW index exists, then
            # the index (what face-only gates searched before galleries were held in memory).
            with in_postgresql:
                modes["face_only_exact"] = timed_requests(
                    client, gates["face_only"], queries, args.requests, args.frames
                )
            search = stack.event_search_index(event, model)
        search.update(gallery_load(event, model))
        lanes = [(mode, gate, contextlib.nullcontext()) for mode, gate in gates.items()]
        if search["method"] == "hnsw":  # the index, where the copy in memory cannot answer
            lanes.append(("face_only_hnsw", gates["face_only"], in_postgresql))
        modes.update(timed_rounds(client, lanes, queries, args.requests, args.frames))
        if search["method"] == "hnsw" and args.recall_probes:
            # Real faces: the query identities' photos, then the gallery source's (ids disjoint
            # from the queries; the synthetic holders are shaped on them, a hard case).
            folders = (args.queries, args.gallery_source)
            probes = [p for f in folders for p in sorted(f.glob("*/*.jpg"))][: args.recall_probes]
            search["recall_vs_exact"] = search_recall(event, model, probes, args.recall_ef)
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
        "synthetic_space": space.summary(),
        "frames_per_request": args.frames,
        # dlib-resnet's network: onnxruntime (default) or dlib's own code (the baseline).
        "dlib_runtime": (
            os.environ.get("FACEPASS_DLIB_RUNTIME", "onnx") if model.kind == "dlib-resnet" else None
        ),
        "search": search,
        "modes": modes,
        "ratios": gate_profile.ratios(modes),
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
    gallery.use_shared_detector()
    import django

    django.setup()
    report = {**run(args), "machine": machine(), "date": time.strftime("%Y-%m-%d")}
    print(f"[gate_latency] ratios: {json.dumps(report['ratios'])}", file=sys.stderr)
    for mode, result in report["modes"].items():
        stages = ", ".join(f"{k} {v['p50_ms']}" for k, v in result["profile"].items())
        print(f"[gate_latency] {mode} p50 ms by stage: {stages}", file=sys.stderr)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
