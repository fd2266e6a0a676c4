"""Personal identity verification through the API, the identity provider reached over real HTTP.

Most tests ask the sandbox protocol served on a local port that counts the requests reaching it
(so "no provider call" can be asserted); one runs the embedded default, the running server's own
/sandbox/idp/. SMS codes are read from the embedded outbox, one JSON file per message.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from econtract.identity.models import IdentityVerification
from econtract.identity.tests.test_providers import KEY

ZHANG_SAN = "11010519491231002X"
ZHANG_SAN_PHONE = "+8613800138000"
ZHANG_SAN_CARD = "6222020200000000014"
UNKNOWN = "110105199001010010"  # well-formed, in no test identity
MALFORMED = "110105194912310021"  # the check character should be X
BASE = "/api/v1/me/identity-verifications"


@pytest.fixture(autouse=True)
def fast_kdf(settings):  # type: ignore[no-untyped-def]
    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1


@pytest.fixture
def person(make_user):  # type: ignore[no-untyped-def]
    return make_user("zhang@example.test", "张三 Zhang San", identity=None)  # email verified only: L1


@pytest.fixture
def api(api_client, person):  # type: ignore[no-untyped-def]
    return api_client(person)


def post(client: Any, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json.dumps(body), content_type="application/json")


def two_elements(name: str = "张三", number: str = ZHANG_SAN, **more: Any) -> dict[str, Any]:
    return {"method": "id_2el", "name": name, "id_type": "cn_resident", "id_number": number, **more}


@pytest.fixture
def texted(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    """POST that runs the request's after-commit work (the SMS), as a committed request would."""

    def post_and_commit(client: Any, path: str, body: dict[str, Any]) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return post(client, path, body)

    return post_and_commit


def sms_code(settings: Any, phone: str) -> str:
    """The code of the newest text message to ``phone`` in the embedded outbox."""
    directory = Path(settings.OUTBOX_DIR) / "sms"
    for path in sorted(directory.glob("*.json"), reverse=True):
        message = json.loads(path.read_text(encoding="utf-8"))
        if message["to"] == phone:
            found = re.search(r"(?<!\d)(\d{6})(?!\d)", message["text"])
            assert found, message["text"]
            return found.group(1)
    raise AssertionError(f"no text message to {phone} in {directory}")


# --- 2 elements ------------------------------------------------------------------------------------


def test_two_elements_verify_at_l2_and_me_shows_the_masked_identity(api, idp) -> None:  # type: ignore[no-untyped-def]
    before = api.get("/api/v1/me").json()
    assert (before["assurance_level"], before["identity"]) == ("L1", None)

    response = post(api, BASE, two_elements())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "verified" and body["assurance_level"] == "L2"
    assert body["account_assurance_level"] == "L2" and body["reason"] == "" and body["sandbox"] is True
    assert body["id_number_masked"] == "110***********002X"
    assert ZHANG_SAN not in response.content.decode()
    assert idp.requests == 1

    me = api.get("/api/v1/me").json()
    assert me["assurance_level"] == "L2"
    assert me["identity_provider_sandbox"] is False  # a provider is configured by URL here
    identity = me["identity"]
    assert {k: identity[k] for k in ("name", "id_type", "id_number_masked", "method")} == {
        "name": "张三",
        "id_type": "cn_resident",
        "id_number_masked": "110***********002X",
        "method": "id_2el",
    }
    assert identity["verified_at"]


def test_another_name_is_rejected_as_mismatch(api, idp) -> None:  # type: ignore[no-untyped-def]
    response = post(api, BASE, two_elements(name="李四"))
    assert response.status_code == 201
    body = response.json()
    assert (body["status"], body["outcome"], body["account_assurance_level"]) == (
        "rejected",
        "mismatch",
        "L1",
    )
    assert body["reason"]
    assert api.get("/api/v1/me").json()["identity"] is None
    assert idp.requests == 1


def test_an_unknown_number_is_rejected_as_not_found(api, idp) -> None:  # type: ignore[no-untyped-def]
    body = post(api, BASE, two_elements(number=UNKNOWN)).json()
    assert (body["status"], body["outcome"]) == ("rejected", "not_found")
    assert api.get("/api/v1/me").json()["assurance_level"] == "L1"


def test_a_malformed_number_is_400_and_costs_no_provider_call(api, idp, person) -> None:  # type: ignore[no-untyped-def]
    response = post(api, BASE, two_elements(number=MALFORMED))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_id_number"
    assert idp.requests == 0
    assert not IdentityVerification.objects.filter(user=person, status="verified").exists()


def test_the_provider_unreachable_is_503_and_decides_nothing(api, settings, person) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, not listening: the connection is refused
        settings.ECONTRACT_IDP_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        settings.ECONTRACT_IDP_KEY = KEY
        response = post(api, BASE, two_elements())
    assert response.status_code == 503
    assert response.json()["error"] == "provider_unavailable"
    assert not IdentityVerification.objects.filter(user=person, status="verified").exists()


def test_names_tried_against_one_number_are_limited_with_retry_after(api, idp) -> None:  # type: ignore[no-untyped-def]
    for name in ("李四", "王五", "赵六", "钱七", "孙八"):
        assert post(api, BASE, two_elements(name=name)).json()["outcome"] == "mismatch"
    refused = post(api, BASE, two_elements())  # the right name, but the number is locked for the day
    assert refused.status_code == 429
    assert refused.json()["error"] == "identity_rate_limited"
    assert int(refused["Retry-After"]) > 0
    assert idp.requests == 5


# --- 3 elements and bank card: an SMS code first ---------------------------------------------------


def test_three_elements_are_confirmed_with_the_code_texted_to_the_phone(api, idp, settings, texted) -> None:  # type: ignore[no-untyped-def]
    response = texted(api, BASE, two_elements(method="id_3el", phone="138 0013 8000"))
    assert response.status_code == 201, response.content
    pending = response.json()
    assert pending["status"] == "pending" and pending["account_assurance_level"] == "L1"
    assert idp.requests == 0  # the provider is asked once the phone is proven

    code = sms_code(settings, ZHANG_SAN_PHONE)
    response = post(api, f"{BASE}/{pending['id']}/confirm", {"otp": code})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "verified"
    assert api.get("/api/v1/me").json()["assurance_level"] == "L2"
    assert idp.requests == 1

    again = post(api, f"{BASE}/{pending['id']}/confirm", {"otp": code})
    assert (again.status_code, again.json()["error"]) == (409, "verification_not_pending")


def test_bank_card_four_elements_verify_at_l3(api, idp, settings, texted) -> None:  # type: ignore[no-untyped-def]
    body = two_elements(method="bank_4el", phone=ZHANG_SAN_PHONE, bank_card=ZHANG_SAN_CARD)
    pending = texted(api, BASE, body).json()
    assert pending["status"] == "pending"
    done = post(api, f"{BASE}/{pending['id']}/confirm", {"otp": sms_code(settings, ZHANG_SAN_PHONE)})
    assert done.status_code == 200 and done.json()["status"] == "verified"
    assert api.get("/api/v1/me").json()["assurance_level"] == "L3"


def test_five_wrong_codes_lock_the_verification(api, idp, settings, texted) -> None:  # type: ignore[no-untyped-def]
    pending = texted(api, BASE, two_elements(method="id_3el", phone=ZHANG_SAN_PHONE)).json()
    code = sms_code(settings, ZHANG_SAN_PHONE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    remaining = []
    for _ in range(5):
        response = post(api, f"{BASE}/{pending['id']}/confirm", {"otp": wrong})
        assert response.status_code == 400 and response.json()["error"] == "otp_invalid"
        remaining.append(response.json()["remaining_attempts"])
    assert remaining == [4, 3, 2, 1, 0]

    response = post(api, f"{BASE}/{pending['id']}/confirm", {"otp": code})  # the right code, too late
    assert response.status_code in {400, 409}
    assert response.json()["error"] in {"otp_expired", "verification_not_pending"}
    assert idp.requests == 0
    assert api.get(f"{BASE}/{pending['id']}").json()["status"] != "verified"
    assert api.get("/api/v1/me").json()["assurance_level"] == "L1"


# --- scope, list, revoke, methods this endpoint does not take --------------------------------------


def test_another_persons_verification_is_404(api, api_client, make_user, idp, settings, texted) -> None:  # type: ignore[no-untyped-def]
    pending = texted(api, BASE, two_elements(method="id_3el", phone=ZHANG_SAN_PHONE)).json()
    other = api_client(make_user("other@example.test", "王五 Wang Wu", identity=None))
    code = sms_code(settings, ZHANG_SAN_PHONE)
    assert other.get(f"{BASE}/{pending['id']}").status_code == 404
    assert post(other, f"{BASE}/{pending['id']}/confirm", {"otp": code}).status_code == 404
    assert post(other, f"{BASE}/{pending['id']}/revoke", {}).status_code == 404
    assert other.get(BASE).json() == {"items": [], "next_cursor": None}
    assert api.get(f"{BASE}/{pending['id']}").json()["status"] == "pending"


def test_the_list_is_newest_first_with_a_cursor(api, idp) -> None:  # type: ignore[no-untyped-def]
    first = post(api, BASE, two_elements(name="李四")).json()
    second = post(api, BASE, two_elements(number=UNKNOWN)).json()
    third = post(api, BASE, two_elements()).json()
    page = api.get(BASE, {"limit": 2}).json()
    assert [item["id"] for item in page["items"]] == [third["id"], second["id"]]
    rest = api.get(BASE, {"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [item["id"] for item in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    assert api.get(BASE, {"cursor": "garbage"}).json()["error"] == "invalid_cursor"


def test_revoking_ones_verification_drops_the_level(api, idp) -> None:  # type: ignore[no-untyped-def]
    verified = post(api, BASE, two_elements()).json()
    response = post(api, f"{BASE}/{verified['id']}/revoke", {"reason": "not me"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked" and response.json()["account_assurance_level"] == "L1"
    me = api.get("/api/v1/me").json()
    assert (me["assurance_level"], me["identity"]) == ("L1", None)


@pytest.mark.parametrize("method", ["manual", "face"])
def test_methods_with_images_point_to_the_multipart_upload(api, idp, method) -> None:  # type: ignore[no-untyped-def]
    response = post(api, BASE, two_elements(method=method))
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "unsupported_method" and "multipart" in body["detail"]
    assert f"/api/v1/me/identity-verifications/{method}" in body["detail"]
    assert idp.requests == 0


def test_unauthenticated_is_401(client, idp) -> None:  # type: ignore[no-untyped-def]
    assert post(client, BASE, two_elements()).status_code == 401
    assert client.get(BASE).status_code == 401


# --- the certificate follows the verified identity -------------------------------------------------


def test_no_signing_pin_below_l2_then_the_certificate_names_the_verified_name(api, idp, person) -> None:  # type: ignore[no-untyped-def]
    pin = {"pin": "246810"}
    refused = api.put("/api/v1/me/signing-pin", json.dumps(pin), content_type="application/json")
    assert refused.status_code == 409
    assert refused.json() | {"detail": ""} == {
        "error": "assurance_required",
        "detail": "",
        "required": "L2",
        "current": "L1",
    }
    person.refresh_from_db()
    assert not hasattr(person, "signer_key")

    assert post(api, BASE, two_elements()).json()["status"] == "verified"
    response = api.put("/api/v1/me/signing-pin", json.dumps(pin), content_type="application/json")
    assert response.status_code == 200, response.content
    person.refresh_from_db()
    certificate = x509.load_der_x509_certificate(bytes(person.signer_key.certificate.certificate_der))
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert [n.value for n in names] == ["张三"]  # the verified name, not the typed "张三 Zhang San"
    assert ZHANG_SAN not in certificate.subject.rfc4514_string()


def test_a_forgotten_pin_is_reset_by_verifying_the_same_identity_again(api, idp, person) -> None:  # type: ignore[no-untyped-def]
    from econtract.pki.models import IssuedCertificate, SignerKey

    assert post(api, BASE, two_elements()).json()["status"] == "verified"
    pin = {"pin": "246810"}
    assert (
        api.put("/api/v1/me/signing-pin", json.dumps(pin), content_type="application/json").status_code == 200
    )
    old_serial = SignerKey.objects.get(user=person).certificate.serial_number

    # Without a key to reset, or for another identity, nothing is asked of the provider.
    asked = idp.requests
    other = post(api, BASE, two_elements(name="张三丰", number=UNKNOWN, purpose="pin_reset"))
    assert (other.status_code, other.json()["error"]) == (400, "invalid_verification_request")
    assert idp.requests == asked

    again = post(api, BASE, two_elements(purpose="pin_reset"))
    assert again.status_code == 201 and again.json()["status"] == "verified", again.content
    assert not SignerKey.objects.filter(user=person).exists()
    assert IssuedCertificate.objects.get(serial_number=old_serial).revocation_reason == "superseded"
    new_pin = {"pin": "975310"}
    made = api.put("/api/v1/me/signing-pin", json.dumps(new_pin), content_type="application/json")
    assert made.status_code == 200 and made.json()["certificate_serial"] != old_serial


# --- the embedded default: the sandbox served by the running server --------------------------------


def test_the_embedded_default_asks_the_servers_own_sandbox(api, live_server, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_IDP_SANDBOX = True
    settings.ECONTRACT_IDP_SANDBOX_KEY = KEY
    settings.BASE_URL = live_server.url
    assert api.get("/api/v1/me").json()["identity_provider_sandbox"] is True
    body = post(api, BASE, two_elements()).json()
    assert (body["status"], body["sandbox"]) == ("verified", True)
    assert post(api, BASE, two_elements(name="李四")).json()["outcome"] == "mismatch"


# --- the OpenAPI document ----------------------------------------------------------------------------


def test_the_operations_are_documented_with_their_error_statuses(client, db) -> None:  # type: ignore[no-untyped-def]
    paths = client.get("/api/openapi.json").json()["paths"]
    expected = {
        ("post", BASE): {400, 401, 409, 422, 429, 503},
        ("get", BASE): {400, 401},
        ("post", BASE + "/{verification_id}/confirm"): {400, 401, 404, 409, 429, 503},
        ("post", BASE + "/{verification_id}/revoke"): {401, 404, 409},
        ("get", "/api/v1/me"): {401},
    }
    for (method, path), statuses in expected.items():
        declared = {int(s) for s in paths[path][method]["responses"]}
        assert statuses <= declared, (method, path, sorted(declared))
    me = client.get("/api/openapi.json").json()["components"]["schemas"]["MeOut"]["properties"]
    assert {"assurance_level", "identity", "identity_provider_sandbox"} <= set(me)
    created = paths[BASE]["post"]["responses"]["201"]["content"]["application/json"]["schema"]["$ref"]
    schema = client.get("/api/openapi.json").json()["components"]["schemas"][created.rsplit("/", 1)[1]]
    assert {"id", "status", "assurance_level", "reason", "sandbox"} <= set(schema["properties"])
