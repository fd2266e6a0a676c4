"""The API's edge (body parser, multipart reader, schema validation) answers the same JSON errors for
every operation, and the OpenAPI document lists them: found by schemathesis
(tests/e2e/test_api_schema_fuzz.py), which reported undocumented 422s for malformed path ids,
undocumented 400s for bodies that are not JSON, and Django's HTML 400 for a multipart body without
a boundary."""

from __future__ import annotations

import pytest

from econtract.api.openapi import document_edge_errors, edge_errors

pytestmark = pytest.mark.django_db

SOME_ID = "1a437768-054a-43aa-a590-37b6bd34f168"


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        return Client().get("/api/openapi.json").json()


@pytest.fixture
def alice_api(make_user, api_client):
    return api_client(make_user("alice@example.test"))


def documented(schema, method: str, path: str) -> set[int]:
    return {int(status) for status in schema["paths"][path][method]["responses"]}


def test_every_operation_documents_the_edge_answers_it_can_get(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            listed = documented(schema, method, path)
            if operation.get("requestBody"):
                assert {400, 413, 422} <= listed, (method, path, sorted(listed))
            if operation.get("parameters"):
                assert 422 in listed, (method, path, sorted(listed))
            for status in listed - {200, 201, 204}:
                answer = operation["responses"][str(status)]
                assert answer["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorOut"
                }, (method, path, status)


def test_an_operation_without_input_gets_no_edge_answers():
    assert edge_errors({"parameters": [], "responses": {200: {}}}) == set()
    assert edge_errors({"parameters": [{"name": "id"}]}) == {422}
    assert edge_errors({"requestBody": {"content": {"multipart/form-data": {}}}}) == {400, 413, 422}


def test_what_an_operation_lists_itself_is_kept_and_answers_are_in_status_order():
    mine = {"description": "mine"}
    document = {
        "paths": {
            "/x": {
                "post": {
                    "parameters": [{"name": "id"}],
                    "requestBody": {"content": {"application/json": {}}},
                    "responses": {201: {}, 422: mine},
                }
            }
        }
    }
    answers = document_edge_errors(document)["paths"]["/x"]["post"]["responses"]
    assert list(answers) == [201, 400, 413, 422]
    assert answers[422] is mine


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/me/identity-verifications/{verification_id}"),
        ("get", "/api/v1/me/identity-verifications/{verification_id}/id-number"),
        ("post", "/api/v1/identity-reviews/{verification_id}/approve"),
    ],
)
def test_a_malformed_id_in_the_path_is_a_documented_422(schema, alice_api, method, path):
    response = getattr(alice_api, method)(path.format(verification_id="null,null"))
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert response.json()["errors"][0]["loc"] == ["path", "verification_id"]
    assert 422 in documented(schema, method, path)


@pytest.mark.parametrize("path", ["/api/v1/me/factors/totp", "/api/v1/me/identity-verifications"])
def test_a_body_that_is_not_json_is_a_documented_400(schema, alice_api, path):
    response = alice_api.post(path, data=b"\x00", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_json"
    assert 400 in documented(schema, "post", path)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/me/identity-verifications/manual",
        "/api/v1/me/identity-verifications/face",
        "/api/v1/envelopes",
    ],
)
@pytest.mark.parametrize("content_type", ["multipart/form-data", "multipart/form-data; boundary="])
def test_a_multipart_body_without_a_boundary_is_the_apis_json_400(schema, alice_api, path, content_type):
    response = alice_api.post(path, data=b"x", content_type=content_type)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"] == "invalid_multipart"
    assert 400 in documented(schema, "post", path)


def test_the_verify_upload_refuses_a_broken_multipart_body_without_authentication(schema, client):
    response = client.post("/api/v1/verify", data=b"x", content_type="multipart/form-data")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_multipart")
    assert 400 in documented(schema, "post", "/api/v1/verify")
