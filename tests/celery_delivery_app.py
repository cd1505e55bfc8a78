"""The project's Celery app as a delivery test's own worker runs it.

Start with ``celery -A tests.celery_delivery_app worker ...``. Three test-only knobs come
from the environment, so production code carries none:

- ``TIERHUB_TEST_QUEUE``: the queue this worker consumes *and* sends its own tasks to (group,
  chord callback, follow-ups), so a session's other worker never takes them.
- ``TIERHUB_TEST_DELIVERY_LOG``: a file that gets one JSON line per task start: id, name,
  args and whether the broker redelivered the message.
- ``TIERHUB_TEST_EARLY_ACK``: task names (comma-separated) acknowledged on receipt instead
  of after they finish: the mutant that shows what `acks_late` guards against.
- ``TIERHUB_TEST_SHARD_LOCAL_CUTS``: when set, each shard of a sharded run scores its
  customer-id range with its own cut points instead of the population's: the mutant that
  shows what computing them once guards against (`tests/grading/test_sharding_workers.py`).
"""

from __future__ import annotations

import json
import os
from typing import Any

from celery.signals import task_prerun, worker_init, worker_process_init

from tierhub.celery import app

__all__ = ["app"]

app.conf.task_default_queue = os.environ["TIERHUB_TEST_QUEUE"]


@task_prerun.connect
def _log_start(task_id: str, task: Any, args: Any = None, **_: Any) -> None:
    path = os.environ.get("TIERHUB_TEST_DELIVERY_LOG")
    if not path:
        return
    line = {
        "id": task_id,
        "name": task.name,
        "args": list(args or ()),
        "redelivered": bool((task.request.delivery_info or {}).get("redelivered")),
        "pid": os.getpid(),
    }
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(line) + "\n")


@worker_init.connect
def _early_ack(**_: Any) -> None:
    # The main process decides when a message is acknowledged (Request.on_accepted reads
    # the task's `acks_late`), so changing the registered task here is enough.
    for name in filter(None, os.environ.get("TIERHUB_TEST_EARLY_ACK", "").split(",")):
        app.tasks[name].acks_late = False


@worker_process_init.connect
def _shard_local_cuts(**_: Any) -> None:
    # In each pool process once it has started (Django is set up by then).
    if not os.environ.get("TIERHUB_TEST_SHARD_LOCAL_CUTS"):
        return
    from grading.services import runs

    batch_write = runs._batch_write

    def shard_local(*args: Any, **kwargs: Any) -> int:
        if kwargs.get("id_range") is not None:
            kwargs["cuts"] = None  # score the range as if it were the whole population
        return batch_write(*args, **kwargs)

    runs._batch_write = shard_local
