import pytest
from django.db import connection


@pytest.mark.django_db
def test_database_is_postgresql_under_the_harness():
    from tests.harness import services_available

    expected = "postgresql" if services_available() else "sqlite"
    assert connection.vendor == expected
