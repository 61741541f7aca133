"""Plumbing shared by the production-like benchmarks (concurrency, bulk enrollment, memory).

- Its own database (BENCH_DATABASE_URL, default `facepass_bench`: created, given the vector
  extension and migrated when missing; a name without "bench" in it is refused, so the dev and
  test databases are never touched), its own Redis database (BENCH_REDIS_URL, default db 14, so
  no dev or test worker ever takes a benchmark task) and its own media folders under var/bench/.
- gunicorn and Celery workers as child processes in their own process groups, logs under
  var/bench/logs/, always stopped on the way out.
- The models compared: the default (what `ensure_default_model` activates) beside dlib-resnet
  and the MobileNetV2 artifact (BENCH_MOBILENET_ARTIFACT, else the shipped
  recognition/artifacts/mobilenetv2-siamese, else an untrained one made once from ../shared's
  backbone: its speed and memory are those of a trained one, its decisions are not).
- RSS / PSS from /proc (psutil when installed) and a description of the machine.

As a command (scripts/bench.sh uses it):
    python benchmarks/stack.py env            # `export ...` lines for the benchmark settings
    python benchmarks/stack.py setup          # database, migrations, default model
    python benchmarks/stack.py models         # the model specs to compare, default first
    python benchmarks/stack.py activate SPEC  # SPEC: default | dlib-resnet | mobilenet | DIR
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("FACEPASS_SHARED_DIR", ROOT.parent / "shared"))
DEV = SHARED / "datasets" / "celeba-dev"
# Full-size runs write benchmarks/results/, the small default run results/small/ (scripts/bench.sh
# sets BENCH_RESULTS), so a quick check never overwrites the figures of a full run.
RESULTS = Path(os.environ.get("BENCH_RESULTS") or ROOT / "benchmarks" / "results").resolve()
BENCH_DIR = ROOT / "var" / "bench"
LOG_DIR = BENCH_DIR / "logs"
CACHE_DIR = ROOT / "var" / "bench_cache"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/facepass_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/14"
ORG_PREFIX = "fpbench-"  # organizations made by these benchmarks (leftovers of killed runs go)
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
BIN = Path(sys.executable).parent
PLACEHOLDER_THRESHOLDS = {"1e-2": 0.90, "1e-3": 0.95, "1e-4": 0.97}

sys.path.insert(0, str(ROOT))


# -- settings ---------------------------------------------------------------------------------


def bench_environment() -> dict[str, str]:
    """The environment every benchmark process (this one, gunicorn, workers) runs with."""
    database = os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL)
    name = urlsplit(database).path.lstrip("/")
    if "bench" not in name:
        raise SystemExit(
            f"BENCH_DATABASE_URL names database {name!r}: benchmarks only run in a database "
            "whose name contains 'bench' (never the dev or test database)."
        )
    env = {
        "DJANGO_SETTINGS_MODULE": "facepass_site.settings",
        "DATABASE_URL": database,
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", DEFAULT_REDIS_URL),
        "FACEPASS_PRIVATE_MEDIA_ROOT": str(BENCH_DIR / "private_media"),
        "MEDIA_ROOT": str(BENCH_DIR / "media"),
        "DEBUG": "0",  # production-like: no query log growing in memory, no debug pages
        "SECRET_KEY": "benchmark-only-secret-key-never-used-in-production",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2"),
        "FACEPASS_SHARED_DIR": str(SHARED),
    }
    yunet = SHARED / "models" / "face_detection_yunet_2026may.onnx"
    if yunet.is_file():
        env["FACEPASS_YUNET_MODEL"] = os.environ.get("FACEPASS_YUNET_MODEL", str(yunet))
        backbone = SHARED / "models" / "mobilenet_v2_100_224_feature_vector"
        env["FACEPASS_BACKBONE_HANDLE"] = os.environ.get("FACEPASS_BACKBONE_HANDLE", str(backbone))
    return env


def configure() -> dict[str, str]:
    """Point this process at the benchmark database, Redis and media (before django.setup)."""
    env = bench_environment()
    os.environ.update(env)
    return env


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            print(f"[bench] creating database {name}", file=sys.stderr)
            conn.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")


def setup() -> None:
    """Benchmark database ready (created, migrated, default model registered), Django set up,
    leftovers of a killed earlier run gone (queued tasks, organizations: their pending photos
    would be swept into the next run's batches). Call first in every benchmark script; run one
    benchmark at a time per benchmark database."""
    env = configure()
    ensure_database(env["DATABASE_URL"])
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    call_command("ensure_default_model", stdout=open(os.devnull, "w"))  # noqa: SIM115
    purge_queues()
    from events.models import Organization

    for org in Organization.objects.filter(slug__startswith=ORG_PREFIX):
        org_delete(org)


def purge_queues() -> None:
    """Tasks left in the benchmark Redis by a killed run would be taken by the next workers."""
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    client.delete("gate", "recognition", "default")


# -- models -----------------------------------------------------------------------------------


def default_artifact() -> Path:
    from recognition.management.commands.ensure_default_model import DEFAULT_ARTIFACT

    return Path(DEFAULT_ARTIFACT)


def mobilenet_artifact() -> Path:
    given = os.environ.get("BENCH_MOBILENET_ARTIFACT")
    if given:
        return Path(given).resolve()
    shipped = ROOT / "recognition" / "artifacts" / "mobilenetv2-siamese"
    if (shipped / "metadata.json").is_file():
        return shipped
    out = CACHE_DIR / "mobilenet-untrained"
    if not (out / "metadata.json").is_file():
        backbone = os.environ.get("FACEPASS_BACKBONE_HANDLE") or str(
            SHARED / "models" / "mobilenet_v2_100_224_feature_vector"
        )
        print(f"[bench] writing an untrained MobileNetV2 artifact to {out}", file=sys.stderr)
        cmd = [
            sys.executable,
            "-m",
            "recognition.ml.training.make_untrained_artifact",
            "--out",
            str(out),
        ]
        subprocess.run([*cmd, "--backbone", backbone], cwd=ROOT, check=True)
    return out


def artifact_for(spec: str) -> Path:
    if spec == "default":
        return default_artifact()
    if spec == "dlib-resnet":
        return ROOT / "recognition" / "artifacts" / "dlib-resnet"
    if spec == "mobilenet":
        return mobilenet_artifact()
    return Path(spec).resolve()


def compared_specs() -> list[str]:
    """The default model first, then the baselines it is not already: dlib-resnet, MobileNetV2."""
    from recognition.ml.runtime.artifacts import read_metadata

    default_kind = read_metadata(default_artifact())["embedder"]
    specs = ["default"]
    if default_kind != "dlib-resnet":
        specs.append("dlib-resnet")
    if default_kind != "mobilenetv2-siamese":
        specs.append("mobilenet")
    only = os.environ.get("BENCH_MODELS")
    return only.split(",") if only else specs


def activate(spec: str):
    """Register and activate a model in the benchmark database; returns (model, info)."""
    from recognition.ml.runtime.artifacts import read_metadata
    from recognition.services import (
        embedding_model_activate,
        embedding_model_register,
        relative_artifact_path,
    )

    artifact = artifact_for(spec)
    metadata = dict(read_metadata(artifact))
    speed_only = not metadata.get("trained", True) or not metadata.get("thresholds")
    if not metadata.get("thresholds"):
        # Untrained baseline: thresholds only so that it can be active here; its decisions
        # mean nothing, its speed and memory are what a trained artifact of its kind costs.
        metadata["thresholds"] = PLACEHOLDER_THRESHOLDS
    model = embedding_model_register(
        metadata=metadata, artifact_path=relative_artifact_path(artifact)
    )
    embedding_model_activate(model=model, actor_label="benchmark")
    info = {
        "spec": spec,
        "model": model.label,
        "embedder": model.kind,
        "is_default": artifact.resolve() == default_artifact().resolve(),
        "speed_only": speed_only,
    }
    return model, info


# -- data -------------------------------------------------------------------------------------


def dataset_images(splits=("val", "train")) -> list[Path]:
    paths = []
    for split in splits:
        folder = DEV / split
        paths += sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise SystemExit(f"no images under {DEV}")
    return paths


def organization(label: str):
    from events.services import organization_create

    slug = f"{ORG_PREFIX}{uuid.uuid4().hex[:8]}"
    return organization_create(name=f"Benchmark {label} {slug}", slug=slug)


def event_search_index(event, model) -> dict:
    """What production does once an event outgrows exact search (recognition.search_index): its
    own HNSW index, built here synchronously so that timing starts on the finished index.
    Events below FACEPASS_SEARCH_INDEX_MIN_ROWS keep exact search, as in production."""
    from django.conf import settings

    from recognition.models import EventSearchIndex, FaceEmbedding
    from recognition.search_index import event_search_index_build, index_name_for

    rows = FaceEmbedding.objects.filter(event=event, model=model).count()
    if rows < settings.FACEPASS_SEARCH_INDEX_MIN_ROWS:
        return {"method": "exact", "rows": rows}
    index = EventSearchIndex.objects.create(
        event=event, model=model, index_name=index_name_for(event.pk, model.pk)
    )
    index = event_search_index_build(index_id=index.pk)
    return {
        "method": "hnsw",
        "rows": rows,
        "build_seconds": index.build_seconds,
        "m": settings.FACEPASS_HNSW_M,
        "ef_construction": settings.FACEPASS_HNSW_EF_CONSTRUCTION,
        "ef_search": settings.FACEPASS_HNSW_EF_SEARCH,
    }


def gate_event(org, *, re_entry: bool = True):
    """An event with gates open, a face-only and a ticket+face gate, and a gate staff user."""
    from datetime import timedelta

    from django.utils import timezone

    from events.models import Event, Gate, Membership
    from events.services import event_create, gate_create, staff_user_create

    now = timezone.now()
    event = event_create(
        organization=org,
        name="Benchmark",
        slug="benchmark",
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=5),
        status=Event.Status.GATES_OPEN,
        entry_policy=Event.EntryPolicy.RE_ENTRY if re_entry else Event.EntryPolicy.SINGLE_ENTRY,
    )
    gates = {
        "face_only": gate_create(event=event, name="Face lane", mode=Gate.Mode.FACE_ONLY),
        "ticket_and_face": gate_create(event=event, name="Ticket lane"),
    }
    password = uuid.uuid4().hex
    staff = staff_user_create(
        organization=org,
        username=f"{org.slug}-staff",
        password=password,
        role=Membership.Role.GATE_STAFF,
    )
    return event, gates, staff, password


def consenting_event(label: str, count: int):
    """A fresh organization and event (registration open) with `count` consenting holders."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from attendees.models import TicketHolder
    from events.models import Event
    from events.services import event_create

    org = organization(label)
    now = timezone.now()
    event = event_create(
        organization=org,
        name="Enrollment",
        slug="enrollment",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=5),
        status=Event.Status.REGISTRATION_OPEN,
    )
    holders = TicketHolder.objects.bulk_create(
        [
            TicketHolder(
                event=event,
                ticket_code=f"B{i}",
                name=f"Bench holder {i}",
                consent_at=now,
                consent_text_version=settings.FACEPASS_CONSENT_TEXT_VERSION,
                status=TicketHolder.Status.CONSENTED,
            )
            for i in range(count)
        ],
        batch_size=2000,
    )
    return org, event, holders


def preload_model(workers, queue: str, timeout: float = 600) -> float:
    """Load the active model into each worker's pool process before anything is timed.

    Through an `enroll_photo` task sent to the worker's own queue: it runs under the general
    task time limit, whereas a gate frame that has to load the model first runs under the gate
    task's 15 s limit, which a TensorFlow model load can exceed on a busy machine (the pool
    process is then killed and the next frame starts the load over). Each worker gets its task
    alone (the others stop consuming meanwhile). Returns the seconds it took."""
    from django.core.files.base import ContentFile

    from attendees.models import EnrollmentPhoto
    from enrollment.tasks import enroll_photo

    image = next((DEV / "val").rglob("*.jpg")).read_bytes()
    started = time.monotonic()
    org, _, holders = consenting_event("preload", len(workers))
    try:
        for worker, holder in zip(workers, holders, strict=True):
            consumers([w for w in workers if w is not worker], queue, on=False)
            photo = EnrollmentPhoto(holder=holder)
            photo.image.save("warm.jpg", ContentFile(image), save=False)
            photo.save()  # not through the upload service: no task of its own on `recognition`
            enroll_photo.apply_async((photo.pk,), queue=queue).get(timeout=timeout)
            consumers(workers, queue, on=True)
    finally:
        org_delete(org)
    return round(time.monotonic() - started, 1)


def org_delete(org) -> None:
    """Everything of a benchmark organization, photo files included. The check-in log is
    protected against deletion in the product; benchmark rows go (overrides first)."""
    from attendees.models import EnrollmentPhoto
    from events.models import CheckIn

    storage = EnrollmentPhoto._meta.get_field("image").storage
    names = EnrollmentPhoto.objects.filter(holder__event__organization=org).values_list(
        "image", flat=True
    )
    for name in names:
        if name:
            with contextlib.suppress(OSError):
                storage.delete(name)
    CheckIn.objects.filter(event__organization=org, overrides__isnull=False).delete()
    CheckIn.objects.filter(event__organization=org).delete()
    org.delete()


# -- processes --------------------------------------------------------------------------------


class Processes:
    """Child processes started by a benchmark, each in its own process group; `close` (or
    leaving the `with` block, exceptions and Ctrl-C included) stops every one of them."""

    def __init__(self):
        self.procs: list[tuple[str, subprocess.Popen]] = []
        LOG_DIR.mkdir(parents=True, exist_ok=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self, name: str, cmd: list[str], env: dict | None = None) -> subprocess.Popen:
        log = open(LOG_DIR / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_path = LOG_DIR / f"{name}.log"
        proc.bench_name = name
        log.close()
        self.procs.append((name, proc))
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 30) -> None:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)  # its own group: only what we started
                proc.wait()
        self.procs = [(n, p) for n, p in self.procs if p is not proc]

    def close(self) -> None:
        for _, proc in reversed(list(self.procs)):
            self.stop(proc)

    def celery_worker(
        self, queues: str, name: str | None = None, concurrency: int = 1, env=None
    ) -> subprocess.Popen:
        name = name or f"bench-{queues.replace(',', '-')}-{uuid.uuid4().hex[:6]}"
        cmd = [str(BIN / "celery"), "-A", "facepass_site", "worker", "-Q", queues]
        cmd += ["-c", str(concurrency), "-n", f"{name}@%h", "--loglevel", "INFO"]
        cmd += ["--without-gossip", "--without-mingle"]
        proc = self.start(name, cmd, env)
        proc.worker_name = name
        return proc

    def gunicorn(self, workers: int = 2, threads: int = 4, port: int | None = None):
        """gunicorn with gthread workers; returns (process, base URL) once it answers."""
        port = port or free_port()
        cmd = [str(BIN / "gunicorn"), "facepass_site.wsgi:application", "-k", "gthread"]
        cmd += ["-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{port}"]
        cmd += ["--timeout", "60", "--graceful-timeout", "10"]
        proc = self.start(f"gunicorn-{port}", cmd)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {proc.log_path}")
            try:
                urllib.request.urlopen(base + "/healthz", timeout=2)  # noqa: S310
                return proc, base
            except urllib.error.HTTPError:
                return proc, base  # 503 (no workers yet) is an answer too
            except OSError:
                time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer on {base}; see {proc.log_path}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_workers(procs, timeout: float = 240) -> None:
    """Until each worker's heartbeat (recognition.worker_boot) is in Redis."""
    from common.workers import live_workers

    names = {p.worker_name for p in procs}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = {w["hostname"].split("@")[0] for w in live_workers()}
        if names <= live:
            return
        for proc in procs:
            if proc.poll() is not None:
                raise SystemExit(f"worker {proc.worker_name} exited; see {proc.log_path}")
        time.sleep(0.3)
    raise SystemExit(f"workers {sorted(names)} did not start within {timeout:.0f}s")


def worker_destinations(procs) -> list[str]:
    host = socket.gethostname()
    return [f"{p.worker_name}@{host}" for p in procs]


def consumers(procs, queue: str, *, on: bool) -> None:
    """Start or stop the given workers consuming `queue` (Celery remote control), confirmed."""
    from facepass_site.celery import app

    if not procs:
        return
    destination = worker_destinations(procs)
    command = app.control.add_consumer if on else app.control.cancel_consumer
    replies = command(queue, destination=destination, reply=True, timeout=10)
    answered = {name for reply in replies or [] for name in reply}
    if set(destination) - answered:
        raise SystemExit(f"no answer to {'add' if on else 'cancel'}_consumer from {destination}")


# -- measurements -----------------------------------------------------------------------------


def _proc_status(pid: int, field: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])  # kB
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    try:
        import psutil

        return round(psutil.Process(pid).memory_info().rss / 2**20, 1)
    except ImportError:
        kb = _proc_status(pid, "VmRSS")
        return None if kb is None else round(kb / 1024, 1)


def pss_mb(pid: int) -> float | None:
    """Proportional set size: shared pages (a forked parent's) split among their users."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            kids += [int(k) for k in (task / "children").read_text().split()]
    return sorted(set(kids))


def mapped_libraries(pid: int) -> set[str]:
    libs = set()
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and ".so" in parts[5]:
                libs.add(parts[5])
    return libs


def heavy_libraries(pid: int) -> dict[str, bool]:
    """Whether TensorFlow or dlib is loaded in a process (their native libraries are mapped)."""
    libs = " ".join(mapped_libraries(pid)).lower()
    return {
        "tensorflow": "tensorflow" in libs,
        "dlib": "dlib" in libs,
    }


def percentiles(values_ms) -> dict:
    import numpy as np

    values = np.asarray(values_ms, np.float64)
    if values.size == 0:
        return {"count": 0}
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "count": int(values.size),
        "p50_ms": round(float(p50), 1),
        "p95_ms": round(float(p95), 1),
        "p99_ms": round(float(p99), 1),
        "mean_ms": round(float(values.mean()), 1),
        "max_ms": round(float(values.max()), 1),
    }


def machine() -> dict:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = _meminfo("MemTotal")
    return {
        "cpu": cpu or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kb / 2**20, 1) if mem_kb else None,
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _meminfo(field: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return None


def write_result(name: str, report: dict, out: Path | None = None) -> Path:
    path = out or RESULTS / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {**report, "machine": machine()}
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"[bench] wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return path


# -- command line -----------------------------------------------------------------------------


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "env"
    if command == "env":
        for key, value in bench_environment().items():
            print(f"export {key}={json.dumps(value)}")
    elif command == "setup":
        setup()
        from recognition.selectors import active_model

        print(f"[bench] {os.environ['DATABASE_URL']} ready; active model {active_model().label}")
    elif command == "models":
        configure()
        import django

        django.setup()
        print(" ".join(compared_specs()))
    elif command == "activate" and len(argv) == 2:
        configure()
        import django

        django.setup()
        _, info = activate(argv[1])
        print(json.dumps(info))
    elif command == "machine":
        print(json.dumps(machine(), indent=2))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
