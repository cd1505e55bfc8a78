"""Property-based run of every API operation against the OpenAPI schema, with every check
schemathesis has: no 5xx, every status and content type documented, every body matching its
schema (nullable fields included), schema-valid input accepted and invalid input refused,
authentication enforced.

The schema is generated in-process by drf-spectacular (no server, no network) and loaded into
schemathesis; each generated case, and each probe a check sends (e.g. the same request without
credentials), goes through Django's real WSGI handler (middleware, authentication, exception
handler) with an Operations token. Examples are few per operation and derandomized, so the run
is repeatable and stays well under a minute.
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
from schemathesis.config import SchemathesisConfig

from appeals.models import Appeal
from benefits.services.redemptions import benefit_redeem
from tests.appeals.factories import downgrade
from tests.benefits.factories import set_grade
from tests.customers.factories import (
    ComplaintFactory,
    CustomerFactory,
    OrderFactory,
    ReferralFactory,
    ServiceTicketFactory,
)
from tests.grading.factories import GradeChangeFactory, ScoreSnapshotFactory

#: Generated cases per operation (fuzzing phase). Small and derandomized: the suite stays fast
#: and a failure reproduces on every run.
MAX_EXAMPLES = 15

#: Writes whose input refers to other rows or carries values only the import services can
#: judge (an existing customer code, a parseable date not in the future, a known username,
#: right credentials): a schema-valid body may still be refused with 400 naming the row and
#: field. Every other check, and every other operation, keeps schemathesis' defaults.
BUSINESS_VALIDATED_WRITES = (
    r"^/api/(customers/|orders/|(customers|orders|events/[^/]+)/bulk/|auth/token/)$"
)

CONFIG = {
    "operations": [
        {
            "include-method": "POST",
            "include-path-regex": BUSINESS_VALIDATED_WRITES,
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "400", "401", "403", "404", "409"]
                }
            },
        }
    ]
}


def _load_schema() -> schemathesis.schemas.BaseSchema:
    raw = SchemaGenerator().get_schema(request=None, public=True)
    # A JSON round trip turns lazy translations and Decimals into plain values.
    loaded = schemathesis.openapi.from_dict(
        json.loads(OpenApiJsonRenderer().render(raw)),
        config=SchemathesisConfig.from_dict(CONFIG),
    )
    # Schema examples plus fuzzing. The coverage phase (boundary values of every parameter,
    # every unexpected method: ~2,000 requests, minutes on a loaded machine) runs on demand:
    # TIERHUB_SCHEMATHESIS_COVERAGE=1.
    phases = ["examples", "fuzzing"]
    if os.environ.get("TIERHUB_SCHEMATHESIS_COVERAGE") == "1":
        phases.append("coverage")
    loaded.config.phases.update(phases=phases)
    # Cases and the checks' own probes go to Django in-process.
    loaded.app = APP
    return loaded


APP = WSGIHandler()
schema = _load_schema()


@pytest.fixture
def ops_token(ops) -> str:
    """Operations' token, in a small world with a row of every kind, nullable fields null."""
    customer = CustomerFactory.create(code="C1", account_manager=None)
    OrderFactory(order_no="O1", customer=customer, category=None)
    ComplaintFactory(customer=customer)
    ServiceTicketFactory(customer=customer)
    ReferralFactory(referrer=customer, referred=None, referred_name="A friend")
    change = downgrade(customer)  # undecided: decided_by is null
    Appeal.objects.create(customer=customer, change=change, reason="Late deliveries")
    # A first grade: no grade before, no from_grade.
    newcomer = CustomerFactory.create(code="C2")
    ScoreSnapshotFactory(customer=newcomer, grade_before=None, recency_days=None, gap_cv=None)
    GradeChangeFactory(customer=newcomer, from_grade=None, direction="up")
    set_grade(customer, "key")
    benefit_redeem(  # no acting user: redeemed_by is null
        customer_id=customer.pk, benefit_code="discount-5", idempotency_key="k", channel="api"
    )
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
def test_every_operation_keeps_its_contract(case, ops_token):
    # No `checks=`: every check schemathesis registers and enables by default runs.
    case.call_and_validate(headers={"Authorization": f"Token {ops_token}"})
