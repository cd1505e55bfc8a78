"""Delivery settings: what lets a task survive a lost worker without running twice at once.

The behaviour itself (a worker killed mid-task) is tested in tests/grading/test_redelivery.py.
"""

from tierhub.celery import app

#: Tasks that grade, shard or notify: redelivered if their worker dies (README, "Delivery").
REDELIVERED_ON_WORKER_LOSS = {
    "grading.run_grading",
    "grading.periodic_grading",
    "grading.grade_shard",
    "grading.finish_run",
    "grading.notify_run",
    "grading.reports_warm",
    "grading.expire_overrides",
    "benefits.award_growth_tasks",
    "benefits.run_nudges",
    "common.send_notification_emails",
}


def _project_tasks():
    app.loader.import_default_modules()  # autodiscovery, as a worker does at start
    return {name: task for name, task in app.tasks.items() if not name.startswith("celery.")}


def test_tasks_that_grade_shard_or_notify_are_acked_late_and_requeued_on_worker_loss():
    tasks = _project_tasks()

    assert set(tasks) >= REDELIVERED_ON_WORKER_LOSS
    for name in sorted(REDELIVERED_ON_WORKER_LOSS):
        assert tasks[name].acks_late, name
        assert tasks[name].reject_on_worker_lost, name


def test_redis_redelivers_no_task_that_may_still_be_running(settings):
    # Past the visibility timeout Redis hands an unacknowledged message to another worker:
    # it must outlive the longest hard time limit, or a slow task would run twice at once.
    tasks = _project_tasks()
    longest = max(task.time_limit or settings.CELERY_TASK_TIME_LIMIT for task in tasks.values())

    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > longest
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_ACKS_LATE
    assert settings.CELERY_TASK_REJECT_ON_WORKER_LOST
    assert settings.CELERY_TASK_SERIALIZER == "json"
    assert settings.CELERY_ACCEPT_CONTENT == ["json"]
