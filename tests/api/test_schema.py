"""The OpenAPI schema tells the truth about the responses: every field that can be null is
declared nullable, every operation lists the error statuses it can answer with the one error
body, and list endpoints document (and enforce) exactly the query parameters they accept."""

from __future__ import annotations

import json

import pytest
from django.db import models
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from rest_framework import serializers


def _generate():
    generator = SchemaGenerator()
    raw = generator.get_schema(request=None, public=True)
    return generator, json.loads(OpenApiJsonRenderer().render(raw))


@pytest.fixture(scope="module")
def generated():
    return _generate()


def _can_be_null(model: type[models.Model], source: str) -> bool | None:
    """Whether following `source` (dotted) from `model` can end in None; None if unknown."""
    for part in source.split("."):
        try:
            field = model._meta.get_field(part)
        except Exception:  # a property or method: its type hint decides, not the model
            return None
        if field.many_to_many or field.one_to_many:
            return None  # a list: empty, never null
        if field.null:
            return True
        if not field.is_relation or field.related_model is None:
            return False
        model = field.related_model
    return False


def _response_serializers(generator):
    for component in generator.registry._components.values():
        instance = component.object
        if isinstance(instance, serializers.Serializer) and hasattr(instance, "Meta"):
            yield component.name, instance


def test_every_field_that_can_be_null_is_declared_nullable(generated):
    generator, schema = generated
    wrong = []
    for name, serializer in _response_serializers(generator):
        model = getattr(serializer.Meta, "model", None)
        properties = schema["components"]["schemas"].get(name, {}).get("properties", {})
        if model is None or not properties:
            continue
        for field_name, field in serializer.fields.items():
            if field.write_only or field.source == "*" or field_name not in properties:
                continue
            if isinstance(field, serializers.SerializerMethodField | serializers.ManyRelatedField):
                continue
            if _can_be_null(model, field.source) and not properties[field_name].get("nullable"):
                wrong.append(f"{name}.{field_name}")
    assert wrong == [], "\n".join(wrong)


# --- error statuses ----------------------------------------------------------------------------


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield f"{method.upper()} {path}", operation


def test_every_operation_documents_its_error_statuses_with_the_one_error_body(generated):
    _generator, schema = generated
    missing = {}
    for label, operation in _operations(schema):
        method, path = label.split(" ", 1)
        expected = {"400", "401", "403", "406"}
        ok = operation["responses"].get("200", {}).get("content", {}).get("application/json")
        if "{" in path or "Paginated" in (ok or {}).get("schema", {}).get("$ref", ""):
            expected.add("404")
        if method == "POST":
            expected |= {"409", "415"}
        if label == "POST /api/benefits/redeem/":
            expected.add("404")  # declared by the view: no such customer or benefit
        if label == "POST /api/auth/token/":
            expected.add("429")  # declared by the view: locked out (django-axes)
        errors = {
            code: response
            for code, response in operation["responses"].items()
            if code.startswith("4")
        }
        if set(errors) != expected:
            missing[label] = sorted(set(errors) ^ expected)
        for response in errors.values():
            assert response["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, label
            assert response["description"], label
    assert missing == {}


def test_list_filters_are_documented_with_their_types(generated):
    _generator, schema = generated
    customers = {p["name"]: p for p in schema["paths"]["/api/customers/"]["get"]["parameters"]}
    runs = {p["name"]: p for p in schema["paths"]["/api/runs/"]["get"]["parameters"]}

    assert set(customers) == {
        "account_manager",
        "code",
        "grade",
        "industry",
        "is_active",
        "kind",
        "page",
        "page_size",
        "q",
    }
    assert customers["code"]["description"] == "The customer with exactly this code."
    assert customers["is_active"]["schema"] == {"type": "boolean"}
    assert customers["kind"]["schema"]["enum"] == ["channel_agent", "end_customer", "reseller"]
    assert customers["code"]["allowEmptyValue"] is True
    assert customers["page_size"]["schema"] == {"type": "integer", "minimum": 1}
    assert runs["scheme"]["schema"] == {"type": "integer"}
    assert runs["as_of_after"]["schema"] == {"type": "string", "format": "date"}


def test_each_event_kind_has_its_own_documented_list_and_bulk(generated):
    _generator, schema = generated
    kinds = ("complaints", "reviews", "tickets", "invitations", "referrals")

    for kind in kinds:
        listing = schema["paths"][f"/api/events/{kind}/"]["get"]
        bulk = schema["paths"][f"/api/events/{kind}/bulk/"]["post"]
        assert (
            "Paginated"
            in listing["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        )
        assert "Columns of each row" in bulk["description"]
        assert set(bulk["requestBody"]["content"]) == {"application/json"}
    assert "/api/events/{kind}/" not in schema["paths"]
