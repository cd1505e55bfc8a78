"""Pytest plugin: throwaway PostgreSQL and Redis on loopback for the whole test session.

Loaded with ``-p tests.harness`` (pyproject.toml) so it runs *before* pytest-django reads
the settings: it starts the servers, then points ``DATABASE_URL`` and ``CELERY_BROKER_URL``
at them. xdist workers inherit the environment and reuse the controller's servers.

- ``TIERHUB_TEST_SERVICES=off`` skips the servers: SQLite, and tests marked
  ``services`` are skipped (a quick local loop; ``make test`` always runs them).
- ``TIERHUB_TEST_DATABASE_URL`` / ``TIERHUB_TEST_REDIS_URL`` use servers you already run.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Generator
from pathlib import Path

import pytest

_OWNER_ENV = "TIERHUB_TEST_SERVICES_OWNER"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bindir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Services:
    """The servers this session started, stopped again at the end."""

    def __init__(self) -> None:
        self.run_dir = Path(tempfile.mkdtemp(prefix="tierhub-test-"))
        self.run_dir.chmod(0o755)
        self.pg_data: Path | None = None
        self.pg_bin: Path | None = None
        self.redis_pidfile: Path | None = None
        self.as_postgres = os.geteuid() == 0

    def _pg(self, *args: str) -> None:
        cmd = [str(self.pg_bin / args[0]), *args[1:]]  # type: ignore[operator]
        if self.as_postgres:
            # PostgreSQL refuses to run as root.
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def start_postgres(self) -> str:
        self.pg_bin = _pg_bindir()
        if self.pg_bin is None:
            raise pytest.UsageError(
                "PostgreSQL is not installed: run `make test` (it installs it) "
                "or set TIERHUB_TEST_SERVICES=off for a quick SQLite-only run."
            )
        pg_root = self.run_dir / "pg"
        pg_root.mkdir()
        if self.as_postgres:
            shutil.chown(pg_root, "postgres", "postgres")
        self.pg_data = pg_root / "data"
        port = _free_port()
        self._pg(
            "initdb",
            "-D",
            str(self.pg_data),
            "-U",
            "tierhub",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(self.pg_data),
            "-l",
            str(pg_root / "pg.log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -p {port} -k {pg_root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            "start",
        )
        return f"postgres://tierhub@127.0.0.1:{port}/tierhub"

    def start_redis(self) -> str:
        redis = shutil.which("redis-server")
        if redis is None:
            raise pytest.UsageError(
                "Redis is not installed: run `make test` (it installs it) "
                "or set TIERHUB_TEST_SERVICES=off."
            )
        port = _free_port()
        self.redis_pidfile = self.run_dir / "redis.pid"
        subprocess.run(
            [
                redis,
                "--bind",
                "127.0.0.1",
                "--port",
                str(port),
                "--daemonize",
                "yes",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.run_dir),
                "--pidfile",
                str(self.redis_pidfile),
                "--logfile",
                str(self.run_dir / "redis.log"),
            ],
            check=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    return f"redis://127.0.0.1:{port}/0"
            time.sleep(0.05)
        raise RuntimeError("Redis did not start within 10 s")

    def stop(self) -> None:
        if self.pg_data is not None and self.pg_bin is not None:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._pg("pg_ctl", "-D", str(self.pg_data), "-m", "immediate", "-w", "stop")
        if self.redis_pidfile is not None and self.redis_pidfile.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(self.redis_pidfile.read_text().strip()), 15)
        shutil.rmtree(self.run_dir, ignore_errors=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tierhub.settings.test")
    # Keep Chromium, matplotlib and friends out of $HOME.
    scratch = Path(tempfile.gettempdir()) / "tierhub-test-home"
    for var in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "MPLCONFIGDIR"):
        os.environ.setdefault(var, str(scratch / var.lower()))
    already = os.environ.get(_OWNER_ENV)  # set for xdist workers by the controller
    mode = os.environ.get("TIERHUB_TEST_SERVICES", "on").lower()
    if not already and mode != "off":
        services: Services | None = None
        db_url = os.environ.get("TIERHUB_TEST_DATABASE_URL")
        redis_url = os.environ.get("TIERHUB_TEST_REDIS_URL")
        if not (db_url and redis_url):
            services = Services()
            early_config.stash[_services_key] = services
        try:
            db_url = db_url or services.start_postgres()  # type: ignore[union-attr]
            redis_url = redis_url or services.start_redis()  # type: ignore[union-attr]
        except BaseException:
            if services is not None:
                services.stop()
            raise
        os.environ["DATABASE_URL"] = db_url
        os.environ["CELERY_BROKER_URL"] = redis_url
        os.environ["CELERY_RESULT_BACKEND"] = redis_url
        os.environ["TIERHUB_TEST_REDIS_URL"] = redis_url
        os.environ[_OWNER_ENV] = str(os.getpid())
    elif not already:
        os.environ["DATABASE_URL"] = "sqlite://:memory:"
        os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    return (yield)


_services_key = pytest.StashKey[Services]()


def pytest_unconfigure(config: pytest.Config) -> None:
    services = config.stash.get(_services_key, None)
    if services is not None:
        services.stop()


def services_available() -> bool:
    """True when the session runs on real PostgreSQL and Redis."""
    return os.environ.get("TIERHUB_TEST_SERVICES", "on").lower() != "off"
