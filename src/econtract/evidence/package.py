"""The evidence package (format econtract-evidence-package/v1): one zip holding everything needed to check
an envelope offline, with a manifest signed by the platform's evidence-service certificate.

``build_package`` only reads: the evidence comes from ``envelope_evidence.collect``. The format and the
checks ``package_verify.verify_package`` runs are described in docs/evidence.md ("Evidence package").
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import UTC, datetime
from typing import Any

import rfc8785
from asn1crypto import cms, keys, pem
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from django.conf import settings
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from econtract.evidence import log, notes
from econtract.evidence.envelope_evidence import EnvelopeEvidence
from econtract.evidence.package_container import FORMAT, MANIFEST, MANIFEST_SIGNATURE
from econtract.evidence.witnessing import configured_witnesses
from econtract.pki.hierarchy import Role, platform_certificate, platform_identity
from econtract.pki.services import ensure_platform_pki
from econtract.pki.tsa import get_timestamper
from econtract.signing.pades import run_sync

DOCUMENT = "document.pdf"
REPORT = "evidence-report.pdf"
PROOFS = "proofs.json"
CHECKPOINT = "checkpoint.txt"
CHECKPOINT_TOKEN = "checkpoint.tsr"
LOG_KEY = "log.vkey"
WITNESS_KEYS = "witnesses.vkeys"
README = "README.txt"
ROOT_PEM = "certificates/root.pem"
ISSUING_PEM = "certificates/issuing.pem"
TSA_PEM = "certificates/tsa.pem"
EVIDENCE_PEM = "certificates/evidence.pem"
# A fixed time for every zip entry: the members' bytes, not the clock, are what the manifest signs.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def leaf_member(index: int) -> str:
    return f"leaves/{index}.json"


def signer_member(serial: str) -> str:
    return f"certificates/signer-{serial}.pem"


def _pem(*certificates: asn1_x509.Certificate) -> bytes:
    return b"".join(pem.armor("CERTIFICATE", c.dump()) for c in certificates)


def token_signer(token_der: bytes) -> asn1_x509.Certificate | None:
    """The certificate inside an RFC 3161 token (a CMS SignedData) that signed it, if it is embedded."""
    signed = cms.ContentInfo.load(token_der)["content"]
    sid = signed["signer_infos"][0]["sid"]
    for choice in signed["certificates"] or []:
        certificate = choice.chosen
        if not isinstance(certificate, asn1_x509.Certificate):
            continue
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                certificate.issuer == wanted["issuer"]
                and certificate.serial_number == wanted["serial_number"].native
            ):
                return certificate
        elif certificate.key_identifier == sid.chosen.native:
            return certificate
    return None


def _tsa_certificates(evidence: EnvelopeEvidence) -> list[asn1_x509.Certificate]:
    """The TSA certificates that signed the checkpoint token and (with the in-process TSA) the one that
    stamps the manifest signature now."""
    found: list[asn1_x509.Certificate] = []
    token = bytes(evidence.checkpoint.timestamp_token or b"")
    if token:
        signer = token_signer(token)
        if signer is not None:
            found.append(signer)
    if not str(getattr(settings, "ECONTRACT_TSA_URL", "") or ""):
        found.append(platform_certificate(Role.TSA))
    unique = {c.sha256: c for c in found}
    return list(unique.values())


def _manifest(evidence: EnvelopeEvidence, members: dict[str, bytes]) -> bytes:
    envelope = evidence.envelope
    checkpoint = evidence.checkpoint
    body: dict[str, Any] = {
        "format": FORMAT,
        "envelope": str(envelope.pk),
        "title": envelope.title,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "log": {
            "origin": log.get_log().origin,
            "tree_size": checkpoint.tree_size,
            "root_hash": log.b64(bytes(checkpoint.root_hash)),
        },
        "revisions": [
            {"version": r.version, "reason": r.reason, "sha256": r.sha256, "size": r.size}
            for r in evidence.revisions
        ],
        "events": [
            {
                "index": e.index,
                "event": str(e.event.pk),
                "kind": e.event.kind,
                "subject": f"{e.event.subject_type}:{e.event.subject_id}",
            }
            for e in evidence.all_events
        ],
        "members": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
            for name, data in sorted(members.items())
        },
    }
    return bytes(rfc8785.dumps(body))


def sign_manifest(manifest: bytes) -> bytes:
    """Detached CMS SignedData over the manifest bytes by the evidence-service certificate, with the issuing
    CA embedded and a signature timestamp; openssl cms -verify checks it."""
    identity = platform_identity(Role.EVIDENCE)
    key_der = identity.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=identity.asn1,
        signing_key=keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([platform_certificate(Role.ISSUING)]),
    )
    timestamper = get_timestamper()  # made in this thread: the in-process TSA borrows its connection
    signed = run_sync(
        signer.async_sign_general_data(manifest, "sha256", detached=True, timestamper=timestamper)
    )
    return bytes(signed.dump())


README_TEXT = """\
econtract 证据包 / evidence package (econtract-evidence-package/v1)

内容 Contents
  manifest.json        清单：每个文件的 SHA-256 与大小、日志检查点、文件版本与事件
                       the manifest: every member's SHA-256 and size, the log checkpoint, revisions, events
  manifest.p7s         平台证据服务证书对 manifest.json 的分离式 CMS 签名
                       detached CMS signature over manifest.json by the platform's evidence-service certificate
  document.pdf         已完成的合同 PDF（全部签名与文档时间戳） / the completed PDF (all signatures, B-LTA)
  evidence-report.pdf  平台签发的证据报告 / the evidence report signed by the platform
  leaves/N.json        透明日志中每个事件的叶子（原始字节） / each event's exact leaf in the transparency log
  proofs.json          每个叶子相对检查点的包含证明 / inclusion proofs against the checkpoint
  checkpoint.txt       日志签名的检查点及见证联署 / the log-signed checkpoint with witness cosignatures
  checkpoint.tsr       检查点的 RFC 3161 时间戳（若有） / the checkpoint's RFC 3161 timestamp token (if any)
  log.vkey             日志验证公钥 / the log's verifier key
  witnesses.vkeys      见证者公钥（若有） / the witnesses' verifier keys (if any)
  certificates/        根证书、签发 CA、TSA、证据服务及签署人证书 / root, issuing CA, TSA, evidence service, signers

请勿只信任包内的根证书与日志公钥：与平台公布的 /pki/root.pem 与 /log/vkey 或其他来源比对。
Do not trust only the root and log key inside the package: compare them with /pki/root.pem and /log/vkey
as the platform publishes them, or with a copy from another source.

核验 Checking
  econtract verify package.zip --trust-root root.pem --log-key "$(cat log.vkey)"
  openssl cms -verify -binary -inform DER -in manifest.p7s -content manifest.json \\
      -CAfile certificates/root.pem -purpose any
  sha256sum document.pdf evidence-report.pdf      # 与 manifest.json 比对 / compare with manifest.json
  head -n 5 checkpoint.txt > checkpoint-signed.txt  # 去掉见证联署行 / without the cosignature lines
  openssl ts -verify -in checkpoint.tsr -token_in -data checkpoint-signed.txt \\
      -CAfile certificates/root.pem -untrusted certificates/tsa.pem
  pdfsig document.pdf ; pdfsig evidence-report.pdf
"""


def _members(evidence: EnvelopeEvidence, report_pdf: bytes) -> dict[str, bytes]:
    members: dict[str, bytes] = {
        DOCUMENT: bytes(evidence.final_document.read_bytes()),
        REPORT: bytes(report_pdf),
    }
    for logged in evidence.all_events:
        members[leaf_member(logged.index)] = logged.leaf
    proofs: dict[str, Any] = {
        "tree_size": evidence.checkpoint.tree_size,
        "proofs": {str(e.index): [log.b64(h) for h in e.proof] for e in evidence.all_events},
    }
    members[PROOFS] = bytes(rfc8785.dumps(proofs))
    members[CHECKPOINT] = evidence.cosigned_note.encode()
    token = bytes(evidence.checkpoint.timestamp_token or b"")
    if token:
        members[CHECKPOINT_TOKEN] = token
    members[LOG_KEY] = (log.log_verifier_key() + "\n").encode()
    witnesses = configured_witnesses()
    if witnesses:
        members[WITNESS_KEYS] = "".join(
            notes.verifier_key(w.verifier.name, w.verifier.public_key, w.verifier.key_type) + "\n"
            for w in witnesses
        ).encode()
    members[ROOT_PEM] = _pem(platform_certificate(Role.ROOT))
    members[ISSUING_PEM] = _pem(platform_certificate(Role.ISSUING))
    members[TSA_PEM] = _pem(*_tsa_certificates(evidence))
    members[EVIDENCE_PEM] = _pem(platform_certificate(Role.EVIDENCE))
    for issued in evidence.signer_certificates:
        members[signer_member(issued.serial_number)] = _pem(
            asn1_x509.Certificate.load(bytes(issued.certificate_der))
        )
    members[README] = README_TEXT.encode()
    return members


def zip_members(members: dict[str, bytes]) -> bytes:
    """The zip of `members` in the given order: deflated, fixed times, no directory entries, no comment."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def build_package(evidence: EnvelopeEvidence, *, report_pdf: bytes) -> bytes:
    """The zip of an envelope's evidence package (docs/evidence.md, "Evidence package")."""
    ensure_platform_pki()
    members = _members(evidence, report_pdf)
    manifest = _manifest(evidence, members)
    ordered = {MANIFEST: manifest, MANIFEST_SIGNATURE: sign_manifest(manifest), **members}
    return zip_members(ordered)
