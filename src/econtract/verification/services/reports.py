"""What the verifier says: per-signature and per-document reports, their statuses and reason codes.

Every way a signature can fall short is a reason code with a fixed meaning (docs/verify.md lists
them). A code makes the signature either ``invalid`` (something is provably wrong: the bytes were
changed, the signature does not verify, the byte range is broken) or ``indeterminate`` (we could not
decide: an algorithm or format we do not implement, a chain we cannot build, a check we could not
run). A signature is ``valid`` only when no reason applies *and* every check ran and passed.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

Status = Literal["valid", "invalid", "indeterminate"]
Mode = Literal["strict", "lenient"]
Revocation = Literal["good", "revoked", "unknown"]
# "annotations": annotations were added (a warning names them); "visual": a page no longer shows
# what was signed (services/visual.py).
Modification = Literal["none", "form_filling", "lta_updates", "annotations", "other", "visual", "unchecked"]
RevocationSource = Literal["embedded", "online"]

PERMITTED_MODIFICATIONS: frozenset[str] = frozenset({"none", "form_filling", "lta_updates", "annotations"})

# Reason code -> the status it forces. Keep docs/verify.md ("Reason codes") in step.
REASON_STATUS: dict[str, Status] = {
    # provably wrong
    "digest_mismatch": "invalid",
    "signature_invalid": "invalid",
    "byte_range_past_eof": "invalid",
    "byte_range_malformed": "invalid",
    "coverage_incomplete": "invalid",
    "modified_after_signing": "invalid",
    "permissions_violated": "invalid",
    "visual_change": "invalid",
    "certificate_revoked": "invalid",
    # not decidable here
    "digest_not_computed": "indeterminate",
    "chain_not_trusted": "indeterminate",
    "certificate_rejected": "indeterminate",
    "algorithm_not_allowed": "indeterminate",
    "unsupported_algorithm": "indeterminate",
    "unsupported_subfilter": "indeterminate",
    "unsupported_cms_structure": "indeterminate",
    "malformed_signature": "indeterminate",
    "timestamp_invalid": "indeterminate",
    "modifications_not_checked": "indeterminate",
    "structure_unreadable": "indeterminate",
    "validation_error": "indeterminate",
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


class _Judged:
    """Shared by signature and document-timestamp reports: reasons, problems and the status."""

    reasons: list[str]
    problems: list[str]

    def fail(self, code: str, problem: str) -> None:
        """Record a reason code (once) and its explanation in plain words."""
        if code not in REASON_STATUS:
            raise ValueError(f"unknown reason code {code!r}")
        if code not in self.reasons:
            self.reasons.append(code)
        self.problems.append(problem)

    def _checks_passed(self) -> bool:
        raise NotImplementedError

    @property
    def status(self) -> Status:
        if any(REASON_STATUS[code] == "invalid" for code in self.reasons):
            return "invalid"
        # belt and braces: a check that did not run or did not pass is never "valid"
        if self.reasons or self.problems or not self._checks_passed():
            return "indeterminate"
        return "valid"

    @property
    def acceptable(self) -> bool:
        return self.status == "valid"


@dataclass
class SignatureReport(_Judged):
    """What we found out about one ``/Sig`` signature. ``problems`` lists every reason it fails.

    ``intact`` / ``valid`` are ``None`` when that check could not be run (never ``False`` for a
    digest that was not computed).
    """

    field: str
    signer: str = ""
    certificate_serial: str = ""
    trusted: bool = False
    intact: bool | None = None
    valid: bool | None = None
    timestamped: bool = False
    timestamp_time: datetime | None = None
    timestamp_valid: bool = False
    revocation: Revocation = "unknown"
    modification: Modification = "other"
    signing_time: datetime | None = None
    coverage: str = "unclear"
    problems: list[str] = dataclasses.field(default_factory=list)
    reasons: list[str] = dataclasses.field(default_factory=list)
    signer_subject: str = ""
    # A seal's certificate names an organisation: its name (O) and organizationIdentifier
    # (ETSI EN 319 412-1, e.g. NTRCN-<USCC>); empty for a natural person.
    signer_organization: str = ""
    organization_identifier: str = ""
    issuer: str = ""
    certificate_sha256: str = ""
    validated_at: datetime | None = None
    changed_fields: list[str] = dataclasses.field(default_factory=list)
    tsa: str = ""
    subfilter: str = ""
    algorithm: str = ""
    # The validated path as base64 DER, signer first, ending at the trust anchor (empty when no
    # trusted path was found): what `verify --online` asks OCSP responders about.
    certificate_chain: list[str] = dataclasses.field(default_factory=list)
    # Where a page differs from what was signed: {"page": 1-based, "box": [x0, y0, x1, y1] in points
    # from the page's lower-left corner as displayed} (services/visual.py).
    visual_changes: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    def _checks_passed(self) -> bool:
        return (
            self.intact is True
            and self.valid is True
            and self.trusted
            and self.revocation != "revoked"
            and (self.timestamp_valid or not self.timestamped)
            and self.modification in PERMITTED_MODIFICATIONS
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "status": self.status,
            "reasons": list(self.reasons),
            "signer": self.signer,
            "certificate_serial": self.certificate_serial,
            "trusted": self.trusted,
            "intact": self.intact,
            "valid": self.valid,
            "timestamp_time": _iso(self.timestamp_time),
            "timestamp_valid": self.timestamp_valid,
            "revocation": self.revocation,
            "modification": self.modification,
            "signing_time": _iso(self.signing_time),
            "coverage": self.coverage,
            "problems": list(self.problems),
            # extra keys
            "timestamped": self.timestamped,
            "signer_subject": self.signer_subject,
            "signer_organization": self.signer_organization,
            "organization_identifier": self.organization_identifier,
            "issuer": self.issuer,
            "certificate_sha256": self.certificate_sha256,
            "validated_at": _iso(self.validated_at),
            "changed_fields": list(self.changed_fields),
            "tsa": self.tsa,
            "subfilter": self.subfilter,
            "algorithm": self.algorithm,
            "certificate_chain": list(self.certificate_chain),
            "visual_changes": [dict(change) for change in self.visual_changes],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SignatureReport:
        return _from_dict(cls, data)


@dataclass
class DocumentTimestampReport(_Judged):
    """One document timestamp (``/DocTimeStamp``, PAdES B-LTA archive timestamp)."""

    field: str
    time: datetime | None = None
    intact: bool | None = None
    valid: bool | None = None
    trusted: bool = False
    coverage: str = "unclear"
    modification: Modification = "other"
    tsa: str = ""
    problems: list[str] = dataclasses.field(default_factory=list)
    reasons: list[str] = dataclasses.field(default_factory=list)

    def _checks_passed(self) -> bool:
        return (
            self.intact is True
            and self.valid is True
            and self.trusted
            and self.modification in PERMITTED_MODIFICATIONS
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": _iso(self.time),
            "intact": self.intact,
            "valid": self.valid,
            "trusted": self.trusted,
            "status": self.status,
            "reasons": list(self.reasons),
            # extra keys
            "field": self.field,
            "coverage": self.coverage,
            "modification": self.modification,
            "tsa": self.tsa,
            "problems": list(self.problems),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocumentTimestampReport:
        return _from_dict(cls, data)


@dataclass
class VerificationReport:
    valid: bool
    signatures: list[SignatureReport] = dataclasses.field(default_factory=list)
    document_timestamps: list[DocumentTimestampReport] = dataclasses.field(default_factory=list)
    error: str | None = None
    problems: list[str] = dataclasses.field(default_factory=list)  # about the file as a whole
    # "lenient": the strict reader refused the file (hybrid cross-reference, structural faults) and
    # objects were located by pyHanko's tolerant reader; signed bytes are still the file's own.
    mode: Mode = "strict"
    mode_reason: str = ""  # why the strict reader was not enough
    # Worth knowing, not making the document invalid: active content, embedded files, a certificate
    # revoked after its signature was timestamped.
    warnings: list[str] = dataclasses.field(default_factory=list)
    # "embedded": revocation judged from the data embedded at signing (DSS, revocation-info
    # archival); "online": each certificate's OCSP responder was asked as well (verify --online).
    revocation_source: RevocationSource = "embedded"

    def to_dict(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "mode": self.mode,
            "mode_reason": self.mode_reason,
            "signatures": [s.to_dict() for s in self.signatures],
            "document_timestamps": [t.to_dict() for t in self.document_timestamps],
            "error": self.error,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "revocation_source": self.revocation_source,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerificationReport:
        """Rebuild a report from ``to_dict()`` output (the sandboxed child sends JSON)."""
        report = _from_dict(cls, data)
        report.signatures = [SignatureReport.from_dict(s) for s in data.get("signatures", [])]
        report.document_timestamps = [
            DocumentTimestampReport.from_dict(t) for t in data.get("document_timestamps", [])
        ]
        return report


_T = typing.TypeVar("_T")


def _from_dict(cls: type[_T], data: dict[str, Any]) -> _T:
    """Fields by name from a ``to_dict()`` dictionary; ISO strings back to datetimes.

    Generic on purpose: a field added to a report (and emitted under its own name by ``to_dict``)
    crosses the sandbox boundary without touching this code. Computed keys (``status``) are ignored.
    """
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        if item.name not in data:
            continue
        value = data[item.name]
        if isinstance(value, str) and "datetime" in str(hints.get(item.name)):
            value = datetime.fromisoformat(value)
        elif isinstance(value, list):
            value = list(value)
        values[item.name] = value
    return cls(**values)
