"""/healthz: one JSON document on database, pgvector, Redis and workers.

Workers announce themselves with a short-lived Redis key (common.workers), so this check costs a
couple of milliseconds and never broadcasts to the cluster.
"""

import time

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache

from common import queues
from common.workers import live_workers, redis_client

REQUIRED_QUEUES = (queues.RECOGNITION, queues.GATE)
# Webhooks, the retention purge and index builds: their backlog waits, gates keep working, so a
# missing consumer is reported as a warning rather than taking the service down.
WARNED_QUEUES = (queues.DEFAULT,)


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return {"ok": True}


def _check_pgvector() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    if row is None:
        return {"ok": False, "error": "the vector extension is not installed in this database"}
    return {"ok": True, "version": row[0]}


def _check_redis() -> dict:
    redis_client().ping()
    return {"ok": True}


def _check_workers() -> dict:
    workers = live_workers()
    per_queue = {
        q: sum(q in w.get("queues", []) for w in workers) for q in REQUIRED_QUEUES + WARNED_QUEUES
    }
    missing = [q for q in REQUIRED_QUEUES if per_queue[q] == 0]
    unserved = [q for q in WARNED_QUEUES if per_queue[q] == 0]
    # A face worker's pool processes load the model after reporting up: until one worker of a
    # queue is ready, that queue cannot answer.
    loading = [
        q
        for q in REQUIRED_QUEUES
        if per_queue[q]
        and all(w.get("model") == "loading" for w in workers if q in w.get("queues", []))
    ]
    result = {"ok": not missing and not loading, "count": len(workers), "queues": per_queue}
    states = [w.get("model") for w in workers if w.get("model")]
    if states:
        result["models"] = {state: states.count(state) for state in sorted(set(states))}
    if loading:
        result["loading"] = loading
    detectors = {w.get("detector") for w in workers if w.get("detector")}
    if detectors:
        result["detectors"] = sorted(detectors)
    fallbacks = [w["detector_fallback"] for w in workers if w.get("detector_fallback")]
    warnings = [f"no worker consumes queue(s): {', '.join(unserved)}"] if unserved else []
    if fallbacks:
        warnings.insert(0, f"detector fell back to dlib-hog: {fallbacks[0]}")
    if warnings:
        result["warning"] = "; ".join(warnings)
    if missing:
        result["error"] = f"no worker consumes queue(s): {', '.join(missing)}"
    elif loading:
        result["error"] = f"the face model is still loading for queue(s): {', '.join(loading)}"
    return result


CHECKS = {
    "database": _check_database,
    "pgvector": _check_pgvector,
    "redis": _check_redis,
    "workers": _check_workers,
}


def run_checks() -> dict[str, dict]:
    results = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            result = check()
        except Exception as exc:  # noqa: BLE001  (any failure is the answer)
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        result["ms"] = round((time.perf_counter() - started) * 1000, 1)
        results[name] = result
    return results


@never_cache
def healthz(request):
    checks = run_checks()
    down = [name for name, result in checks.items() if not result["ok"]]
    status = "ok" if not down else "down"
    if down == ["workers"] and checks["workers"].get("loading"):
        status = "loading"  # starting up: it will be ok without anyone doing anything
    body = {"status": status, "down": down, "checks": checks}
    return JsonResponse(body, status=200 if not down else 503)
