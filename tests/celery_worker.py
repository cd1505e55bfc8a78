"""Real Celery worker processes for integration tests (against the harness's Redis and the
test database). Tests using them need `transactional_db`: a worker only sees committed rows.

- `celery_worker_process`: the session's `--pool=solo` worker on the default queue;
- `prefork_worker`: a test's own prefork worker (`tests/celery_delivery_app.py`) on its own
  queue, with as many pool processes as asked, stopped at the end of the block.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker) -> Iterator[subprocess.Popen]:
    """Start `celery worker --pool=solo` on the test database; stop it after the session."""
    from tests.harness import services_available

    if not services_available():
        pytest.skip("needs the harness's PostgreSQL and Redis (TIERHUB_TEST_SERVICES=off)")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "tierhub.settings.test",
    }
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"tierhub-worker-{os.getpid()}.log"
    log = open(log_path, "wb")  # noqa: SIM115  (closed in the fixture's finally block)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tierhub",
            "worker",
            "--pool=solo",
            "--loglevel=info",
            "--without-mingle",
            "--without-gossip",
            "-n",
            f"test-{os.getpid()}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        from tierhub.celery import app

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"Celery worker exited with {proc.returncode}; see {log.name}")
            if app.control.ping(timeout=0.5):
                break
        else:
            raise RuntimeError(f"Celery worker not ready after 60 s; see {log.name}")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def until(condition: Callable[[], Any], *, timeout: float, what: str, every: float = 0.2) -> Any:
    """Return `condition()`'s first truthy value, polled every `every` s; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"not seen within {timeout} s: {what}")


@dataclass
class Worker:
    proc: subprocess.Popen
    node: str
    queue: str
    log: Path

    def starts(self) -> list[dict[str, Any]]:
        """The task starts the worker logged, in order (with the pool process's pid)."""
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]


@contextmanager
def prefork_worker(
    tmp_path: Path, *, concurrency: int = 1, env: dict[str, str] | None = None
) -> Iterator[Worker]:
    """A `--pool=prefork` worker of `concurrency` processes on its own queue, stopped after.

    `env` adds settings and the knobs of `tests/celery_delivery_app.py` to its environment.
    """
    from tierhub.celery import app

    token = uuid.uuid4().hex[:8]
    worker = Worker(
        proc=None,  # type: ignore[arg-type]
        node=f"delivery-{token}@localhost",
        queue=f"delivery-{token}",
        log=tmp_path / "starts.jsonl",
    )
    full_env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "DJANGO_SETTINGS_MODULE": "tierhub.settings.test",
        "TIERHUB_TEST_QUEUE": worker.queue,
        "TIERHUB_TEST_DELIVERY_LOG": str(worker.log),
        **(env or {}),
    }
    output = open(tmp_path / "worker.log", "wb")  # noqa: SIM115  (closed below)
    worker.proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "tests.celery_delivery_app",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "-Q",
            worker.queue,
            "--loglevel=info",
            "--without-mingle",
            "--without-gossip",
            "-n",
            worker.node,
        ],
        cwd=ROOT,
        env=full_env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    try:
        until(
            lambda: (
                worker.proc.poll() is not None
                or app.control.ping(destination=[worker.node], timeout=0.5)
            ),
            timeout=60,
            what="the worker answering a ping",
        )
        assert worker.proc.poll() is None, f"worker exited; see {output.name}"
        yield worker
    finally:
        worker.proc.terminate()
        try:
            worker.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.proc.kill()
            worker.proc.wait(timeout=10)
        output.close()
