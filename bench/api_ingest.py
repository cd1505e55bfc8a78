"""Benchmark bulk order ingest through the REST API on PostgreSQL (issue 6 target: >= 20k/s).

    .venv/bin/python bench/api_ingest.py --orders 100000 --batch 10000                # in-process
    .venv/bin/python bench/api_ingest.py --server gunicorn --workers 2 --concurrency 2

Starts a throwaway PostgreSQL (the test harness's `Services`), migrates, creates an
Operations user with an API token and the customers, then POSTs the orders to
`/api/orders/bulk/` in batches. Two ways through the stack:

- `--server inprocess` (default): Django's WSGI handler in this process, one request at a
  time (middleware, token authentication, JSON parsing, validation, COPY and commit; no
  network hop);
- `--server gunicorn`: a real gunicorn (`--workers N`, sync workers) on a free loopback port,
  with `--concurrency C` client threads sending over HTTP keep-alive connections.

Request bodies are encoded before the clock starts (the client's cost is not the server's);
one warm-up GET per worker loads the URLconf first, as on a running server. Prints orders
per second overall and per request, checks the rows landed; `--profile FILE` writes cProfile
stats of the in-process requests.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BULK_URL = "/api/orders/bulk/"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--server", choices=("inprocess", "gunicorn"), default="inprocess")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--concurrency", type=int, default=2, help="client threads (gunicorn)")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats (in-process)")
    parser.add_argument(
        "--without-facts",
        action="store_true",
        help="disable the customer-facts trigger on order inserts (what ingest cost before it)",
    )
    args = parser.parse_args()

    from tests.harness import Services

    services = Services()
    try:
        url = services.start_postgres()
        import psycopg

        admin_url = url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tierhub")
        os.environ["DATABASE_URL"] = url
        os.environ["DJANGO_SETTINGS_MODULE"] = "tierhub.settings.test"
        os.environ.setdefault("CELERY_BROKER_URL", "memory://")
        run(args)
    finally:
        services.stop()


def _bodies(args: argparse.Namespace) -> list[tuple[int, bytes]]:
    """Return (row count, JSON body) per request: distinct orders spread over the customers."""
    start_day = dt.date(2025, 1, 1)
    bodies = []
    for first in range(0, args.orders, args.batch):
        rows = [
            {
                "order_no": f"N{n:09d}",
                "customer_code": f"B{n % args.customers:07d}",
                "placed_at": (start_day + dt.timedelta(days=n % 600)).isoformat() + " 10:00",
                "amount": f"{50 + (n * 37) % 950}.{n % 100:02d}",
                "category": f"cat-{n % 12}",
            }
            for n in range(first, min(first + args.batch, args.orders))
        ]
        bodies.append((len(rows), json.dumps({"rows": rows}).encode()))
    return bodies


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from common.roles import OPERATIONS
    from customers.models import Customer, Order

    call_command("migrate", verbosity=0)
    if args.without_facts:
        from django.db import connection

        from customers.facts import ORDERS

        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {ORDERS} DISABLE TRIGGER customers_facts_order_insert")
    user = User.objects.create_user("bench-ops", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATIONS))
    token = Token.objects.create(user=user).key
    Customer.objects.bulk_create(
        [Customer(code=f"B{i:07d}", name=f"Bench {i}") for i in range(args.customers)],
        batch_size=5000,
    )
    bodies = _bodies(args)
    if args.server == "gunicorn":
        from django.db import connections

        connections.close_all()  # the server's workers open their own
        total, rates = _via_gunicorn(args, token, bodies)
        how = f"gunicorn, {args.workers} sync workers, {args.concurrency} client threads"
    else:
        total, rates = _in_process(args, token, bodies)
        how = "in-process WSGI handler, one request at a time"
    how += ", customer facts " + ("off" if args.without_facts else "kept")
    landed = Order.objects.count()
    print(
        f"{platform.node()} cores={os.cpu_count()} load={os.getloadavg()[0]:.2f} ({how})\n"
        f"{args.orders} orders in {len(bodies)} requests of {args.batch}: "
        f"{total:.2f} s = {args.orders / total:,.0f} orders/s "
        f"(per request: min {min(rates):,.0f}, max {max(rates):,.0f} orders/s); "
        f"{landed} rows in customers_order"
    )
    if landed != args.orders:
        raise SystemExit("rows missing")


def _in_process(
    args: argparse.Namespace, token: str, bodies: list[tuple[int, bytes]]
) -> tuple[float, list[float]]:
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Token {token}", HTTP_HOST="localhost")
    client.get("/api/grades/")  # warm-up: URLconf, middleware, first connection
    profiler = cProfile.Profile() if args.profile else None
    rates = []
    began = time.perf_counter()
    for count, body in bodies:
        tick = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        response = client.post(BULK_URL, body, content_type="application/json")
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - tick
        if response.status_code != 201:
            raise SystemExit(f"HTTP {response.status_code} {response.content[:500]!r}")
        rates.append(count / elapsed)
    total = time.perf_counter() - began
    if profiler is not None:
        profiler.dump_stats(args.profile)
    return total, rates


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _via_gunicorn(
    args: argparse.Namespace, token: str, bodies: list[tuple[int, bytes]]
) -> tuple[float, list[float]]:
    port = _free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "tierhub.wsgi:application",
            f"--workers={args.workers}",
            f"--bind=127.0.0.1:{port}",
            "--timeout=300",
            "--log-level=warning",
        ],
        cwd=ROOT,
        env=os.environ.copy(),
    )
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    try:
        _wait_for(port)
        for _ in range(args.workers * 2):  # warm-up: each worker loads the URLconf
            _request(port, "GET", "/api/grades/", None, headers)

        def send(item: tuple[int, bytes]) -> float:
            count, body = item
            tick = time.perf_counter()
            status, content = _request(port, "POST", BULK_URL, body, headers)
            if status != 201:
                raise SystemExit(f"HTTP {status} {content[:500]!r}")
            return count / (time.perf_counter() - tick)

        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
            rates = list(pool.map(send, bodies))
        return time.perf_counter() - began, rates
    finally:
        server.terminate()
        server.wait(timeout=30)


def _request(
    port: int, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _wait_for(port: int, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not listen on port {port} within {seconds} s")


if __name__ == "__main__":
    main()
