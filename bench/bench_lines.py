"""Benchmark `manage.py import_order_lines` on PostgreSQL (issue #18 target: >= 50k lines/s).

    .venv/bin/python bench/bench_lines.py --lines 1000000            # ~1 min
    .venv/bin/python bench/bench_lines.py --lines 200000 --keep-file lines.csv

Starts a throwaway PostgreSQL (the test harness's `Services`), migrates, writes a seeded
CSV of invoice lines in the shape ERPs export (1-40 lines per invoice, 3-decimal prices,
5% anonymous lines, 3% returns with a `C` prefix and negative quantities, half of them
linked to their invoice (even customer ids), time stamps that drift by a minute within an
invoice), then runs the command in a subprocess (so `ru_maxrss` is the import's own peak) with
`--create-missing-customers --return-prefix C`, and again on the same file (the idempotent
re-import). Prints lines/s and peak memory of each run, the load average, and the CPU time
of the import process and of the PostgreSQL server (its postmaster's own and reaped children's
time): on a shared machine wall time follows the load, CPU time much less.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_file(path: Path, lines: int, customers: int, seed: int) -> None:
    """Write `lines` seeded invoice lines (and their returns) to `path`."""
    rng = random.Random(seed)
    start = dt.datetime(2024, 1, 1, 8, 0)
    written = 0
    invoice = 0
    recent: list[tuple[str, str, dt.datetime, int, str]] = []
    with path.open("w", encoding="utf-8", newline="") as file:
        out = csv.writer(file)
        out.writerow(
            [
                "order_no",
                "customer_code",
                "placed_at",
                "sku",
                "quantity",
                "unit_price",
                "category",
                "original_order_no",
            ]
        )
        while written < lines:
            invoice += 1
            anonymous = rng.random() < 0.05
            customer = "" if anonymous else f"{rng.randrange(customers) + 12000}.0"
            moment = start + dt.timedelta(minutes=invoice * 7 // 10)
            count = min(rng.randint(1, 40), lines - written)
            number = f"{536000 + invoice}"
            for position in range(count):
                drift = dt.timedelta(minutes=1) if position > count // 2 else dt.timedelta()
                quantity = rng.choice((1, 2, 3, 4, 6, 12, 24))
                sku = f"P{rng.randrange(4000):05d}"
                price = f"{rng.randrange(10, 100000) / 1000:.3f}"
                out.writerow(
                    [
                        number,
                        customer,
                        (moment + drift).strftime("%Y-%m-%d %H:%M"),
                        sku,
                        quantity,
                        price,
                        f"cat{int(sku[1:]) % 60}",
                        "",
                    ]
                )
                written += 1
                if customer and position == 0:
                    recent.append((number, customer, moment, quantity, price))
            if recent and rng.random() < 0.03 and written < lines:
                original, owner, placed, quantity, price = recent.pop(rng.randrange(len(recent)))
                returned = max(placed, moment) + dt.timedelta(days=rng.randint(0, 20))
                # Even customers' returns name their invoice (each invoice at most once),
                # odd customers' do not, so a linked return never finds its order used up.
                linked = int(float(owner)) % 2 == 0
                out.writerow(
                    [
                        f"C{number}",
                        owner,
                        returned.strftime("%Y-%m-%d %H:%M"),
                        "P00001",
                        -rng.randint(1, quantity),
                        price,
                        "cat1",
                        original if linked else "",
                    ]
                )
                written += 1
                recent = recent[-200:]


def _server_cpu(data: Path) -> float:
    """CPU seconds of the PostgreSQL server so far (postmaster + exited backends)."""
    pid = int((data / "postmaster.pid").read_text().split()[0])
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _client_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--keep-file", help="write the CSV here and keep it")
    parser.add_argument("--profile", metavar="FILE", help="write cProfile stats of the first run")
    args = parser.parse_args()

    from tests.harness import Services

    services = Services()
    folder = tempfile.mkdtemp(prefix="bench-lines-")
    path = Path(args.keep_file) if args.keep_file else Path(folder) / "lines.csv"
    try:
        url = services.start_postgres()
        data = services.pg_data
        if data is None:
            sys.exit("PostgreSQL did not start")
        import psycopg

        admin_url = url.rsplit("/", 1)[0].replace("postgres://", "postgresql://") + "/postgres"
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE tierhub")
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "tierhub.settings.test",
            "CELERY_BROKER_URL": "memory://",
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run([*manage, "migrate", "-v0"], env=env, check=True)
        began = time.perf_counter()
        write_file(path, args.lines, args.customers, args.seed)
        print(
            f"wrote {args.lines:,} lines ({path.stat().st_size / 1e6:.0f} MB) in "
            f"{time.perf_counter() - began:.1f} s"
        )
        command = [
            *manage,
            "import_order_lines",
            str(path),
            "--create-missing-customers",
            "--return-prefix",
            "C",
        ]
        for label in ("first import", "re-import"):
            run = command
            if args.profile and label == "first import":
                run = [sys.executable, "-m", "cProfile", "-o", args.profile, *command[1:]]
            load = os.getloadavg()[0]
            client, server = _client_cpu(), _server_cpu(data)
            began = time.perf_counter()
            result = subprocess.run(run, env=env, check=False, capture_output=True, text=True)
            if result.returncode:
                sys.exit(result.stderr[-3000:])
            seconds = time.perf_counter() - began
            time.sleep(0.5)  # the import's backend exits and is reaped
            client, server = _client_cpu() - client, _server_cpu(data) - server
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            print(
                f"{label}: {seconds:.1f} s, {args.lines / seconds:,.0f} lines/s, "
                f"peak RSS so far {peak:.0f} MB; load average {load:.1f} before, "
                f"{os.getloadavg()[0]:.1f} after; CPU: import {client:.1f} s, "
                f"PostgreSQL {server:.1f} s ({os.cpu_count()} cores)"
            )
            print(result.stdout)
    finally:
        services.stop()
        if not args.keep_file:
            path.unlink(missing_ok=True)
        os.rmdir(folder) if os.path.isdir(folder) and not os.listdir(folder) else None


if __name__ == "__main__":
    main()
