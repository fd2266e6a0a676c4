"""The contract package: one zip with everything a contract is made of, and a manifest of their digests.

Layout (names are ours, never the user's, so a name cannot climb out of the archive; her file name is
kept in the manifest)::

    manifest.json                      files, sizes, SHA-256, the contract's record and its verdict
    contract/signed.pdf  contract/original.pdf
    attachments/01-<sha256[:12]>.<ext>
    amendments/<number>/signed.pdf     every amendment, supplement and termination she may see
    certificates/<sha256[:16]>.pem     the signers' certificates as the verifier found them
    evidence/evidence-package.zip      step 5's evidence package of a contract signed on the platform
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from econtract.contracts.models import Contract, ContractFile
from econtract.contracts.services import amendment_chain
from econtract.evidence.services import RequestContext

ZIP_TIME = (2000, 1, 1, 0, 0, 0)  # fixed member times: the same contract gives the same members


@dataclass(frozen=True)
class Package:
    content: bytes
    filename: str
    sha256: str
    members: dict[str, str]  # name → SHA-256


def _safe(text: str) -> str:
    cleaned = re.sub(r"[^\w\-]+", "_", text, flags=re.UNICODE).strip("_")
    return cleaned[:60] or "contract"


def _extension(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return f".{suffix}" if re.fullmatch(r"[a-z0-9]{1,8}", suffix) else ".bin"


def _file_entries(contract: Contract, prefix: str) -> list[tuple[str, ContractFile]]:
    entries: list[tuple[str, ContractFile]] = []
    attachments = 0
    for stored in contract.files.order_by("created_at", "id"):
        if stored.kind == ContractFile.Kind.SIGNED:
            entries.append((f"{prefix}signed.pdf", stored))
        elif stored.kind == ContractFile.Kind.ORIGINAL:
            entries.append((f"{prefix}original.pdf", stored))
        else:
            attachments += 1
            entries.append(
                (
                    f"{prefix}attachments/{attachments:02d}-{stored.sha256[:12]}{_extension(stored.name)}",
                    stored,
                )
            )
    return entries


def _certificates(contract: Contract, signed_pdf: bytes | None) -> dict[str, bytes]:
    """The chains the verifier validated; for a contract signed here, the signers' certificates in the PDF."""
    ders: list[bytes] = []
    for signature in (contract.verification or {}).get("signatures", []):
        for encoded in signature.get("certificate_chain") or []:
            try:
                ders.append(base64.b64decode(encoded, validate=True))
            except ValueError:
                continue
    if not ders and signed_pdf is not None and contract.source == Contract.Source.ENVELOPE:
        from econtract.signing.pades import signer_certificates

        ders = [cert.dump() for cert in signer_certificates(signed_pdf)]
    found: dict[str, bytes] = {}
    for der in ders:
        if der:
            body = base64.encodebytes(der).decode("ascii").replace("\n", "")
            lines = [body[i : i + 64] for i in range(0, len(body), 64)]
            pem = "-----BEGIN CERTIFICATE-----\n" + "\n".join(lines) + "\n-----END CERTIFICATE-----\n"
            found[f"certificates/{hashlib.sha256(der).hexdigest()[:16]}.pem"] = pem.encode("ascii")
    return found


def _evidence(contract: Contract, requester_key: str, context: RequestContext) -> tuple[bytes | None, str]:
    if contract.envelope_id is None:
        return None, "archived from an upload: the platform holds no evidence of its signing"
    from econtract.evidence.errors import EvidenceError
    from econtract.evidence.issuance import issue_package

    try:
        issued = issue_package(contract.envelope, requester_key, context)  # type: ignore[arg-type]
    except EvidenceError as exc:
        return None, f"evidence not yet available: {exc}"
    return issued.content, ""


def _record(contract: Contract) -> dict[str, Any]:
    return {
        "id": str(contract.pk),
        "number": contract.number,
        "title": contract.title,
        "relation": contract.relation,
        "counterparties": contract.counterparties,
        "amount": str(contract.amount) if contract.amount is not None else None,
        "currency": contract.currency,
        "signed_at": contract.signed_at.isoformat() if contract.signed_at else None,
        "effective_on": contract.effective_on.isoformat() if contract.effective_on else None,
        "expires_on": contract.expires_on.isoformat() if contract.expires_on else None,
        "status": contract.status,
        "verdict": contract.verdict,
    }


def build_package(
    contract: Contract, user: Any, context: RequestContext, *, requester_key: str, with_evidence: bool = True
) -> Package:
    """The zip of ``contract`` as ``user`` may see it (amendments she cannot see are left out)."""
    members: dict[str, bytes] = {}
    files: list[dict[str, Any]] = []

    def add(name: str, data: bytes, about: dict[str, Any]) -> None:
        members[name] = data
        files.append({"path": name, "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), **about})

    signed_pdf: bytes | None = None
    for name, stored in _file_entries(contract, "contract/"):
        data = stored.read_bytes()
        if hashlib.sha256(data).hexdigest() != stored.sha256:
            raise OSError(f"the stored file {stored.pk} does not match its digest")
        if stored.kind == ContractFile.Kind.SIGNED:
            signed_pdf = data
        add(name, data, {"kind": stored.kind, "name": stored.name, "description": stored.description})
    amendments = [
        item
        for item in amendment_chain(contract, user)
        if item.amends_id is not None and item.pk != contract.pk
    ]
    for amendment in amendments:
        prefix = f"amendments/{_safe(amendment.number)}/"
        for name, stored in _file_entries(amendment, prefix):
            add(
                name,
                stored.read_bytes(),
                {"kind": stored.kind, "name": stored.name, "relation": amendment.relation},
            )
    for name, pem in sorted(_certificates(contract, signed_pdf).items()):
        add(name, pem, {"kind": "certificate"})
    evidence_note = ""
    if with_evidence:
        evidence, evidence_note = _evidence(contract, requester_key, context)
        if evidence is not None:
            add("evidence/evidence-package.zip", evidence, {"kind": "evidence_package"})
    manifest = {
        "format": "econtract-contract-package/1",
        "generated_at": timezone.now().isoformat(),
        "contract": _record(contract),
        "amendments": [_record(item) for item in amendments],
        "files": files,
        **({"evidence": evidence_note} if evidence_note else {}),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        body = json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True).encode()
        archive.writestr(zipfile.ZipInfo("manifest.json", ZIP_TIME), body, compress_type=zipfile.ZIP_DEFLATED)
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, ZIP_TIME), data, compress_type=zipfile.ZIP_DEFLATED)
    content = buffer.getvalue()
    return Package(
        content=content,
        filename=f"{_safe(contract.number)}-package.zip",
        sha256=hashlib.sha256(content).hexdigest(),
        members={name: hashlib.sha256(data).hexdigest() for name, data in members.items()},
    )
