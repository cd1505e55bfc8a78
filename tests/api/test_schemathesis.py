"""Property-based run of every API operation against the OpenAPI schema: no 5xx, ever.

The schema is generated in-process by drf-spectacular (no server, no network) and loaded into
schemathesis; each generated case goes through Django's real WSGI handler (middleware,
authentication, exception handler) with an Operations token. Examples are few per operation
and derandomized, so the run is repeatable and stays well under a minute.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error

from tests.customers.factories import CustomerFactory, OrderFactory

#: Generated cases per operation (fuzzing phase). Small and derandomized: the suite stays fast
#: and a failure reproduces on every run.
MAX_EXAMPLES = 20


def _load_schema() -> schemathesis.schemas.BaseSchema:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    # A JSON round trip turns lazy translations and Decimals into plain values.
    loaded = schemathesis.openapi.from_dict(json.loads(OpenApiJsonRenderer().render(raw)))
    # Schema examples plus fuzzing. The coverage phase (boundary values of every parameter,
    # every unexpected method: ~2,000 requests, minutes on a loaded machine) runs on demand:
    # TIERHUB_SCHEMATHESIS_COVERAGE=1.
    phases = ["examples", "fuzzing"]
    if os.environ.get("TIERHUB_SCHEMATHESIS_COVERAGE") == "1":
        phases.append("coverage")
    loaded.config.phases.update(phases=phases)
    return loaded


schema = _load_schema()
APP = WSGIHandler()


@pytest.fixture
def ops_token(ops) -> str:
    CustomerFactory(code="C1")
    OrderFactory(order_no="O1")
    return Token.objects.create(user=ops).key


@pytest.fixture
def _keep_test_transaction() -> Iterator[None]:
    """Stop the request signals closing the test's connection (Django's test Client does too)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_test_transaction")
@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)
def test_no_operation_answers_with_a_server_error(case, ops_token):
    response = case.call(app=APP, headers={"Authorization": f"Token {ops_token}"})
    case.validate_response(response, checks=[not_a_server_error])
