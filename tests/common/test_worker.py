import pytest

from common.tasks import healthcheck_task

pytestmark = [pytest.mark.services, pytest.mark.celery]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_task_round_trips_through_redis_to_a_real_worker(celery_worker_process):
    result = healthcheck_task.delay()

    payload = result.get(timeout=30)

    assert payload["ok"] is True
    assert payload["database"] == "postgresql"
    assert result.backend.__class__.__name__ == "RedisBackend"
