"""The operator's picture download is documented as the picture it is: schemathesis
(tests/e2e/test_api_schema_fuzz.py, run as an operator) got `image/png` where the OpenAPI document
said `application/json`."""

from __future__ import annotations

from typing import Any

import pytest

from econtract.identity.tests.test_review import REVIEWS, make_operator, submitted

pytestmark = pytest.mark.django_db

IMAGE = "/api/v1/identity-reviews/{verification_id}/images/{image_id}"


@pytest.fixture
def person(make_user: Any) -> Any:
    return make_user("li@example.test", "李明 Li Ming", identity=None)


@pytest.fixture
def operator(make_user: Any) -> Any:
    return make_operator(make_user)


def test_the_picture_download_is_documented_as_jpeg_or_png(client: Any) -> None:
    answers = client.get("/api/openapi.json").json()["paths"][IMAGE]["get"]["responses"]
    assert set(answers["200"]["content"]) == {"image/jpeg", "image/png"}
    for content in answers["200"]["content"].values():
        assert content["schema"] == {"type": "string", "format": "binary"}
    assert {"401", "403", "404", "422"} <= set(answers)


@pytest.mark.parametrize("kind", ["front", "back", "selfie"])
def test_every_picture_comes_with_a_documented_content_type(
    client: Any,
    api_client: Any,
    person: Any,
    operator: Any,
    kind: str,
) -> None:
    documented = client.get("/api/openapi.json").json()["paths"][IMAGE]["get"]["responses"]["200"]["content"]
    row = submitted(api_client, person)
    image = row.images.get(kind=kind)
    response = api_client(operator).get(f"{REVIEWS}/{row.pk}/images/{image.pk}")
    assert response.status_code == 200
    assert response["Content-Type"] in documented


def test_the_review_queue_is_a_list_of_the_api_with_pages_oldest_first(
    api_client: Any, make_user: Any, operator: Any
) -> None:
    """Every API list answers {"items", "next_cursor"} (docs/api.md); the queue was a bare array."""
    people = [make_user(f"p{n}@example.test", "李明 Li Ming", identity=None) for n in range(3)]
    rows = [submitted(api_client, person) for person in people]
    client = api_client(operator)
    first = client.get(REVIEWS, {"limit": 2}).json()
    assert [item["id"] for item in first["items"]] == [str(row.pk) for row in rows[:2]]
    second = client.get(REVIEWS, {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [item["id"] for item in second["items"]] == [str(rows[2].pk)]
    assert second["next_cursor"] is None


@pytest.mark.parametrize(
    "cursor", ["%%%", "W10", "WyJlbnZlbG9wZXMiLDFd", "WyJpZGVudGl0eS1yZXZpZXdzIiwieCIsInkiXQ"]
)
def test_a_forged_review_cursor_is_a_clear_400(api_client: Any, operator: Any, cursor: str) -> None:
    response = api_client(operator).get(REVIEWS, {"cursor": cursor})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_cursor")


def test_the_review_queue_is_documented_as_a_page(client: Any) -> None:
    document = client.get("/api/openapi.json").json()
    operation = document["paths"][REVIEWS]["get"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    page = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(page["properties"]) == {"items", "next_cursor"}
    assert {p["name"] for p in operation["parameters"]} >= {"limit", "cursor"}
