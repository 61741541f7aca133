"""Parts the fault tests stop and start for real: a private Redis server, a private PostgreSQL
cluster, a gunicorn web server and Celery workers in their own process groups.

Private servers, so that stopping one never disturbs the shared services other tests use.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis
import requests

from tests.conftest import REPO_ROOT, _worker_env

PG_BIN = Path("/usr/lib/postgresql/15/bin")
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} within {timeout}s")


class PrivateRedis:
    """redis-server on its own port, no persistence: a restart loses what was queued, as a
    crashed Redis without AOF would."""

    def __init__(self):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        cmd += ["--save", "", "--appendonly", "no", "--dir", tempfile.gettempdir()]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_until(lambda: self._pings(client), 10, "private Redis answering")

    @staticmethod
    def _pings(client) -> bool:
        try:
            return client.ping()
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster (the machine's binaries, so pgvector is there)."""

    def __init__(self):
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="facepass-pg-"))
        self.data = self.dir / "data"
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/facepass_fault"

    def _run(self, *args: str, check=True) -> subprocess.CompletedProcess:
        # PostgreSQL refuses to run as root: run its tools as the postgres user then.
        cmd = list(args)
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust")
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
        self._run(
            str(PG_BIN / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-w",
            "start",
            "-l",
            str(self.dir / "log"),
        )

    def restart(self) -> None:
        """Fast shutdown (every backend killed, as in a crash-restart or a failover) and start."""
        self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.start()

    def copy_database(self, source_name: str) -> None:
        """The test database (schema, pgvector, rows) into this cluster."""
        dump = subprocess.run(
            [str(PG_BIN / "pg_dump"), "-h", "127.0.0.1", "-U", "postgres", source_name],
            check=True,
            capture_output=True,
        ).stdout
        psql = [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        subprocess.run(
            [*psql, "-c", "CREATE DATABASE facepass_fault"], check=True, capture_output=True
        )
        subprocess.run(
            [*psql, "-v", "ON_ERROR_STOP=1", "-q", "-d", "facepass_fault"],
            input=dump,
            check=True,
            capture_output=True,
        )

    def destroy(self) -> None:
        self._run(
            str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False
        )
        shutil.rmtree(self.dir, ignore_errors=True)


def service_env(**overrides: str) -> dict[str, str]:
    """The test's environment (database, media) with some parts replaced."""
    return {**_worker_env(), **overrides}


class Gunicorn:
    """The production web server, as docs/deployment.md runs it (smaller)."""

    def __init__(self, env: dict[str, str], workers: int = 1, threads: int = 4):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        cmd = [str(VENV_BIN / "gunicorn"), "facepass_site.wsgi:application", "-k", "gthread"]
        cmd += ["-w", str(workers), "--threads", str(threads), "-b", f"127.0.0.1:{self.port}"]
        cmd += ["--timeout", "30", "--log-level", "warning"]
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, start_new_session=True)
        wait_until(self._answers, 60, "gunicorn answering")

    def _answers(self) -> bool:
        try:
            requests.get(self.base + "/healthz", timeout=2)
            return True
        except requests.RequestException:
            return False

    def stop(self) -> None:
        stop_group(self.proc)


class Worker:
    """A Celery worker in its own process group, so SIGKILL can take the whole of it at once."""

    def __init__(self, queues: str, env: dict[str, str], name: str):
        self.name = name
        cmd = [str(VENV_BIN / "celery"), "-A", "facepass_site", "worker", "-Q", queues, "-c", "1"]
        cmd += ["-n", f"{name}@%h", "--loglevel", "WARNING", "--without-gossip", "--without-mingle"]
        self.proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, start_new_session=True)

    def wait_ready(self, redis_url: str, timeout: float = 90) -> None:
        """Its heartbeat (recognition.worker_boot) appears once the model is loaded."""
        client = redis.Redis.from_url(redis_url)

        def reported() -> bool:
            try:
                keys = client.keys("facepass:worker:*")
                values = [json.loads(v) for v in client.mget(keys) if v] if keys else []
            except redis.RedisError:
                return False
            return any(v["hostname"].startswith(self.name) for v in values)

        wait_until(reported, timeout, f"worker {self.name} reporting")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_group(self.proc)


def stop_group(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
