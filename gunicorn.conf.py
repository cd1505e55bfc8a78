"""gunicorn settings for TierHub (issue #19), read from the working directory by default.

Chosen from the page benchmark on 2 cores (bench/pages.py, bench/README.md "Pages", the
gunicorn layouts measured at 1M on 2026-12-04 evening): `gthread` workers, (3 x cores)
processes with 3 threads each. A page spends a good part of its time waiting on PostgreSQL,
so threads keep the cores busy without the memory of more processes, and fewer threads per
process (one GIL each) keep a busy moment's slowest pages shorter than 4 threads did; each
thread holds one persistent database connection (CONN_MAX_AGE), so connections = workers x
threads per web container (18 on 2 cores) — size PostgreSQL's max_connections, or a pooler,
for every container and the Celery workers together.

Every value can be overridden from the environment: GUNICORN_BIND, GUNICORN_WORKERS,
GUNICORN_THREADS, GUNICORN_TIMEOUT, GUNICORN_MAX_REQUESTS.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", 3 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 3))
# Long exports stream; a request stuck longer than this is killed and logged.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 60))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then (slow leaks), jittered so they do not restart together.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", 5000))
max_requests_jitter = max_requests // 10
# Import the application once, before forking: faster starts, shared memory.
preload_app = True
# gunicorn 27 writes a control socket under ~/.gunicorn/ unless told not to.
control_socket_disable = True
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
