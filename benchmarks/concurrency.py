"""Gate decisions under concurrent load: N gate clients over real HTTP against the production setup.

Starts, on the benchmark database (benchmarks/stack.py: `facepass_bench`, its own Redis db and
media; never the dev or test database):
- gunicorn, `gunicorn facepass_site.wsgi -k gthread -w 2 --threads 4` (8 request threads: a gate
  request holds its thread while the worker embeds the frame, so threads, not CPU, bound the
  web tier);
- the `gate` queue served by 2 worker processes (two worker nodes, `-c 1` each, as two hosts
  would run them; the same processes serve each model in turn). Both serve the gate because a
  gate decision is what a client at a turnstile waits for; enrollment (`recognition`) never
  shares a process with the gate (docs/deployment.md), and during entry there is no enrollment
  load to speak of. Before the clock runs each worker gets a first frame, as after a restart in
  production (recorded: a TensorFlow model's load can exceed the gate task's time limit), and
  the model is preloaded when that failed;
- an event with --holders enrolled ticket holders (real embeddings of validation identities, whose
  other photos are the camera frames, plus a synthetic crowd: benchmarks/gate_latency.py's gallery).

Then --clients threads, each logged in as gate staff with its own session (CSRF included), POST
640x480 JPEG frames to /gate/<gate>/check for --seconds, half at a ticket+face lane (1:1), half at
a face-only lane (1:N). The event allows re-entry, so every request runs the whole decision.
Reported per model: decisions/s, latency p50/p95/p99 (whole HTTP round trip), errors by kind
(anything but a 200 with a decision: 503 no worker / timeout, 5xx, connection errors).

The default model runs beside its baselines (dlib-resnet, MobileNetV2; stack.compared_specs).

    nice -n 5 .venv/bin/python benchmarks/concurrency.py --seconds 60 --holders 10000
"""

from __future__ import annotations

import argparse
import base64
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks import stack  # noqa: E402

MODES = ("ticket_and_face", "face_only")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent gate clients")
    parser.add_argument("--seconds", type=float, default=60, help="measured window per model")
    parser.add_argument("--holders", type=int, default=10_000, help="enrolled holders")
    parser.add_argument("--gate-workers", type=int, default=2, help="gate worker processes")
    parser.add_argument("--web-workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument(
        "--mode", choices=("mixed", *MODES), default="mixed", help="gate lane of the clients"
    )
    parser.add_argument("--genuine", type=int, default=40, help="real enrolled identities")
    parser.add_argument("--gallery-images", type=int, default=600)
    parser.add_argument("--models", help="comma-separated specs (default: default + baselines)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="JSON result (default results/concurrency.json)")
    return parser.parse_args(argv)


def build_gallery(args, event, model):
    """Genuine identities with real embeddings plus a synthetic crowd; (ticket, jpeg) queries."""
    import numpy as np

    from benchmarks import gate_latency

    options = SimpleNamespace(
        holders=args.holders,
        genuine=args.genuine,
        queries=stack.DEV / "val",
        gallery_source=stack.DEV / "train",
        gallery_images=args.gallery_images,
        seed=args.seed,
    )
    built = gate_latency.build_gallery(options, event, model, np.random.default_rng(args.seed))
    return built[0]  # (queries, genuine, synthetic[, face space])


class GateClient:
    """One gate staff browser: its own session, logged in through the login form."""

    def __init__(self, base: str, username: str, password: str):
        import requests

        self.base = base
        self.session = requests.Session()
        login = f"{base}/accounts/login/"
        self.session.get(login, timeout=30).raise_for_status()
        response = self.session.post(
            login,
            data={
                "username": username,
                "password": password,
                "csrfmiddlewaretoken": self.session.cookies["csrftoken"],
                "next": "/gate/",
            },
            headers={"Referer": login},
            timeout=30,
        )
        response.raise_for_status()
        if "sessionid" not in self.session.cookies:
            raise SystemExit(f"gate staff login failed ({response.status_code})")
        self.csrf = self.session.cookies["csrftoken"]  # rotated at login

    def check(self, gate_id: int, jpeg: bytes, ticket_code: str | None):
        data = {"ticket_code": ticket_code} if ticket_code else {}
        return self.session.post(
            f"{self.base}/gate/{gate_id}/check",
            files=[("frames", ("frame.jpg", jpeg, "image/jpeg"))],
            data=data,
            headers={"X-CSRFToken": self.csrf, "Referer": f"{self.base}/gate/"},
            timeout=30,
        )


def one_request(client: GateClient, gate, mode: str, query) -> dict:
    import requests

    ticket, jpeg = query
    started = time.perf_counter()
    record = {"mode": mode, "error": None, "decision": None, "reason": None}
    try:
        response = client.check(gate.pk, jpeg, ticket if mode == "ticket_and_face" else None)
        record["ms"] = (time.perf_counter() - started) * 1000
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code == 200 and body.get("decision") in ("admit", "deny", "review"):
            record["decision"], record["reason"] = body["decision"], body.get("reason") or ""
        else:
            record["error"] = f"http_{response.status_code}:{body.get('code', 'no_json')}"
    except requests.Timeout:
        record["ms"], record["error"] = (time.perf_counter() - started) * 1000, "timeout"
    except requests.ConnectionError:
        record["ms"], record["error"] = (time.perf_counter() - started) * 1000, "connection"
    record["ended"] = time.monotonic()
    return record


def warm_gate_workers(model, workers) -> dict:
    """Before the clock runs, every gate worker process must have the model loaded.

    First as in production: one gate frame per worker (the others paused), which loads the
    model inside the gate task, under its 10 s soft / 15 s hard time limit. When that fails
    (a TensorFlow model on a busy machine: the pool process is killed and the next frame starts
    over, so such a worker never answers), the model is preloaded through stack.preload_model
    and the failure is recorded: it is what the first turnstiles after a worker start would see.
    """
    from recognition.tasks import gate_embed_frames

    frame = next((stack.DEV / "val").rglob("*.jpg")).read_bytes()
    payload = [base64.b64encode(frame).decode("ascii")]
    first_frames = {}
    for worker in workers:
        stack.consumers([w for w in workers if w is not worker], "gate", on=False)
        started = time.monotonic()
        try:
            gate_embed_frames.apply_async((payload, model.pk), queue="gate").get(timeout=60)
            outcome = {"ok": True}
        except Exception as exc:  # noqa: BLE001  (time limits, a killed pool process)
            outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:200]}
        outcome["seconds"] = round(time.monotonic() - started, 1)
        first_frames[worker.worker_name] = outcome
        stack.consumers(workers, "gate", on=True)
        if not outcome["ok"]:
            break
    warm = {"first_frame": first_frames, "preloaded": False}
    if not all(o["ok"] for o in first_frames.values()):
        warm["preloaded"] = True
        warm["preload_seconds"] = stack.preload_model(workers, "gate")
    results = [
        gate_embed_frames.apply_async((payload, model.pk), queue="gate")
        for _ in range(2 * len(workers))
    ]
    for result in results:
        result.get(timeout=60)
    return warm


def run_clients(args, base, staff, password, gates, queries) -> dict:
    plan = []
    for index in range(args.clients):
        mode = args.mode if args.mode != "mixed" else MODES[index % 2]
        plan.append((GateClient(base, staff.username, password), mode))
    # Untimed first request per client: sessions, gunicorn threads' database connections.
    with ThreadPoolExecutor(args.clients) as pool:
        list(pool.map(lambda p: one_request(p[0], gates[p[1]], p[1], queries[0]), plan))

    records: list[dict] = []
    lock = threading.Lock()
    start = threading.Barrier(args.clients + 1)
    stop_at = [0.0]

    def loop(index: int) -> None:
        client, mode = plan[index]
        position = index
        start.wait()
        while time.monotonic() < stop_at[0]:
            record = one_request(client, gates[mode], mode, queries[position % len(queries)])
            position += args.clients
            with lock:
                records.append(record)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(args.clients)]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    stop_at[0] = began + args.seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = max(r["ended"] for r in records) - began if records else args.seconds
    return summarise(records, elapsed)


def summarise(records: list[dict], elapsed: float) -> dict:
    ok = [r for r in records if r["error"] is None]
    errors: dict[str, int] = {}
    decisions: dict[str, int] = {}
    for r in records:
        if r["error"]:
            errors[r["error"]] = errors.get(r["error"], 0) + 1
        else:
            key = f"{r['decision']}:{r['reason']}" if r["reason"] else r["decision"]
            decisions[key] = decisions.get(key, 0) + 1
    per_mode = {}
    for mode in MODES:
        mine = [r for r in ok if r["mode"] == mode]
        if mine:
            per_mode[mode] = stack.percentiles([r["ms"] for r in mine])
    return {
        "seconds": round(elapsed, 1),
        "requests": len(records),
        "decisions": len(ok),
        "decisions_per_second": round(len(ok) / elapsed, 2) if elapsed else None,
        "latency": stack.percentiles([r["ms"] for r in ok]),
        "errors": errors,
        "error_count": sum(errors.values()),
        "outcomes": dict(sorted(decisions.items())),
        "per_mode": per_mode,
    }


def run_model(args, spec: str, workers, base: str) -> dict:
    model, info = stack.activate(spec)
    print(f"[concurrency] {info['model']}: building {args.holders} holders", file=sys.stderr)
    org = stack.organization("concurrency")
    try:
        event, gates, staff, password = stack.gate_event(org)
        queries = build_gallery(args, event, model)
        search = stack.event_search_index(event, model)
        stack.wait_for_workers(workers)
        warm = warm_gate_workers(model, workers)
        print(f"[concurrency] {info['model']}: {args.clients} clients", file=sys.stderr)
        result = run_clients(args, base, staff, password, gates, queries)
    finally:
        stack.org_delete(org)
    return {**info, "holders": args.holders, "search": search, "warmup": warm, **result}


def main(argv=None):
    args = parse_args(argv)
    stack.setup()
    specs = args.models.split(",") if args.models else stack.compared_specs()
    with stack.Processes() as procs:
        # The same gate worker processes serve every model in turn (each loads the active one).
        workers = [procs.celery_worker("gate") for _ in range(args.gate_workers)]
        _, base = procs.gunicorn(args.web_workers, args.threads)
        runs = [run_model(args, spec, workers, base) for spec in specs]
    report = {
        "benchmark": "concurrency",
        "clients": args.clients,
        "mode": args.mode,
        "web": f"gunicorn -k gthread -w {args.web_workers} --threads {args.threads}",
        "gate_worker_processes": args.gate_workers,
        "gate_workers": f"{args.gate_workers} x `celery worker -Q gate -c 1`",
        "runs": runs,
    }
    stack.write_result("concurrency", report, args.out)
    for run in runs:
        lat = run["latency"]
        print(
            f"{run['model']:<55} {run['decisions_per_second']:>6} decisions/s  "
            f"p50 {lat.get('p50_ms')} p95 {lat.get('p95_ms')} p99 {lat.get('p99_ms')} ms  "
            f"errors {run['error_count']}"
        )


if __name__ == "__main__":
    main()
