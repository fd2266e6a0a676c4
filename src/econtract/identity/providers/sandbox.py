"""The sandbox identity provider: answers from a JSON file of test identities, never a real register.

It speaks the same JSON protocol (docs/identity.md) as any provider behind ECONTRACT_IDP_URL, served
at /sandbox/idp/ by the running server and by ``econtract sandbox idp --port N``; ``answer`` is the
one implementation of that protocol, and ``SandboxProvider`` asks the same identities in-process.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.utils import timezone

from econtract.identity.errors import ImageRefused, InvalidIdNumber, InvalidUscc
from econtract.identity.idnumbers import IdType
from econtract.identity.providers.base import (
    ENTERPRISE_4EL,
    CheckMethod,
    EnterpriseCheck,
    FaceCheck,
    IdentityCheck,
    IdentityCheckResult,
    Outcome,
)
from econtract.jsoninput import JsonRefused, load_json

DEFAULT_IDENTITIES = Path(__file__).resolve().parent.parent / "sandbox_identities.json"
SANDBOX_NAME = "econtract-sandbox"
MAX_REQUEST_BYTES = 16 * 1024
# A face check carries the selfie (at most identity.images' 5 MB, base64): its own, larger bound.
MAX_FACE_REQUEST_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class TestIdentity:
    name: str
    id_type: IdType
    id_number: str
    phone: str
    bank_card: str
    face: str = "match"  # the sandbox's face check answers this for her: "match" or "mismatch"


def load_identities(path: Path = DEFAULT_IDENTITIES) -> tuple[TestIdentity, ...]:
    document = load_json(path.read_bytes())
    return tuple(
        TestIdentity(
            name=entry["name"],
            id_type=IdType(entry["id_type"]),
            id_number=entry["id_number"],
            phone=entry["phone"],
            bank_card=entry["bank_card"],
            face=entry.get("face", "match"),
        )
        for entry in document["identities"]
    )


@dataclass(frozen=True, slots=True)
class TestEnterprise:
    name: str
    uscc: str
    legal_rep_name: str
    legal_rep_id_type: IdType
    legal_rep_id_number: str


def load_enterprises(path: Path = DEFAULT_IDENTITIES) -> tuple[TestEnterprise, ...]:
    document = load_json(path.read_bytes())
    return tuple(
        TestEnterprise(
            name=entry["name"],
            uscc=entry["uscc"],
            legal_rep_name=entry["legal_representative"]["name"],
            legal_rep_id_type=IdType(entry["legal_representative"]["id_type"]),
            legal_rep_id_number=entry["legal_representative"]["id_number"],
        )
        for entry in document.get("enterprises", [])
    )


def judge_enterprise(check: EnterpriseCheck, enterprises: Iterable[TestEnterprise]) -> Outcome:
    """not_found: no such USCC; match: all four elements registered together; else mismatch."""
    registered = [e for e in enterprises if e.uscc == check.uscc]
    if not registered:
        return Outcome.NOT_FOUND
    for enterprise in registered:
        if (
            enterprise.name == check.name
            and enterprise.legal_rep_name == check.legal_rep_name
            and enterprise.legal_rep_id_type == check.legal_rep_id_type
            and enterprise.legal_rep_id_number == check.legal_rep_id_number
        ):
            return Outcome.MATCH
    return Outcome.MISMATCH


def judge(check: IdentityCheck, identities: Iterable[TestIdentity]) -> Outcome:
    holders = [i for i in identities if i.id_type == check.id_type and i.id_number == check.id_number]
    if not holders:
        return Outcome.NOT_FOUND
    for holder in holders:
        if holder.name != check.name:
            continue
        if check.method in {CheckMethod.ID_3EL, CheckMethod.BANK_4EL} and holder.phone != check.phone:
            continue
        if check.method is CheckMethod.BANK_4EL and holder.bank_card != check.bank_card:
            continue
        return Outcome.MATCH
    return Outcome.MISMATCH


def judge_face(check: FaceCheck, identities: Iterable[TestIdentity]) -> Outcome:
    """The sandbox's face rule, deterministic and documented (docs/identity.md): no face is compared
    and no liveness is claimed. The selfie must decode as a JPEG or PNG (identity.images); then an
    unknown number is ``not_found``, a known number with another name ``mismatch``, and a test identity
    answers her ``face`` entry in sandbox_identities.json (``match`` unless it says ``mismatch``)."""
    holders = [i for i in identities if i.id_type == check.id_type and i.id_number == check.id_number]
    if not holders:
        return Outcome.NOT_FOUND
    for holder in holders:
        if holder.name == check.name:
            return Outcome.MATCH if holder.face == "match" else Outcome.MISMATCH
    return Outcome.MISMATCH


def _usable_selfie(selfie: bytes) -> bool:
    from econtract.identity.images import clean_image  # Pillow: only once a face check is asked

    try:
        clean_image(selfie)
    except ImageRefused:
        return False
    return True


class SandboxProvider:
    """In-process sandbox, for callers that run before the server does (``econtract demo``)."""

    name = SANDBOX_NAME

    def __init__(self, identities_path: Path = DEFAULT_IDENTITIES) -> None:
        self.identities = load_identities(identities_path)
        self.enterprises = load_enterprises(identities_path)

    def check_enterprise(self, request: EnterpriseCheck) -> IdentityCheckResult:
        return IdentityCheckResult(
            outcome=judge_enterprise(request, self.enterprises),
            provider=self.name,
            reference=f"sandbox-{uuid.uuid4().hex}",
            checked_at=timezone.now(),
            sandbox=True,
        )

    def check_face(self, request: FaceCheck) -> IdentityCheckResult:
        if not _usable_selfie(request.selfie):
            return IdentityCheckResult(
                outcome=Outcome.UNAVAILABLE,
                provider=self.name,
                reference="",
                checked_at=timezone.now(),
                sandbox=True,
                detail="the selfie is not a usable image",
            )
        return IdentityCheckResult(
            outcome=judge_face(request, self.identities),
            provider=self.name,
            reference=f"sandbox-{uuid.uuid4().hex}",
            checked_at=timezone.now(),
            sandbox=True,
        )

    def check_identity(self, request: IdentityCheck) -> IdentityCheckResult:
        return IdentityCheckResult(
            outcome=judge(request, self.identities),
            provider=self.name,
            reference=f"sandbox-{uuid.uuid4().hex}",
            checked_at=timezone.now(),
            sandbox=True,
        )


def answer(
    body: bytes,
    authorization: str,
    key: str,
    identities: Iterable[TestIdentity],
    enterprises: Iterable[TestEnterprise] | None = None,  # None: the default file's test enterprises
) -> tuple[int, dict[str, Any]]:
    """One protocol exchange: the HTTP status and JSON body answering a POSTed request."""
    if not key or not hmac.compare_digest(authorization.encode(), f"Bearer {key}".encode()):
        return 401, {"error": "invalid_key"}
    try:
        fields = load_json(body, max_bytes=MAX_REQUEST_BYTES, max_depth=2)
        if not isinstance(fields, dict):
            raise ValueError("the request must be a JSON object")
        if fields.get("method") == ENTERPRISE_4EL:
            return _answer_enterprise(fields, _default_enterprises() if enterprises is None else enterprises)
        check = IdentityCheck(
            method=CheckMethod(_text(fields, "method") or ""),
            name=_text(fields, "name") or "",
            id_type=IdType(_text(fields, "id_type") or ""),
            id_number=_text(fields, "id_number") or "",
            phone=_text(fields, "phone"),
            bank_card=_text(fields, "bank_card"),
        )
    except InvalidIdNumber:
        return 400, {"error": "invalid_id_number"}
    except (JsonRefused, ValueError) as exc:
        return 400, {"error": "invalid_request", "detail": str(exc) if isinstance(exc, JsonRefused) else ""}
    outcome = judge(check, identities)
    return 200, {
        "outcome": str(outcome),
        "reference": f"sandbox-{uuid.uuid4().hex}",
        "provider": SANDBOX_NAME,
        "sandbox": True,
    }


@cache
def _default_enterprises() -> tuple[TestEnterprise, ...]:
    return load_enterprises()


def _answer_enterprise(
    fields: dict[str, Any], enterprises: Iterable[TestEnterprise]
) -> tuple[int, dict[str, Any]]:
    try:
        check = EnterpriseCheck(
            name=_text(fields, "name") or "",
            uscc=_text(fields, "uscc") or "",
            legal_rep_name=_text(fields, "legal_representative_name") or "",
            legal_rep_id_type=IdType(_text(fields, "legal_representative_id_type") or ""),
            legal_rep_id_number=_text(fields, "legal_representative_id_number") or "",
        )
    except InvalidUscc:
        return 400, {"error": "invalid_uscc"}
    except InvalidIdNumber:
        return 400, {"error": "invalid_id_number"}
    except ValueError:
        return 400, {"error": "invalid_request", "detail": ""}
    return 200, {
        "outcome": str(judge_enterprise(check, enterprises)),
        "reference": f"sandbox-{uuid.uuid4().hex}",
        "provider": SANDBOX_NAME,
        "sandbox": True,
    }


def answer_face(
    body: bytes, authorization: str, key: str, identities: Iterable[TestIdentity]
) -> tuple[int, dict[str, Any]]:
    """One face-check exchange (POST <sandbox>/face): the HTTP status and JSON body."""
    if not key or not hmac.compare_digest(authorization.encode(), f"Bearer {key}".encode()):
        return 401, {"error": "invalid_key"}
    try:
        fields = load_json(body, max_bytes=MAX_FACE_REQUEST_BYTES, max_depth=2)
        if not isinstance(fields, dict) or fields.get("method") != "face":
            raise ValueError("the request must be a JSON object with method face")
        selfie = base64.b64decode(_text(fields, "selfie") or "", validate=True)
        check = FaceCheck(
            name=_text(fields, "name") or "",
            id_type=IdType(_text(fields, "id_type") or ""),
            id_number=_text(fields, "id_number") or "",
            selfie=selfie,
            content_type=_text(fields, "selfie_content_type") or "image/jpeg",
        )
    except InvalidIdNumber:
        return 400, {"error": "invalid_id_number"}
    except (JsonRefused, ValueError, binascii.Error) as exc:
        return 400, {"error": "invalid_request", "detail": str(exc) if isinstance(exc, JsonRefused) else ""}
    if not _usable_selfie(check.selfie):
        return 400, {"error": "invalid_image", "detail": "the selfie is not a usable JPEG or PNG image"}
    return 200, {
        "outcome": str(judge_face(check, identities)),
        "reference": f"sandbox-{uuid.uuid4().hex}",
        "provider": SANDBOX_NAME,
        "sandbox": True,
    }


def _text(fields: dict[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    return value


WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]


def wsgi_app(key: str, identities: Iterable[TestIdentity]) -> WsgiApp:
    """The protocol as a bare WSGI application, for ``econtract sandbox idp`` (any path answers)."""
    known = tuple(identities)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ.get("REQUEST_METHOD") != "POST":
            status, content = 405, {"error": "method_not_allowed"}
        else:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            face = str(environ.get("PATH_INFO", "")).rstrip("/").endswith("/face")
            if length > (MAX_FACE_REQUEST_BYTES if face else MAX_REQUEST_BYTES):
                status, content = 413, {"error": "too_large"}
            else:
                body = environ["wsgi.input"].read(length)
                exchange = answer_face if face else answer
                status, content = exchange(body, environ.get("HTTP_AUTHORIZATION", ""), key, known)
        payload = json.dumps(content, ensure_ascii=False).encode()
        reasons = {
            200: "OK",
            400: "Bad Request",
            401: "Unauthorized",
            405: "Method Not Allowed",
            413: "Content Too Large",
        }
        start_response(
            f"{status} {reasons[status]}",
            [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))],
        )
        return [payload]

    return application
