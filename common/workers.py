"""Worker heartbeats in Redis: each Celery worker writes a short-lived key naming its queues.

/healthz and the gate read these keys to know which queues have a live consumer: a couple of
milliseconds, no broadcast to the cluster. A worker that dies stops refreshing its key, which
expires. Per-deployment facts a worker child learns (which face detector runs) are published
under FACTS_KEY and copied into every heartbeat.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading

import redis
from django.conf import settings

WORKER_KEY_PREFIX = "facepass:worker:"
# The names of the heartbeat keys, so that reading them costs two round trips whatever else
# Redis holds: a SCAN walks the whole keyspace, and Celery's task results (an hour of them,
# 10,000 after a bulk upload) made each gate decision's worker check take 80 ms (issue 17).
WORKERS_SET_KEY = "facepass:workers"
FACTS_KEY = "facepass:worker-facts"
MODEL_STATE_PREFIX = "facepass:model-state:"
MODEL_STATE_TTL = 24 * 3600  # a worker's pool processes outlive no day-old key
HEARTBEAT_SECONDS = 5
HEARTBEAT_TTL = 15


def redis_client() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)


def live_workers() -> list[dict]:
    client = redis_client()
    keys = sorted(client.smembers(WORKERS_SET_KEY))  # type: ignore[arg-type]  # a sync client
    values: list = client.mget(keys) if keys else []  # type: ignore[assignment]
    expired = [key for key, value in zip(keys, values, strict=True) if value is None]
    if expired:  # a worker that died without saying so: its key expired, its name goes too
        with contextlib.suppress(redis.RedisError):
            client.srem(WORKERS_SET_KEY, *expired)
    return [json.loads(v) for v in values if v]


def model_state_key(host: str, worker_pid: int) -> str:
    """Where the pool processes of one worker publish their face model's state (a hash:
    process id -> {"model", "state": loading | ready | failed})."""
    return f"{MODEL_STATE_PREFIX}{host}:{worker_pid}"


def model_states(client, host: str, worker_pid: int) -> list[dict]:
    try:
        values = client.hvals(model_state_key(host, worker_pid))
    except redis.RedisError:
        return []
    return [json.loads(v) for v in values]


def model_summary(states: list[dict]) -> str | None:
    """One word for a worker: loading while any process loads, failed, ready; None: no model."""
    found = {s.get("state") for s in states}
    for state in ("loading", "failed", "ready"):
        if state in found:
            return state
    return None


def queue_has_worker(queue: str) -> bool:
    return any(queue in worker.get("queues", []) for worker in live_workers())


def worker_facts_publish(client, facts: dict) -> None:
    """Merge facts (e.g. {"detector": "YuNetDetector"}) into what every heartbeat reports."""
    current = worker_facts(client)
    current.update(facts)
    client.set(FACTS_KEY, json.dumps(current))


def worker_facts(client) -> dict:
    try:
        raw = client.get(FACTS_KEY)
    except redis.RedisError:
        return {}
    return json.loads(raw) if raw else {}


class Heartbeat:
    """The background thread of one worker process: refreshes its key until stopped."""

    def __init__(self, hostname: str, queues: list[str]):
        self.key = WORKER_KEY_PREFIX + hostname
        self.payload = {"hostname": hostname, "pid": os.getpid(), "queues": queues}
        self.host = socket.gethostname()
        self._stop = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True).start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        client = redis_client()
        while not self._stop.is_set():
            payload = {**self.payload, **worker_facts(client)}
            payload["model"] = model_summary(model_states(client, self.host, os.getpid()))
            # Redis down: try again on the next beat.
            with contextlib.suppress(redis.RedisError):
                beat = client.pipeline()
                beat.set(self.key, json.dumps(payload), ex=HEARTBEAT_TTL)
                beat.sadd(WORKERS_SET_KEY, self.key)
                beat.execute()
            self._stop.wait(HEARTBEAT_SECONDS)
        with contextlib.suppress(redis.RedisError):
            client.delete(self.key, model_state_key(self.host, os.getpid()))
            client.srem(WORKERS_SET_KEY, self.key)
