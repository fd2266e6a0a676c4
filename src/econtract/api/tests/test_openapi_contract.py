"""The OpenAPI document lists the error answers of every operation and says what `spec` really is."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db

ERROR_REF = "#/components/schemas/ErrorOut"
# Statuses an operation must declare because of what it does (the full lists live in the routers).
REQUIRED = {
    ("post", "/api/v1/envelopes"): {400, 401, 413, 415, 422},
    ("get", "/api/v1/envelopes"): {400, 401, 422},
    ("get", "/api/v1/envelopes/{envelope_id}"): {401, 404},
    ("post", "/api/v1/envelopes/{envelope_id}/send"): {401, 403, 404, 409},
    ("get", "/api/v1/envelopes/{envelope_id}/events"): {400, 401, 404},
    ("post", "/api/v1/envelopes/{envelope_id}/parties/{party_id}/otp"): {401, 403, 404, 409, 429},
    ("post", "/api/v1/envelopes/{envelope_id}/parties/{party_id}/sign"): {400, 401, 403, 404, 409, 423, 503},
    ("post", "/api/v1/envelopes/{envelope_id}/parties/{party_id}/remind"): {404, 409, 429},
    ("put", "/api/v1/me/signing-pin"): {400, 401, 403, 423},
    ("post", "/api/v1/verify"): {413, 422, 429},
}


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/api/openapi.json").json()


def operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method, path, operation


def test_every_operation_declares_its_error_answers_with_the_error_schema(schema):
    assert schema["components"]["schemas"]["ErrorOut"]["required"] == ["error", "detail"]
    for method, path, operation in operations(schema):
        errors = {int(status) for status in operation["responses"] if int(status) >= 400}
        assert errors, f"{method} {path} lists no error status"
        for status in errors:
            content = operation["responses"][str(status)]["content"]["application/json"]
            assert content["schema"] == {"$ref": ERROR_REF}, (method, path, status)
        if operation.get("security"):
            assert 401 in errors, f"{method} {path} needs authentication but does not list 401"
        assert REQUIRED.get((method, path), set()) <= errors, (method, path, sorted(errors))


def test_the_list_endpoints_answer_items_and_next_cursor(schema):
    for path in ("/api/v1/envelopes", "/api/v1/envelopes/{envelope_id}/events"):
        operation = schema["paths"][path]["get"]
        ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
        page = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert set(page["properties"]) == {"items", "next_cursor"}
        assert page["properties"]["items"]["type"] == "array"
        assert {p["name"] for p in operation["parameters"]} >= {"limit", "cursor"}
        limit = next(p for p in operation["parameters"] if p["name"] == "limit")["schema"]
        assert (limit["minimum"], limit["maximum"], limit["default"]) == (1, 200, 50)


def test_spec_is_documented_as_the_json_object_it_is(schema):
    body = schema["paths"]["/api/v1/envelopes"]["post"]["requestBody"]["content"]["multipart/form-data"]
    spec = body["schema"]["properties"]["spec"]
    assert spec["type"] == "object" and spec["contentMediaType"] == "application/json"
    assert {"title", "deadline", "parties", "fields"} <= set(spec["properties"])
    party = spec["properties"]["parties"]["items"]
    assert party["type"] == "object" and {"name", "email", "order"} <= set(party["properties"])
    field = spec["properties"]["fields"]["items"]
    # a cross-page seal gives only y and height: page, x and width are derived (issue 9)
    assert {"party", "y", "height"} <= set(field["required"])
    assert {"kind", "page", "x", "width"} <= set(field["properties"])
    assert "$ref" not in str(spec)  # inlined: nothing dangles inside the request body
    assert body["schema"]["properties"]["document"]["format"] == "binary"


def test_the_document_download_is_described_as_a_pdf(schema):
    operation = schema["paths"]["/api/v1/envelopes/{envelope_id}/document"]["get"]
    assert "application/pdf" in operation["responses"]["200"]["content"]
