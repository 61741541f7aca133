"""Worker heartbeats are found through their registry, not by scanning Redis (issue 17: the scan
walked every task result and cost a gate decision 80 ms after a bulk upload)."""

import time

from common.workers import (
    WORKER_KEY_PREFIX,
    WORKERS_SET_KEY,
    Heartbeat,
    live_workers,
    queue_has_worker,
    redis_client,
)


def _wait(condition, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_heartbeat_is_registered_while_it_runs_and_gone_once_stopped():
    beat = Heartbeat("registry-unit@host", ["gate"])
    beat.start()
    try:
        assert _wait(lambda: queue_has_worker("gate"))
        assert [w["hostname"] for w in live_workers()] == ["registry-unit@host"]
    finally:
        beat.stop()
    assert _wait(lambda: not queue_has_worker("gate"))
    assert not redis_client().sismember(WORKERS_SET_KEY, beat.key)


def test_a_worker_whose_heartbeat_expired_is_dropped_from_the_registry():
    client = redis_client()
    gone = WORKER_KEY_PREFIX + "killed@host"
    client.sadd(WORKERS_SET_KEY, gone)  # registered, then SIGKILLed: its key expired
    assert live_workers() == []
    assert not client.sismember(WORKERS_SET_KEY, gone)
