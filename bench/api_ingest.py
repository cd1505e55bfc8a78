"""Benchmark bulk order ingest through the REST API on PostgreSQL (issue 6 target: >= 20k/s).

    .venv/bin/python bench/api_ingest.py --orders 100000 --batch 10000

Starts a throwaway PostgreSQL (the test harness's `Services`), migrates, creates an
Operations user with an API token and the customers, then POSTs the orders to
`/api/orders/bulk/` in batches through Django's WSGI handler in this process (JSON encoding
and decoding, authentication, validation, COPY and commit included; no network hop). Prints
orders per second overall and per batch, and checks the rows landed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=10_000)
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


def run(args: argparse.Namespace) -> None:
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from common.roles import OPERATIONS
    from customers.models import Customer, Order

    call_command("migrate", verbosity=0)
    user = User.objects.create_user("bench-ops", password="x", is_staff=True)
    user.groups.add(Group.objects.get(name=OPERATIONS))
    token = Token.objects.create(user=user)
    Customer.objects.bulk_create(
        [Customer(code=f"B{i:07d}", name=f"Bench {i}") for i in range(args.customers)],
        batch_size=5000,
    )
    client = Client(HTTP_AUTHORIZATION=f"Token {token.key}", HTTP_HOST="localhost")
    start_day = dt.date(2025, 1, 1)
    rates = []
    began = time.perf_counter()
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
        body = json.dumps({"rows": rows})
        tick = time.perf_counter()
        response = client.post("/api/orders/bulk/", body, content_type="application/json")
        elapsed = time.perf_counter() - tick
        if response.status_code != 201:
            raise SystemExit(
                f"batch at {first}: HTTP {response.status_code} {response.content[:500]!r}"
            )
        rates.append(len(rows) / elapsed)
    total = time.perf_counter() - began
    landed = Order.objects.count()
    print(
        f"{platform.node()} cores={os.cpu_count()} load={os.getloadavg()[0]:.2f}\n"
        f"{args.orders} orders in {args.orders // args.batch} requests of {args.batch}: "
        f"{total:.2f} s = {args.orders / total:,.0f} orders/s "
        f"(per request: min {min(rates):,.0f}, max {max(rates):,.0f} orders/s); "
        f"{landed} rows in customers_order"
    )
    if landed != args.orders:
        raise SystemExit("rows missing")


if __name__ == "__main__":
    main()
