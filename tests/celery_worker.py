"""A real Celery worker process for integration tests (against the harness's Redis and the
test database). Tests using it need `transactional_db`: the worker only sees committed rows."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

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
