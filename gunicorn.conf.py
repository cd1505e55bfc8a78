"""gunicorn settings for TierHub (issue #19), read from the working directory by default.

Chosen from the page benchmark on 2 cores (bench/pages.py; bench/README.md, "Pages at 1M,
late night", where every layout measured is listed): `gthread` workers, (6 x cores)
processes with one thread each. A page is mostly Python (Django's ORM and templates), and
threads of one process take turns on its GIL: a thread back from a database call waits for
the busy one, so a burst's pages finished later with 3 threads per process than with one
(50 sessions pausing 1 s at 1M: p95 51-69 ms with 12 x 1 against 87-134 ms with 6 x 3, the
same requests per second). The processes, more than the cores, cover the time pages wait
on PostgreSQL. `gthread` with one thread keeps HTTP keep-alive; a client's connection stays
with one process, which is why its slowest 1 % waited longer in the benchmark (p99 380-650
against 330-380 ms): measure again with bench/pages.py before changing the layout. Each
process holds one persistent database connection (CONN_MAX_AGE): 12 per web container on 2
cores; size PostgreSQL's max_connections, or a pooler, for every container and the Celery
workers together. On more cores, start from the same 6 x cores and measure.

Every value can be overridden from the environment: GUNICORN_BIND, GUNICORN_WORKERS,
GUNICORN_THREADS, GUNICORN_TIMEOUT, GUNICORN_MAX_REQUESTS.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", 6 * multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", 1))
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
