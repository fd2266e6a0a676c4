"""The face check through the provider interface, over real HTTP: the running server's own sandbox
(/sandbox/idp/face), the standalone sandbox command, and an unreachable provider."""

from __future__ import annotations

import base64
import io
import json
import socket
from typing import Any

import pytest
import requests

from econtract.identity.idnumbers import IdType
from econtract.identity.models import IdentityVerification
from econtract.identity.providers import FaceCheck, HttpJsonProvider, Outcome, SandboxProvider
from econtract.identity.providers.http import face_url
from econtract.identity.tests import pictures
from econtract.identity.tests.test_providers import KEY, ZHANG_SAN, standalone_sandbox  # noqa: F401

FACE = "/api/v1/me/identity-verifications/face"
WANG_FANG = "110105199201010023"  # a test identity whose face never matches (sandbox_identities.json)
UNKNOWN = "110105199001010010"


def face(name: str = "张三", number: str = ZHANG_SAN, selfie: bytes | None = None) -> FaceCheck:
    return FaceCheck(
        name=name, id_type=IdType.CN_RESIDENT, id_number=number, selfie=selfie or pictures.jpeg()
    )


@pytest.fixture
def served(live_server: Any, settings: Any) -> HttpJsonProvider:
    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_IDP_SANDBOX = True
    settings.ECONTRACT_IDP_SANDBOX_KEY = KEY
    settings.BASE_URL = live_server.url
    return HttpJsonProvider(live_server.url + "/sandbox/idp/", KEY, timeout=10)


def submit(client: Any, *, name: str = "张三", number: str = ZHANG_SAN, selfie: bytes | None = None) -> Any:
    handle = io.BytesIO(selfie if selfie is not None else pictures.jpeg_with_gps())
    handle.name = "selfie.jpg"
    return client.post(FACE, {"name": name, "id_type": "cn_resident", "id_number": number, "selfie": handle})


def test_sandbox_face_rule_over_http(served: HttpJsonProvider) -> None:
    result = served.check_face(face())
    assert (result.outcome, result.sandbox, result.provider) == (Outcome.MATCH, True, "econtract-sandbox")
    assert served.check_face(face(name="李四")).outcome is Outcome.MISMATCH
    assert served.check_face(face(name="王芳", number=WANG_FANG)).outcome is Outcome.MISMATCH
    assert served.check_face(face(number=UNKNOWN)).outcome is Outcome.NOT_FOUND
    assert served.check_face(face(selfie=pictures.png())).outcome is Outcome.MATCH


def test_sandbox_face_protocol_refusals(served: HttpJsonProvider) -> None:
    url = face_url(served.url)
    auth = {"Authorization": f"Bearer {KEY}"}
    body = face().as_json()
    assert requests.post(url, json=body, timeout=5).status_code == 401
    not_an_image = {**body, "selfie": base64.b64encode(pictures.polyglot_jpeg_zip()).decode()}
    refused = requests.post(url, json=not_an_image, headers=auth, timeout=5)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_image")
    malformed = {**body, "id_number": "11010519491231002"}
    refused = requests.post(url, json=malformed, headers=auth, timeout=5)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_id_number")
    garbage = requests.post(url, data=b"[[[", headers=auth, timeout=5)
    assert (garbage.status_code, garbage.json()["error"]) == (400, "invalid_request")
    # an element check sent to the face resource is no face check
    element = requests.post(url, data=json.dumps({"method": "id_2el"}), headers=auth, timeout=5)
    assert element.status_code == 400


def test_face_check_over_the_api_verifies_at_l3(
    served: HttpJsonProvider, api_client: Any, make_user: Any
) -> None:
    person = make_user("zhang@example.test", "张三 Zhang San", identity=None)
    response = submit(api_client(person))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["method"], body["assurance_level"], body["sandbox"]) == (
        "verified",
        "face",
        "L3",
        True,
    )
    assert body["account_assurance_level"] == "L3"
    row = IdentityVerification.objects.get(pk=body["id"])
    assert row.provider == "econtract-sandbox" and row.images.get().kind == "selfie"


def test_face_mismatch_and_unknown_are_rejected(
    served: HttpJsonProvider, api_client: Any, make_user: Any
) -> None:
    person = make_user("wang@example.test", "王芳 Wang Fang", identity=None)
    client = api_client(person)
    body = submit(client, name="王芳", number=WANG_FANG).json()
    assert (body["status"], body["outcome"]) == ("rejected", "mismatch")
    assert "face" in body["reason"]
    body = submit(client, name="王芳", number=UNKNOWN).json()
    assert (body["status"], body["outcome"]) == ("rejected", "not_found")
    person.refresh_from_db()
    assert person.assurance_level == "L1"


def test_face_check_refuses_a_bad_selfie_before_asking(
    served: HttpJsonProvider, api_client: Any, make_user: Any
) -> None:
    client = api_client(make_user("zhang@example.test", "张三 Zhang San", identity=None))
    response = submit(client, selfie=pictures.polyglot_png_html())
    assert (response.status_code, response.json()["error"]) == (415, "not_an_image")
    response = submit(client, number="11010519491231002")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_id_number")
    assert not IdentityVerification.objects.exists()


def test_unreachable_provider_decides_nothing(api_client: Any, make_user: Any, settings: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        settings.ECONTRACT_IDP_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        settings.ECONTRACT_IDP_KEY = KEY
        response = submit(api_client(make_user("zhang@example.test", "张三 Zhang San", identity=None)))
    assert (response.status_code, response.json()["error"]) == (503, "provider_unavailable")
    assert IdentityVerification.objects.get().status == "pending"


def test_standalone_sandbox_answers_face_checks(standalone_sandbox: str) -> None:  # noqa: F811
    provider = HttpJsonProvider(standalone_sandbox, KEY, timeout=5)
    assert provider.check_face(face()).outcome is Outcome.MATCH
    assert provider.check_face(face(name="王芳", number=WANG_FANG)).outcome is Outcome.MISMATCH


def test_in_process_sandbox_applies_the_same_rule() -> None:
    provider = SandboxProvider()
    assert provider.check_face(face()).outcome is Outcome.MATCH
    assert provider.check_face(face(name="王芳", number=WANG_FANG)).outcome is Outcome.MISMATCH
    broken = provider.check_face(face(selfie=b"\xff\xd8\xff not a picture"))
    assert broken.outcome is Outcome.UNAVAILABLE
