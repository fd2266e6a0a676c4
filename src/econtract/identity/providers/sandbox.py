"""The sandbox identity provider: answers from a JSON file of test identities, never a real register.

It speaks the same JSON protocol (docs/identity.md) as any provider behind ECONTRACT_IDP_URL, served
at /sandbox/idp/ by the running server and by ``econtract sandbox idp --port N``; ``answer`` is the
one implementation of that protocol, and ``SandboxProvider`` asks the same identities in-process.
"""

from __future__ import annotations

import hmac
import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.utils import timezone

from econtract.identity.errors import InvalidIdNumber
from econtract.identity.idnumbers import IdType
from econtract.identity.providers.base import CheckMethod, IdentityCheck, IdentityCheckResult, Outcome
from econtract.jsoninput import JsonRefused, load_json

DEFAULT_IDENTITIES = Path(__file__).resolve().parent.parent / "sandbox_identities.json"
SANDBOX_NAME = "econtract-sandbox"
MAX_REQUEST_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class TestIdentity:
    name: str
    id_type: IdType
    id_number: str
    phone: str
    bank_card: str


def load_identities(path: Path = DEFAULT_IDENTITIES) -> tuple[TestIdentity, ...]:
    document = load_json(path.read_bytes())
    return tuple(
        TestIdentity(
            name=entry["name"],
            id_type=IdType(entry["id_type"]),
            id_number=entry["id_number"],
            phone=entry["phone"],
            bank_card=entry["bank_card"],
        )
        for entry in document["identities"]
    )


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


class SandboxProvider:
    """In-process sandbox, for callers that run before the server does (``econtract demo``)."""

    name = SANDBOX_NAME

    def __init__(self, identities_path: Path = DEFAULT_IDENTITIES) -> None:
        self.identities = load_identities(identities_path)

    def check_identity(self, request: IdentityCheck) -> IdentityCheckResult:
        return IdentityCheckResult(
            outcome=judge(request, self.identities),
            provider=self.name,
            reference=f"sandbox-{uuid.uuid4().hex}",
            checked_at=timezone.now(),
            sandbox=True,
        )


def answer(
    body: bytes, authorization: str, key: str, identities: Iterable[TestIdentity]
) -> tuple[int, dict[str, Any]]:
    """One protocol exchange: the HTTP status and JSON body answering a POSTed request."""
    if not key or not hmac.compare_digest(authorization.encode(), f"Bearer {key}".encode()):
        return 401, {"error": "invalid_key"}
    try:
        fields = load_json(body, max_bytes=MAX_REQUEST_BYTES, max_depth=2)
        if not isinstance(fields, dict):
            raise ValueError("the request must be a JSON object")
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
            if length > MAX_REQUEST_BYTES:
                status, content = 413, {"error": "too_large"}
            else:
                body = environ["wsgi.input"].read(length)
                status, content = answer(body, environ.get("HTTP_AUTHORIZATION", ""), key, known)
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
