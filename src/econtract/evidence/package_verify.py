"""Check an evidence package (econtract-evidence-package/v1) offline: no database, no configured platform.

A judge's laptop has the zip and, at best, the platform's root certificate and log key from elsewhere.
Seven checks run in order (docs/evidence.md, "Evidence package"): container, manifest signature,
checkpoint, cosignatures, leaves, revisions, PDF signatures. Each is reported; a failed container or
manifest signature leaves the PDF signatures unchecked (their bytes are not the signed ones, and each PDF
costs a sandboxed child process), and a container that cannot be read safely stops everything.

Nothing here imports a model: only the log's pure formats (merkle, notes), the PKI profile's constants and
the PDF verifier's sandbox.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from asn1crypto import cms, pem
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.validation import generic_cms
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from econtract.evidence import merkle, notes
from econtract.evidence.package_container import (
    MANIFEST,
    MANIFEST_SIGNATURE,
    Entry,
    Manifest,
    Problem,
    Refused,
    check_member_set,
    get_typed,
    layout,
    lenient_entries,
    parse_manifest,
    read_members,
)
from econtract.pki.profile import POLICY_EVIDENCE_SERVICE, TSA_POLICY_OID
from econtract.verification.errors import UnreadablePdf, VerificationLimitExceeded
from econtract.verification.isolation import verify_pdf_isolated

if TYPE_CHECKING:
    from econtract.verification.plain_language import PackageReportLike

logger = logging.getLogger(__name__)

LEAF_VERSION = "econtract-event/v1"  # econtract.evidence.leaf.LEAF_VERSION (that module imports models)
DOCUMENT = "document.pdf"
REPORT = "evidence-report.pdf"
PROOFS = "proofs.json"
CHECKPOINT = "checkpoint.txt"
CHECKPOINT_TOKEN = "checkpoint.tsr"
LOG_KEY = "log.vkey"
WITNESS_KEYS = "witnesses.vkeys"
ROOT_PEM = "certificates/root.pem"
ISSUING_PEM = "certificates/issuing.pem"
TSA_PEM = "certificates/tsa.pem"
EVIDENCE_PEM = "certificates/evidence.pem"

CHECK_CONTAINER = "container"
CHECK_MANIFEST = "manifest signature"
CHECK_CHECKPOINT = "checkpoint"
CHECK_COSIGNATURES = "cosignatures"
CHECK_LEAVES = "leaves"
CHECK_REVISIONS = "revisions"
CHECK_PDF = "PDF signatures"
CHECK_ORDER = (
    CHECK_CONTAINER,
    CHECK_MANIFEST,
    CHECK_CHECKPOINT,
    CHECK_COSIGNATURES,
    CHECK_LEAVES,
    CHECK_REVISIONS,
    CHECK_PDF,
)

TrustSource = Literal["given", "package"]


@dataclass
class PackageCheck:  # not frozen: plain_language.PackageCheckLike declares plain attributes
    name: str
    ok: bool
    detail: str
    ran: bool = True  # False: not run because an earlier check failed (then ok is False too)


@dataclass
class PackageReport:
    ok: bool
    summary: str
    checks: list[PackageCheck]
    trust_source: TrustSource = "package"
    root_fingerprints: list[str] = field(default_factory=list)  # SHA-256 of each trust root's DER
    log_key_source: TrustSource = "package"
    log_key_fingerprints: list[str] = field(default_factory=list)  # SHA-256 of each log vkey line
    witness_key_source: Literal["given", "package", "none"] = "none"
    envelope: str = ""
    title: str = ""

    @property
    def first_failure(self) -> PackageCheck | None:
        return next((check for check in self.checks if not check.ok), None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


if TYPE_CHECKING:

    def _is_plain_language_report(report: PackageReport) -> PackageReportLike:
        return report  # mypy proves PackageReport satisfies the page's protocol


def fingerprint(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def vkey_fingerprint(vkey: str) -> str:
    """SHA-256 of the verifier key line as /log/vkey serves it (the key and a newline)."""
    return fingerprint((vkey.strip() + "\n").encode())


# --- 2. manifest signature -----------------------------------------------------------------------


def load_pem_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """Every certificate of a PEM file (or one DER certificate), fully parsed."""
    if pem.detect(data):
        certificates = [
            asn1_x509.Certificate.load(der)
            for kind, _headers, der in pem.unarmor(data, multiple=True)
            if kind == "CERTIFICATE"
        ]
    else:
        certificates = [asn1_x509.Certificate.load(data)]
    for certificate in certificates:
        _ = certificate.native  # a broken certificate fails here, not inside validation
    return certificates


def _run(coroutine: Any) -> Any:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _context(roots: list[asn1_x509.Certificate], others: list[asn1_x509.Certificate]) -> ValidationContext:
    # Offline: nothing is fetched; revocation cannot be asked, so soft-fail (the PDFs carry their own).
    # The manifest signature is judged on the certificates it embeds alone (members are not vouched for
    # before it holds); the checkpoint token may use certificates/issuing.pem and tsa.pem.
    if not roots:  # an empty list would mean the operating system's roots to certvalidator
        raise Problem("no trust root to check it against")
    return ValidationContext(
        trust_roots=list(roots), other_certs=list(others), allow_fetching=False, revocation_mode="soft-fail"
    )


def _policies(certificate: asn1_x509.Certificate) -> set[str]:
    value = certificate.certificate_policies_value
    return {p["policy_identifier"].dotted for p in value} if value is not None else set()


def _member(files: dict[str, bytes], name: str) -> bytes:
    if name not in files:
        raise Problem(f"{name} is missing")
    return files[name]


def _certificates(files: dict[str, bytes], name: str) -> list[asn1_x509.Certificate]:
    try:
        certificates = load_pem_certificates(_member(files, name))
    except Problem:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is a broken member
        raise Problem(f"{name} is not a certificate file") from exc
    if not certificates:
        raise Problem(f"{name} holds no certificate")
    return certificates


def _intermediates(files: dict[str, bytes]) -> list[asn1_x509.Certificate]:
    found: list[asn1_x509.Certificate] = []
    for name in (ISSUING_PEM, TSA_PEM):
        try:
            found.extend(_certificates(files, name))
        except Problem:
            continue
    return found


def _check_manifest_signature(
    files: dict[str, bytes], manifest: Manifest, roots: list[asn1_x509.Certificate]
) -> str:
    raw = files[MANIFEST]
    try:
        info = cms.ContentInfo.load(_member(files, MANIFEST_SIGNATURE), strict=True)
        if info["content_type"].native != "signed_data":
            raise Problem("manifest.p7s is not CMS SignedData")
        signed = info["content"]
        if signed["encap_content_info"]["content"].native is not None:
            raise Problem("manifest.p7s is not a detached signature")
        status = _run(
            generic_cms.async_validate_detached_cms(
                raw, signed, signer_validation_context=_context(roots, [])
            )
        )
    except Problem:
        raise
    except Exception as exc:  # noqa: BLE001 - hostile CMS: any failure is a failed signature
        raise Problem(f"manifest.p7s cannot be validated: {exc}") from exc
    if not status.intact or not status.valid:
        raise Problem("the manifest signature does not match manifest.json")
    if not status.trusted:
        raise Problem("the manifest signer's certificate does not chain to the trust root")
    signer: asn1_x509.Certificate = status.signing_cert
    if POLICY_EVIDENCE_SERVICE not in _policies(signer):
        raise Problem("the manifest is not signed by an evidence-service certificate (policy missing)")
    evidence = _certificates(files, EVIDENCE_PEM)[0]
    if signer.dump() != evidence.dump():
        raise Problem("the manifest signer is not certificates/evidence.pem")
    stamp = status.timestamp_validity
    if stamp is not None and not (stamp.intact and stamp.valid and stamp.trusted):
        raise Problem("the manifest signature's timestamp does not verify")
    for name, (sha256, size) in sorted(manifest.members.items()):
        data = files.get(name, b"")
        if len(data) != size or hashlib.sha256(data).hexdigest() != sha256:
            raise Problem(f"{name} is not the file the manifest describes (SHA-256 or size differ)")
    when = f", timestamped {stamp.timestamp.isoformat()}" if stamp is not None else ", no timestamp"
    return (
        f"signed by {signer.subject.human_friendly} (serial {signer.serial_number}){when}; "
        f"{len(manifest.members)} members match their SHA-256 and size"
    )


# --- 3. checkpoint, 4. cosignatures --------------------------------------------------------------


@dataclass(frozen=True)
class _Note:
    text: str
    log_signed: str  # the note as the log signed it: text, blank line, the log's signature line
    cosignature_lines: list[str]


def _split_checkpoint(note: str, log_verifier: notes.Verifier | None) -> _Note:
    text, _lines = notes.split_note(note)
    block = note[len(text) + 1 :].splitlines(keepends=True)
    log_line = -1
    for position, line in enumerate(block):
        name, _, encoded = line[len(notes.SIGNATURE_DASH) :].rstrip("\n").partition(" ")
        raw = base64.b64decode(encoded)
        if log_verifier is not None and name == log_verifier.name and raw[:4] == log_verifier.id:
            log_line = position
            break
    signed = text + "\n" + "".join(block[: log_line + 1]) if log_line >= 0 else note
    rest = block[log_line + 1 :] if log_line >= 0 else block
    return _Note(text, signed, [line.rstrip("\n") for line in rest])


def _check_checkpoint(
    files: dict[str, bytes],
    manifest: Manifest,
    verifier: notes.Verifier,
    roots: list[asn1_x509.Certificate],
) -> str:
    try:
        note = _member(files, CHECKPOINT).decode("utf-8")
        text = notes.open_note(note, verifier)
        body = notes.parse_checkpoint(text)
    except UnicodeDecodeError as exc:
        raise Problem("checkpoint.txt is not UTF-8") from exc
    except notes.NoteError as exc:
        raise Problem(f"checkpoint.txt: {exc}") from exc
    if body.origin != manifest.origin:
        raise Problem(f"the checkpoint's origin {body.origin!r} is not the manifest's {manifest.origin!r}")
    if body.tree_size != manifest.tree_size or body.root_hash != manifest.root_hash:
        raise Problem("the checkpoint's size or root is not the manifest's")
    if CHECKPOINT_TOKEN not in files:
        raise Problem("no timestamp on the checkpoint")
    signed_part = _split_checkpoint(note, verifier).log_signed.encode()
    try:
        token = cms.ContentInfo.load(files[CHECKPOINT_TOKEN], strict=True)
        if token["content_type"].native != "signed_data":
            raise Problem("checkpoint.tsr is not a timestamp token")
        signed = token["content"]
        tst_info = signed["encap_content_info"]["content"].parsed
        policy = tst_info["policy"].dotted
        kwargs = _run(
            generic_cms.validate_tst_signed_data(
                signed,
                _context(roots, _intermediates(files)),
                lambda algorithm: hashlib.new(algorithm, signed_part).digest(),
            )
        )
        status = TimestampSignatureStatus(**kwargs)
    except Problem:
        raise
    except Exception as exc:  # noqa: BLE001 - hostile token: any failure is a failed check
        raise Problem(f"checkpoint.tsr cannot be validated: {exc}") from exc
    if not status.intact:
        raise Problem("the checkpoint's timestamp token is over other bytes")
    if not status.valid:
        raise Problem("the checkpoint's timestamp token signature does not verify")
    if not status.trusted:
        raise Problem("the checkpoint's timestamp token does not chain to the trust root")
    tsa = status.signing_cert.subject.human_friendly
    policy_note = "" if policy == TSA_POLICY_OID else f", TSA policy {policy}"
    return (
        f"signed by the log key {verifier.name}; size {body.tree_size}, root "
        f"{base64.b64encode(body.root_hash).decode()}; timestamped {status.timestamp.isoformat()} by {tsa}"
        f"{policy_note}"
    )


def _check_cosignatures(
    files: dict[str, bytes], log_verifier: notes.Verifier | None, witnesses: list[str]
) -> str:
    try:
        note = _member(files, CHECKPOINT).decode("utf-8")
        parsed = _split_checkpoint(note, log_verifier)
    except (UnicodeDecodeError, notes.NoteError, binascii.Error, ValueError) as exc:
        raise Problem(f"checkpoint.txt is not a signed note: {exc}") from exc
    if not witnesses:
        if parsed.cosignature_lines:
            return f"{len(parsed.cosignature_lines)} signature line(s) besides the log's, no witness key to check"
        return "unwitnessed: no witness cosigned this checkpoint"
    checked: list[str] = []
    for vkey in witnesses:
        try:
            verifier = notes.parse_verifier_key(vkey)
        except notes.NoteError as exc:
            raise Problem(f"witness key {vkey!r} is malformed: {exc}") from exc
        if verifier.key_type != notes.COSIGNATURE_V1:
            raise Problem(f"witness key {verifier.name} is not a cosignature (0x04) key")
        for line in parsed.cosignature_lines:
            try:
                notes.verify_cosignature(parsed.text, line, verifier)
            except notes.NoteError:
                continue
            checked.append(verifier.name)
            break
        else:
            raise Problem(f"no valid cosignature by witness {verifier.name}")
    return f"cosigned by {', '.join(checked)}"


# --- 5. leaves -----------------------------------------------------------------------------------


def _proofs(files: dict[str, bytes], manifest: Manifest) -> dict[str, list[bytes]]:
    try:
        body = json.loads(_member(files, PROOFS))
        tree_size = get_typed(body, "tree_size", int)
        proofs = {
            key: [base64.b64decode(h, validate=True) for h in hashes]
            for key, hashes in get_typed(body, "proofs", dict).items()
        }
    except Problem:
        raise
    except (ValueError, TypeError, RecursionError, binascii.Error) as exc:
        raise Problem(f"proofs.json is malformed: {exc}") from exc
    if tree_size != manifest.tree_size:
        raise Problem("proofs.json is not against the manifest's tree size")
    return proofs


def _leaf_bodies(files: dict[str, bytes], manifest: Manifest) -> dict[int, dict[str, Any]]:
    bodies: dict[int, dict[str, Any]] = {}
    for entry in manifest.events:
        try:
            body = json.loads(_member(files, f"leaves/{entry.index}.json"))
        except (ValueError, RecursionError) as exc:
            raise Problem(f"leaf {entry.index} is not JSON") from exc
        if not isinstance(body, dict) or body.get("v") != LEAF_VERSION:
            raise Problem(f"leaf {entry.index} is not an {LEAF_VERSION} leaf")
        bodies[entry.index] = body
    return bodies


def _check_leaves(files: dict[str, bytes], manifest: Manifest) -> str:
    proofs = _proofs(files, manifest)
    described = {f"leaves/{e.index}.json" for e in manifest.events}
    stray = sorted(name for name in files if name.startswith("leaves/") and name not in described)
    if stray:
        raise Problem(f"{stray[0]} is not an event of the manifest")
    bodies = _leaf_bodies(files, manifest)
    hashes: dict[int, bytes] = {}
    for entry in manifest.events:
        data = files[f"leaves/{entry.index}.json"]
        digest = merkle.leaf_hash(data)
        try:
            merkle.verify_inclusion(
                digest, entry.index, manifest.tree_size, proofs.get(str(entry.index), []), manifest.root_hash
            )
        except merkle.ProofError as exc:
            raise Problem(f"leaf {entry.index} is not in the log at the checkpoint: {exc}") from exc
        body = bodies[entry.index]
        if (body.get("event"), body.get("kind"), body.get("subject")) != (
            entry.event,
            entry.kind,
            entry.subject,
        ):
            raise Problem(f"leaf {entry.index} is not the event the manifest names")
        hashes[entry.index] = digest
    _check_chains(manifest, bodies, hashes)
    subjects = {e.subject for e in manifest.events}
    return (
        f"{len(manifest.events)} leaves of {len(subjects)} subjects, each included in the checkpoint; "
        "every subject's chain is complete and linked"
    )


def _check_chains(manifest: Manifest, bodies: dict[int, dict[str, Any]], hashes: dict[int, bytes]) -> None:
    by_subject: dict[str, list[int]] = {}
    for entry in sorted(manifest.events, key=lambda e: e.index):
        by_subject.setdefault(entry.subject, []).append(entry.index)
    if not any(s.endswith(f":{manifest.envelope}") for s in by_subject):
        raise Problem("no leaf of the envelope itself")
    for subject, indices in by_subject.items():
        previous: bytes | None = None
        for position, index in enumerate(indices, start=1):
            body = bodies[index]
            if body.get("sequence") != position:
                raise Problem(
                    f"leaf {index} of {subject} is event {body.get('sequence')}, expected {position}"
                )
            link = body.get("previous_leaf_hash")
            if link != (previous.hex() if previous is not None else None):
                raise Problem(f"leaf {index} of {subject} does not link to the subject's previous leaf")
            previous = hashes[index]


# --- 6. revisions --------------------------------------------------------------------------------


def _check_revisions(files: dict[str, bytes], manifest: Manifest) -> str:
    document = _member(files, DOCUMENT)
    revisions = manifest.revisions
    if not revisions:
        raise Problem("the manifest lists no revision")
    # Incremental updates: each revision is a prefix of the next, hashed once in one pass.
    digest, hashed = hashlib.sha256(), 0
    for position, revision in enumerate(revisions):
        if revision.version != revisions[0].version + position:
            raise Problem(f"revisions are not numbered consecutively at {revision.version}")
        if not hashed <= revision.size <= len(document) or (position and revision.size == hashed):
            raise Problem(f"revision {revision.version} is not a longer prefix of document.pdf")
        digest.update(document[hashed : revision.size])
        hashed = revision.size
        if digest.copy().hexdigest() != revision.sha256:
            raise Problem(f"revision {revision.version} is not a prefix of document.pdf")
    if revisions[-1].size != len(document):
        raise Problem("document.pdf is longer than its last revision")
    if revisions[0].reason != "original":
        raise Problem("the first revision is not the original")
    envelope_leaves = _envelope_leaves(files, manifest)

    def only(kind: str) -> dict[str, Any]:
        found = [body for body in envelope_leaves if body.get("kind") == kind]
        if len(found) != 1:
            raise Problem(f"{len(found)} {kind!r} leaves of the envelope, expected one")
        return found[0]

    if only("created").get("document_sha256") != revisions[0].sha256:
        raise Problem("the 'created' leaf does not describe the original revision")
    signature_revisions = [r for r in revisions if r.reason == "signature"]
    signed = [body for body in envelope_leaves if body.get("kind") == "signed"]
    if len(signed) != len(signature_revisions):
        raise Problem(f"{len(signed)} 'signed' leaves but {len(signature_revisions)} signature revisions")
    for body, revision in zip(signed, signature_revisions, strict=True):
        if body.get("document_sha256") != revision.sha256:
            raise Problem(f"signature {body.get('sequence')} does not describe revision {revision.version}")
    if only("completed").get("document_sha256") != revisions[-1].sha256:
        raise Problem("the 'completed' leaf does not describe the last revision")
    return (
        f"{len(revisions)} revisions, each a prefix of document.pdf, the last the whole file; "
        f"described by the created, {len(signed)} signed and completed leaves"
    )


def _envelope_leaves(files: dict[str, bytes], manifest: Manifest) -> list[dict[str, Any]]:
    """The envelope's leaves in chain order (parsed; inclusion is the leaves check's business)."""
    bodies = []
    for entry in sorted(manifest.events, key=lambda e: e.index):
        if entry.subject.endswith(f":{manifest.envelope}"):
            try:
                body = json.loads(_member(files, f"leaves/{entry.index}.json"))
            except (ValueError, RecursionError) as exc:
                raise Problem(f"leaf {entry.index} is not JSON") from exc
            if not isinstance(body, dict):
                raise Problem(f"leaf {entry.index} is not an object")
            bodies.append(body)
    return sorted(bodies, key=_sequence)


def _sequence(body: dict[str, Any]) -> int:
    value = body.get("sequence")
    return value if isinstance(value, int) else 0


# --- 7. PDF signatures ---------------------------------------------------------------------------


def _check_pdfs(files: dict[str, bytes], roots: list[asn1_x509.Certificate]) -> str:
    others = _intermediates(files)
    evidence = _certificates(files, EVIDENCE_PEM)[0]
    results = []
    for name in (DOCUMENT, REPORT):
        try:
            report = verify_pdf_isolated(_member(files, name), trust_roots=roots, other_certs=others)
        except (UnreadablePdf, VerificationLimitExceeded) as exc:
            raise Problem(f"{name} cannot be verified: {exc}") from exc
        if not report.valid:
            reasons = [report.error, *report.problems, *(p for s in report.signatures for p in s.problems)]
            reason = next((r for r in reasons if r), "not valid")
            raise Problem(f"{name} is not valid: {reason}")
        results.append((name, report))
    _, report_of_report = results[1]
    if not report_of_report.signatures or any(
        s.certificate_serial != str(evidence.serial_number) for s in report_of_report.signatures
    ):
        raise Problem("evidence-report.pdf is not signed by the evidence-service certificate")
    signatures = len(results[0][1].signatures)
    return f"document.pdf: {signatures} valid signatures; evidence-report.pdf: signed by the evidence service"


# --- the whole -----------------------------------------------------------------------------------


def _anchors(
    files: dict[str, bytes], trust_roots: Sequence[asn1_x509.Certificate]
) -> tuple[list[asn1_x509.Certificate], TrustSource]:
    if trust_roots:
        return list(trust_roots), "given"
    try:
        return _certificates(files, ROOT_PEM), "package"
    except Problem:
        return [], "package"


def _witness_keys(
    files: dict[str, bytes], given: Sequence[str]
) -> tuple[list[str], Literal["given", "package", "none"]]:
    if given:
        return [k.strip() for k in given], "given"
    raw = files.get(WITNESS_KEYS)
    if raw is None:
        return [], "none"
    try:
        lines = [line.strip() for line in raw.decode("utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        lines = ["(witnesses.vkeys is not UTF-8)"]
    return lines, "package"


def verify_package(
    data: bytes,
    *,
    log_keys: Sequence[str] = (),
    witness_keys: Sequence[str] = (),
    trust_roots: Sequence[asn1_x509.Certificate] = (),
) -> PackageReport:
    """Run every check on an evidence package's bytes. Raises zipfile.BadZipFile for what is not a zip."""
    data = bytes(data)
    results: dict[str, PackageCheck] = {}

    def run(name: str, check: Callable[[], str]) -> bool:
        try:
            results[name] = PackageCheck(name, True, check())
        except Problem as problem:
            results[name] = PackageCheck(name, False, str(problem))
        except Exception as exc:  # noqa: BLE001 - hostile input the checks did not foresee: not verified
            logger.warning("package check %s failed unexpectedly", name, exc_info=True)
            results[name] = PackageCheck(name, False, f"cannot be checked ({type(exc).__name__})")
        return results[name].ok

    # 1. container
    files: dict[str, bytes] = {}
    manifest: Manifest | None = None
    refused = ""
    entries: list[Entry] = []
    try:
        entries = layout(data)
    except Refused as exc:
        refused = str(exc)
    except Problem as exc:
        results[CHECK_CONTAINER] = PackageCheck(CHECK_CONTAINER, False, str(exc))
        try:
            entries = lenient_entries(data)
        except Refused as again:
            refused = str(again)
    if not refused:
        try:
            files = read_members(data, entries)
            manifest = parse_manifest(_member(files, MANIFEST))
        except Problem as exc:
            refused = str(exc)  # unreadable, or no usable manifest: nothing else can be judged
    if refused or manifest is None:
        # a structural problem found first is the more precise reason
        results.setdefault(CHECK_CONTAINER, PackageCheck(CHECK_CONTAINER, False, refused))
        return _report(results, "given" if trust_roots else "package", [], "package", [], "none", None)
    if CHECK_CONTAINER not in results:
        run(CHECK_CONTAINER, lambda: check_member_set(files, manifest))

    roots, trust_source = _anchors(files, trust_roots)
    package_vkey = files.get(LOG_KEY, b"").decode("utf-8", "replace").strip()
    keys = [k.strip() for k in log_keys] or ([package_vkey] if package_vkey else [])
    log_source: TrustSource = "given" if log_keys else "package"
    witnesses, witness_source = _witness_keys(files, witness_keys)

    # 2. manifest signature
    if not roots:
        results[CHECK_MANIFEST] = PackageCheck(CHECK_MANIFEST, False, "no trust root to check it against")
    else:
        run(CHECK_MANIFEST, lambda: _check_manifest_signature(files, manifest, roots))

    # 3. checkpoint, 4. cosignatures
    log_verifier = _log_verifier(keys, package_vkey, log_source)
    if isinstance(log_verifier, str):
        results[CHECK_CHECKPOINT] = PackageCheck(CHECK_CHECKPOINT, False, log_verifier)
        verifier: notes.Verifier | None = None
    else:
        verifier = log_verifier
        run(CHECK_CHECKPOINT, lambda: _check_checkpoint(files, manifest, log_verifier, roots))
    run(CHECK_COSIGNATURES, lambda: _check_cosignatures(files, verifier, witnesses))

    # 5. leaves, 6. revisions
    run(CHECK_LEAVES, lambda: _check_leaves(files, manifest))
    run(CHECK_REVISIONS, lambda: _check_revisions(files, manifest))

    # 7. PDF signatures: only over the bytes the manifest signature vouches for
    if results[CHECK_CONTAINER].ok and results[CHECK_MANIFEST].ok:
        run(CHECK_PDF, lambda: _check_pdfs(files, roots))
    return _report(
        results,
        trust_source,
        [fingerprint(r.dump()) for r in roots],
        log_source,
        [vkey_fingerprint(k) for k in keys],
        witness_source,
        manifest,
    )


def _log_verifier(keys: list[str], package_vkey: str, source: TrustSource) -> notes.Verifier | str:
    """The log key to open the checkpoint with, or why there is none."""
    if not keys:
        return "no log key: the package has no log.vkey and none was given"
    if source == "given" and package_vkey not in keys:
        return "the package's log.vkey is not the given log key"
    try:
        verifier = notes.parse_verifier_key(package_vkey if source == "given" else keys[0])
    except notes.NoteError as exc:
        return f"the log key is malformed: {exc}"
    return verifier


def _report(
    results: dict[str, PackageCheck],
    trust_source: TrustSource,
    roots: list[str],
    log_source: TrustSource,
    log_keys: list[str],
    witness_source: Literal["given", "package", "none"],
    manifest: Manifest | None,
) -> PackageReport:
    checks: list[PackageCheck] = []
    for name in CHECK_ORDER:
        if name in results:
            checks.append(results[name])
        else:
            checks.append(PackageCheck(name, False, "not checked: an earlier check failed", ran=False))
    failed = next((c for c in checks if not c.ok), None)
    anchors = (
        " Trust anchors (root certificate, log key) came from the package itself: compare their fingerprints "
        "with what the platform publishes."
        if "package" in (trust_source, log_source)
        else ""
    )
    if failed is None:
        summary = (
            f"Every check passed for envelope {manifest.envelope if manifest else '?'}: "
            f"{len(manifest.events) if manifest else 0} logged events, "
            f"{len(manifest.revisions) if manifest else 0} revisions.{anchors}"
        )
    else:
        summary = f"The check “{failed.name}” failed: {failed.detail}.{anchors}"
    return PackageReport(
        ok=failed is None,
        summary=summary,
        checks=checks,
        trust_source=trust_source,
        root_fingerprints=roots,
        log_key_source=log_source,
        log_key_fingerprints=log_keys,
        witness_key_source=witness_source,
        envelope=manifest.envelope if manifest else "",
        title=manifest.title if manifest else "",
    )
