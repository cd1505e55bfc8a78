"""Page benchmark (issue #19): every page's latency at scale, then capacity under load.

Builds on a database `run.py --keep` left (customers, orders, two graded periods):

1. `setup`: 200 account managers with 5,000 customers each (the first 1M customers by id;
   fewer customers, fewer managers), e-mail addresses and phone numbers for every customer,
   an Operations login and a customer portal login; `VACUUM ANALYZE`; a full rebuild of the
   manager queue's needs table (`queue_needs_check --rebuild`).
2. serves it with the production settings (`tierhub.settings.production`, DEBUG off) under
   gunicorn with `gunicorn.conf.py` on a loopback port (static files collected, served by
   WhiteNoise), and the persistent connections of production (CONN_MAX_AGE=60);
3. per page: 2 warm-up requests, then 15 in a row (one user): p50/p95;
4. capacity: 20 sessions requesting the pages round-robin without pause for 30 s
   (requests/s, errors, p50/p95); then 50 sessions pausing 1 s between clicks (p95).
   `--mix all` (the default) sends every session through every page above, the admin's
   included; `--mix issue` is the issue's: half the sessions are account managers on their
   queue pages and customer page, the other half customers on the portal's home and history;
5. `--pieces`: for each page, in-process (Django test client, same database), the number of
   queries, their total time and the slowest three: what each piece of a page costs.

    .venv/bin/python bench/run.py --customers 1000000 --orders 10000000 --pipelines engine --keep
    .venv/bin/python bench/pages.py --dsn postgres://tierhub@127.0.0.1:PORT/tierhub --setup
    .venv/bin/python bench/pages.py --dsn ... [--workers 6 --threads 3] [--pieces]

Only 127.0.0.1; the load loop stops by itself (bounded duration). Results go to
`bench/results/pages-*.json` (git-ignored) and a table to stdout.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-Pass-2026!"
CUSTOMERS_PER_MANAGER = 5_000
MANAGERS = 200


# ------------------------------------------------------------------------------ setup
def _django(dsn: str, settings: str = "tierhub.settings.local") -> None:
    os.environ["DATABASE_URL"] = dsn
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", settings)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def setup(dsn: str) -> None:
    """Managers, contact details, the two logins, statistics and the queue table."""
    _django(dsn)
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from django.db import connection

    from common.roles import ACCOUNT_MANAGERS, OPERATIONS
    from customers.models import Customer, CustomerAccount
    from manager.needs import queue_needs_refresh

    user_model = get_user_model()
    started = time.perf_counter()
    customers = Customer.objects.count()
    managers_needed = min(MANAGERS, max(1, customers // CUSTOMERS_PER_MANAGER))
    group = Group.objects.get(name=ACCOUNT_MANAGERS)
    managers = []
    for i in range(managers_needed):
        user, created = user_model.objects.get_or_create(
            username=f"bench-am-{i:03d}", defaults={"is_staff": True}
        )
        if created:
            user.set_password(PASSWORD)
            user.save()
            user.groups.add(group)
        managers.append(user.pk)
    ops, created = user_model.objects.get_or_create(
        username="bench-ops", defaults={"is_staff": True}
    )
    if created:
        ops.set_password(PASSWORD)
        ops.save()
        ops.groups.add(Group.objects.get(name=OPERATIONS))
    portal, created = user_model.objects.get_or_create(username="bench-portal")
    if created:
        portal.set_password(PASSWORD)
        portal.save()
    first = Customer.objects.order_by("pk").values_list("pk", flat=True).first()
    if first is None:
        raise SystemExit("no customers: generate the population first")
    CustomerAccount.objects.get_or_create(user=portal, defaults={"customer_id": first})
    with connection.cursor() as cursor:
        # Manager i gets ids [first + i*5000, first + (i+1)*5000); contact details for all.
        cursor.execute(
            """
            UPDATE customers_customer SET
              account_manager_id = CASE WHEN id - %s < %s THEN (%s::int[])[(id - %s) / %s + 1] END,
              email = lower(code) || '@example.com',
              phone = '+86 10 ' || lpad(id::text, 8, '0')
            """,
            [
                first,
                managers_needed * CUSTOMERS_PER_MANAGER,
                managers,
                first,
                CUSTOMERS_PER_MANAGER,
            ],
        )
        print(f"customers updated: {cursor.rowcount:,}", flush=True)
    connection.close()
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as raw:
        raw.execute("VACUUM (ANALYZE) customers_customer")
    written = queue_needs_refresh()
    with psycopg.connect(dsn, autocommit=True) as raw:
        raw.execute("VACUUM (ANALYZE) appeals_queueneeds")
    print(
        f"setup: {managers_needed} managers, queue rows {written:,},"
        f" {time.perf_counter() - started:.0f} s",
        flush=True,
    )


# ------------------------------------------------------------------------------ client
class Session:
    """A browser session over HTTP/1.1 keep-alive; sends the proxy's HTTPS header.

    Production cookies are Secure; behind the (absent) TLS proxy the server is told the
    request came over HTTPS (SECURE_PROXY_SSL_HEADER), so cookies are kept by hand.
    """

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}
        self.conn: http.client.HTTPConnection | None = None

    def request(
        self, method: str, path: str, body: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        headers = {
            "Host": "127.0.0.1",
            "X-Forwarded-Proto": "https",
            "Referer": "https://127.0.0.1/",
            "Accept-Language": "en",
        }
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                content = response.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, content

    def login(self, path: str, username: str) -> None:
        status, page = self.request("GET", path)
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token, f"no CSRF token on {path} ({status})"
        status, _ = self.request(
            "POST",
            path,
            {
                "csrfmiddlewaretoken": token.group(1).decode(),
                "username": username,
                "password": PASSWORD,
            },
        )
        assert status == 302, f"login {username} at {path}: {status}"


def pages(dsn: str) -> list[tuple[str, str, str]]:
    """(label, role, path) of every page measured."""
    import psycopg

    with psycopg.connect(dsn) as raw:
        row = raw.execute(
            "SELECT code, id FROM customers_customer WHERE account_manager_id IS NOT NULL"
            " ORDER BY id LIMIT 1 OFFSET 1234"
        ).fetchone()
        if row is None:
            raise SystemExit("fewer than 1235 managed customers: generate the population first")
        code, customer_id = row
        (name_word,) = raw.execute(
            "SELECT split_part(name, ' ', 1) FROM customers_customer WHERE id = %s",
            [customer_id],
        ).fetchone() or ("",)
    return [
        ("admin home", "ops", "/admin/"),
        ("admin customer list", "ops", "/admin/customers/customer/"),
        ("admin customer list, search by code", "ops", f"/admin/customers/customer/?q={code}"),
        (
            "admin customer list, search by e-mail",
            "ops",
            f"/admin/customers/customer/?q={code.lower()}%40example.com",
        ),
        (
            "admin customer list, search by name",
            "ops",
            f"/admin/customers/customer/?q={urllib.parse.quote(name_word[:12])}",
        ),
        ("admin customer list, page 2000", "ops", "/admin/customers/customer/?p=2000"),
        (
            "admin customer list, filtered",
            "ops",
            "/admin/customers/customer/?kind__exact=reseller&industry=retail",
        ),
        ("admin customer change page", "ops", f"/admin/customers/customer/{customer_id}/change/"),
        ("admin orders", "ops", "/admin/customers/order/"),
        ("admin score snapshots", "ops", "/admin/grading/scoresnapshot/"),
        ("admin review queue", "ops", "/admin/grading/gradechange/"),
        ("admin runs", "ops", "/admin/grading/gradingrun/"),
        ("reports", "ops", "/reports/"),
        ("API customer list", "ops", "/api/customers/"),
        ("API customer search by code", "ops", f"/api/customers/?q={code}"),
        ("manager queue (5,000 customers)", "manager", "/manager/"),
        ("manager queue, page 100", "manager", "/manager/?page=100"),
        ("manager queue, search by code", "manager", f"/manager/?q={code}"),
        ("manager queue, SLA filter", "manager", "/manager/?flag=follow_up"),
        ("manager customer page", "manager", f"/manager/customers/{customer_id}/"),
        ("portal home", "portal", "/portal/"),
        ("portal grades", "portal", "/portal/grades/"),
        ("portal history", "portal", "/portal/history/"),
    ]


#: `--mix issue`: the pages the issue's sessions click, managers then customers.
ISSUE_MIX = (
    (
        "manager queue (5,000 customers)",
        "manager queue, page 100",
        "manager queue, search by code",
        "manager queue, SLA filter",
        "manager customer page",
    ),
    ("portal home", "portal history"),
)


def session_pages(
    page_list: list[tuple[str, str, str]], mix: str, sessions: int
) -> list[list[tuple[str, str, str]]]:
    """The pages each of `sessions` sessions clicks through, round-robin, for `mix`."""
    if mix == "all":
        return [page_list] * sessions
    by_label = {page[0]: page for page in page_list}
    managers, customers = ([by_label[label] for label in group] for group in ISSUE_MIX)
    return [managers if n < sessions // 2 else customers for n in range(sessions)]


def _login_paths() -> dict[str, tuple[str, str]]:
    return {
        "ops": ("/admin/login/?next=/admin/", "bench-ops"),
        "manager": ("/admin/login/?next=/admin/", "bench-am-000"),
        "portal": ("/portal/login/", "bench-portal"),
    }


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ------------------------------------------------------------------------------ server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_env(dsn: str, run_dir: Path) -> dict[str, str]:
    """The environment of the production settings on this database, static files collected."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tierhub.settings.production",
        "DATABASE_URL": dsn,
        "SECRET_KEY": "bench-only-" + "x" * 50,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "STATIC_ROOT": str(run_dir / "static"),
        "TIERHUB_VAR_DIR": str(run_dir / "var"),
        "CONN_MAX_AGE": "60",
        "AXES_ENABLED": "false",
    }
    (run_dir / "var").mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    return env


def serve(dsn: str, *, workers: int, threads: int, run_dir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **production_env(dsn, run_dir),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(workers),
        "GUNICORN_THREADS": str(threads),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    log = open(run_dir / "gunicorn.log", "w")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [str(gunicorn), "tierhub.wsgi", "--config", "gunicorn.conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            status, _ = Session(port).request("GET", "/admin/login/")
            if status == 200:
                return process, port
        except OSError:
            time.sleep(0.3)
    process.terminate()
    raise SystemExit(f"gunicorn did not start: see {run_dir / 'gunicorn.log'}")


# ------------------------------------------------------------------------------ runs
def logged_in(port: int, role: str) -> Session:
    path, username = _login_paths()[role]
    session = Session(port)
    session.login(path, username)
    return session


def single_user(port: int, page_list: list[tuple[str, str, str]], repeat: int) -> list[dict]:
    sessions = {role: logged_in(port, role) for role in {r for _, r, _ in page_list}}
    results = []
    for label, role, path in page_list:
        session = sessions[role]
        for _ in range(2):
            session.request("GET", path)
        times, statuses = [], set()
        for _ in range(repeat):
            t = time.perf_counter()
            status, _ = session.request("GET", path)
            times.append((time.perf_counter() - t) * 1000)
            statuses.add(status)
        row = {
            "page": label,
            "path": path,
            "status": sorted(statuses),
            "p50_ms": round(statistics.median(times), 1),
            "p95_ms": round(_pct(times, 0.95), 1),
        }
        results.append(row)
        print(f"{label:<42} {row['p50_ms']:8.1f} {row['p95_ms']:8.1f}  {row['status']}", flush=True)
    return results


def load(
    port: int,
    page_list: list[tuple[str, str, str]],
    *,
    sessions: int,
    pause: float,
    seconds: float,
    mix: str = "all",
) -> dict[str, Any]:
    """`sessions` threads clicking through their pages (offset each) for `seconds`."""
    clicks = session_pages(page_list, mix, sessions)
    roles = {r for _, r, _ in page_list}
    shared = {role: logged_in(port, role).cookies for role in roles}
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = time.monotonic()
    stop_at = start + seconds

    def user(n: int) -> None:
        own = {role: Session(port) for role in roles}
        for role, session in own.items():
            session.cookies = dict(shared[role])
        mine, i = clicks[n], n
        while time.monotonic() < stop_at:
            label, role, path = mine[i % len(mine)]
            i += 1
            t = time.perf_counter()
            try:
                status, _ = own[role].request("GET", path)
            except OSError as error:
                status = 0
                label = f"{label}: {error}"
            elapsed = (time.perf_counter() - t) * 1000
            with lock:
                times.append(elapsed)
                if status != 200:
                    errors.append(f"{status} {label}")
            if pause:
                time.sleep(pause)

    threads = [threading.Thread(target=user, args=(n,), daemon=True) for n in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)
    wall = time.monotonic() - start
    return {
        "mix": mix,
        "sessions": sessions,
        "pause_s": pause,
        "seconds": round(wall, 1),
        "requests": len(times),
        "requests_per_s": round(len(times) / wall, 1),
        "errors": len(errors),
        "error_examples": errors[:5],
        "p50_ms": round(_pct(times, 0.5), 1),
        "p95_ms": round(_pct(times, 0.95), 1),
        "p99_ms": round(_pct(times, 0.99), 1),
    }


def pieces(dsn: str, page_list: list[tuple[str, str, str]]) -> list[dict]:
    """In-process: queries, their time and the slowest three per page."""
    os.environ["AXES_ENABLED"] = "false"
    _django(dsn)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    settings.ALLOWED_HOSTS = ["*"]
    import logging

    logging.getLogger("axes").setLevel(logging.WARNING)
    from django.test.utils import CaptureQueriesContext

    users = {role: username for role, (_, username) in _login_paths().items()}
    rows = []
    for label, role, path in page_list:
        client = Client(HTTP_ACCEPT_LANGUAGE="en")
        client.force_login(get_user_model().objects.get(username=users[role]))
        client.get(path)
        with CaptureQueriesContext(connection) as queries:
            t = time.perf_counter()
            response = client.get(path)
            total = (time.perf_counter() - t) * 1000
        timed = sorted(
            ((float(q["time"]) * 1000, q["sql"]) for q in queries.captured_queries), reverse=True
        )
        rows.append(
            {
                "page": label,
                "status": response.status_code,
                "total_ms": round(total, 1),
                "queries": len(timed),
                "sql_ms": round(sum(t for t, _ in timed), 1),
                "slowest": [(round(t, 1), sql[:300]) for t, sql in timed[:3]],
            }
        )
        print(
            f"{label:<42} {total:7.1f} ms  {len(timed):3d} queries {rows[-1]['sql_ms']:7.1f} ms SQL"
            f"  slowest {timed[0][0] if timed else 0:.1f} ms",
            flush=True,
        )
    return rows


def cpu(
    dsn: str, page_list: list[tuple[str, str, str]], repeat: int, profile: str | None
) -> list[dict]:
    """In-process with the production settings: CPU (process time) and SQL time per request.

    The test client calls the WSGI handler in this process, so a request's process time is
    the web's CPU (middleware, view, templates; the client's own share is small); the SQL
    time is the wall time of the statements (an upper bound of PostgreSQL's CPU). With
    `profile`, the pages whose label contains it run under cProfile and the functions taking
    the most cumulative time are printed.
    """
    import cProfile
    import pstats

    os.environ.update(production_env(dsn, Path("/tmp/tierhub-pages")))
    _django(dsn, "tierhub.settings.production")
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client

    sql = [0.0, 0]

    def timed(execute: Any, statement: str, params: Any, many: bool, context: Any) -> Any:
        t = time.perf_counter()
        try:
            return execute(statement, params, many, context)
        finally:
            sql[0] += time.perf_counter() - t
            sql[1] += 1

    users = {role: username for role, (_, username) in _login_paths().items()}
    clients = {}
    for role, username in users.items():
        client = Client(HTTP_ACCEPT_LANGUAGE="en", HTTP_HOST="127.0.0.1", secure=True)
        client.force_login(get_user_model().objects.get(username=username))
        clients[role] = client
    rows: list[dict[str, Any]] = []
    with connection.execute_wrapper(timed):
        for label, role, path in page_list:
            client = clients[role]
            for _ in range(2):
                client.get(path)
            profiler = cProfile.Profile() if profile and profile in label else None
            sql[:] = [0.0, 0]
            cpu_s, wall_s, statuses = [], [], set()
            for _ in range(repeat):
                c, w = time.process_time(), time.perf_counter()
                if profiler:
                    profiler.enable()
                response = client.get(path)
                if profiler:
                    profiler.disable()
                cpu_s.append(time.process_time() - c)
                wall_s.append(time.perf_counter() - w)
                statuses.add(response.status_code)
            row = {
                "page": label,
                "status": sorted(statuses),
                "cpu_ms": round(statistics.median(cpu_s) * 1000, 1),
                "wall_ms": round(statistics.median(wall_s) * 1000, 1),
                "sql_ms": round(sql[0] * 1000 / repeat, 1),
                "queries": round(sql[1] / repeat),
            }
            rows.append(row)
            print(
                f"{label:<42} {row['cpu_ms']:7.1f} {row['sql_ms']:7.1f} {row['queries']:4d}"
                f" {row['wall_ms']:7.1f}  {row['status']}",
                flush=True,
            )
            if profiler:
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    mean_cpu = statistics.mean(r["cpu_ms"] for r in rows)
    mean_sql = statistics.mean(r["sql_ms"] for r in rows)
    print(f"{'mean over the pages':<42} {mean_cpu:7.1f} {mean_sql:7.1f}", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dsn", required=True, help="the database run.py --keep left")
    parser.add_argument("--setup", action="store_true", help="create managers and logins first")
    # gunicorn.conf.py's layout on this 2-core machine (6 x cores workers, 1 thread).
    parser.add_argument("--workers", type=int, default=12)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--pieces", action="store_true", help="per-page query costs, in-process")
    parser.add_argument(
        "--cpu", action="store_true", help="CPU and SQL time per page, in-process, production"
    )
    parser.add_argument("--profile", help="with --cpu: cProfile the pages whose label has this")
    parser.add_argument(
        "--mix",
        choices=("all", "issue"),
        default="all",
        help="load: every page, or the issue's managers' and customers' pages",
    )
    parser.add_argument("--no-load", action="store_true", help="single-user figures only")
    parser.add_argument("--load-only", action="store_true", help="skip the single-user figures")
    args = parser.parse_args()

    if args.setup:
        setup(args.dsn)
        return
    page_list = pages(args.dsn)
    if args.pieces:
        print(json.dumps(pieces(args.dsn, page_list), indent=1))
        return
    if args.cpu:
        print(f"{'page':<42} {'CPU ms':>7} {'SQL ms':>7} {'qry':>4} {'wall ms':>7}")
        rows = cpu(args.dsn, page_list, args.repeat, args.profile)
        out = ROOT / "bench" / "results"
        out.mkdir(parents=True, exist_ok=True)
        cpu_file = out / f"pages-cpu-{time.strftime('%Y%m%d-%H%M%S')}.json"
        cpu_file.write_text(json.dumps({"load": os.getloadavg(), "pages": rows}, indent=2))
        print(f"load average {os.getloadavg()}; results: {cpu_file}")
        return
    run_dir = Path("/tmp/tierhub-pages")
    run_dir.mkdir(parents=True, exist_ok=True)
    process, port = serve(args.dsn, workers=args.workers, threads=args.threads, run_dir=run_dir)
    report: dict[str, Any] = {
        "workers": args.workers,
        "threads": args.threads,
        "load_before": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    try:
        print(f"gunicorn on 127.0.0.1:{port}, {args.workers} workers x {args.threads} threads")
        print(f"{'page':<42} {'p50 ms':>8} {'p95 ms':>8}")
        # One request per page first: the reports page reads a cache that a run's follow-up
        # task fills in production (here the first request computes it, for seconds).
        sessions = {role: logged_in(port, role) for role in {r for _, r, _ in page_list}}
        for _, role, path in page_list:
            sessions[role].request("GET", path)
        if not args.load_only:
            report["single_user"] = single_user(port, page_list, args.repeat)
        if not args.no_load:
            for users, pause in ((20, 0.0), (50, 1.0)):
                result = load(
                    port, page_list, sessions=users, pause=pause, seconds=args.seconds, mix=args.mix
                )
                report.setdefault("load", []).append(result)
                print(json.dumps(result), flush=True)
        report["load_after"] = os.getloadavg()
    finally:
        process.terminate()
        process.wait(30)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    result_file = (
        out / f"pages-{time.strftime('%Y%m%d-%H%M%S')}-{args.workers}w{args.threads}t"
        f"-{args.mix}.json"
    )
    result_file.write_text(json.dumps(report, indent=2))
    print(
        f"load average {report['load_before']} -> {report.get('load_after')}; "
        f"results: {result_file}"
    )


if __name__ == "__main__":
    main()
