"""The verification result in one sentence a non-technical reader understands.

Pure functions over a ``VerificationReport`` (or an evidence package report): no I/O, no database.
The sentence is in the active language (gettext); the page shows it first, in big type, and the
expert details below it. The ``level`` chooses its colour:

- ``valid``: every signature is intact, trusted and nothing unpermitted followed it;
- ``changed``: the document was altered, or changed after a signature (names which one);
- ``unknown_signer``: the signatures are intact but some certificate chains to no trusted root;
- ``unsigned``: there is no signature;
- ``error``: anything else that is not valid (forged, revoked, not checkable, unreadable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from django.utils.translation import gettext

from econtract.verification.errors import VerificationLimitExceeded
from econtract.verification.services.reports import SignatureReport, VerificationReport

Level = Literal["valid", "changed", "unknown_signer", "unsigned", "error"]

# The bytes a signature covers were altered (not: something was appended).
_ALTERED = frozenset({"digest_mismatch"})
# Part of the signature's revision is not covered: signature wrapping.
_WRAPPED = frozenset({"coverage_incomplete"})
# A later revision changed what the signer signed.
_CHANGED_AFTER = frozenset({"modified_after_signing", "permissions_violated", "visual_change"})
_BROKEN = frozenset(
    {"signature_invalid", "byte_range_past_eof", "byte_range_malformed", "malformed_signature"}
)


@dataclass(frozen=True)
class PlainVerdict:
    level: Level
    sentence: str


class PackageCheckLike(Protocol):
    name: str
    ok: bool
    detail: str


class PackageReportLike(Protocol):
    """What ``econtract.evidence.package_verify.PackageReport`` offers."""

    ok: bool
    summary: str

    @property
    def checks(self) -> Sequence[PackageCheckLike]: ...


def _name(signature: SignatureReport) -> str:
    return signature.signer or signature.signer_organization or signature.field


def _names(signatures: Sequence[SignatureReport]) -> str:
    unique = list(dict.fromkeys(_name(s) for s in signatures))
    return gettext(", ").join(unique)


def _numbered(signatures: Sequence[SignatureReport], codes: frozenset[str]) -> list[int]:
    """1-based numbers of the signatures carrying any of the codes, in document order."""
    return [number for number, s in enumerate(signatures, 1) if codes & set(s.reasons)]


def verdict_sentence(report: VerificationReport) -> PlainVerdict:
    signatures = report.signatures
    if not signatures:
        if report.document_timestamps:
            return PlainVerdict(
                "unsigned",
                gettext(
                    "This PDF is not signed. It only carries a timestamp, which shows when it existed, "
                    "not who made it."
                ),
            )
        return PlainVerdict(
            "unsigned",
            gettext(
                "This PDF is not signed: nothing in it shows who made it or that it has not been changed."
            ),
        )

    altered = _numbered(signatures, _ALTERED)
    if altered:
        number = altered[0]
        return PlainVerdict(
            "changed",
            gettext(
                "This document was altered: what signature %(number)s (by %(signer)s) signed is no longer "
                "what the file contains."
            )
            % {"number": number, "signer": _name(signatures[number - 1])},
        )
    wrapped = _numbered(signatures, _WRAPPED)
    if wrapped:
        number = wrapped[0]
        return PlainVerdict(
            "changed",
            gettext(
                "Part of this document is not covered by signature %(number)s (by %(signer)s), so it may "
                "have been changed after signing."
            )
            % {"number": number, "signer": _name(signatures[number - 1])},
        )
    changed = _numbered(signatures, _CHANGED_AFTER)
    if changed:
        # Every signature before an unpermitted change reports it: the change came after the latest.
        number = changed[-1]
        signature = signatures[number - 1]
        values = {"number": number, "signer": _name(signature)}
        pages = [change.get("page") for change in signature.visual_changes if change.get("page")]
        if signature.modification == "visual" and pages:
            return PlainVerdict(
                "changed",
                gettext(
                    "This document was changed after signature %(number)s (by %(signer)s): page %(page)s "
                    "no longer looks the way it did when it was signed."
                )
                % {**values, "page": pages[0]},
            )
        return PlainVerdict(
            "changed",
            gettext(
                "This document was changed after signature %(number)s (by %(signer)s): it no longer shows "
                "exactly what was signed."
            )
            % values,
        )
    if report.problems:
        return PlainVerdict(
            "changed",
            gettext(
                "Data was added to the end of this file outside every signed version: what a viewer shows "
                "may not be what was signed."
            ),
        )

    broken = _numbered(signatures, _BROKEN)
    if broken:
        number = broken[0]
        return PlainVerdict(
            "error",
            gettext(
                "Signature %(number)s (by %(signer)s) is broken or forged: it proves nothing about this "
                "document."
            )
            % {"number": number, "signer": _name(signatures[number - 1])},
        )
    revoked = _numbered(signatures, frozenset({"certificate_revoked"}))
    if revoked:
        number = revoked[0]
        return PlainVerdict(
            "error",
            gettext(
                "The certificate behind signature %(number)s (by %(signer)s) has been revoked, so that "
                "signature does not count."
            )
            % {"number": number, "signer": _name(signatures[number - 1])},
        )

    intact = all(s.intact is True and s.valid is True for s in signatures)
    untrusted = [s for s in signatures if "chain_not_trusted" in s.reasons]
    if untrusted and intact:
        return PlainVerdict(
            "unknown_signer",
            gettext(
                "The signatures are intact, but the signer's certificate (%(signers)s) was not issued by a "
                "trusted authority, so it does not prove who signed."
            )
            % {"signers": _names(untrusted)},
        )
    # a path that fails validation: a look-alike CA, an expired certificate, a wrong key usage
    rejected = [s for s in signatures if "certificate_rejected" in s.reasons]
    if rejected and intact:
        return PlainVerdict(
            "unknown_signer",
            gettext(
                "The signatures are intact, but the signer's certificate (%(signers)s) is not accepted: it is "
                "expired, not meant for signing, or not issued by a trusted authority, so it does not prove "
                "who signed."
            )
            % {"signers": _names(rejected)},
        )

    if report.valid:
        return PlainVerdict(
            "valid",
            gettext(
                "This document has not been changed since it was signed, and its signatures belong to "
                "%(signers)s, certified by the econtract root."
            )
            % {"signers": _names(signatures)},
        )

    unsure = [number for number, s in enumerate(signatures, 1) if s.status != "valid"]
    if unsure:
        number = unsure[0]
        return PlainVerdict(
            "error",
            gettext(
                "Signature %(number)s (by %(signer)s) could not be fully checked here, so this document "
                "cannot be confirmed as valid. The details below say why."
            )
            % {"number": number, "signer": _name(signatures[number - 1])},
        )
    return PlainVerdict(
        "error", gettext("This document cannot be confirmed as valid. The details below say why.")
    )


def unreadable_verdict(failure: Exception) -> PlainVerdict:
    """The sentence when no report could be made at all (an unreadable or refused file)."""
    if isinstance(failure, VerificationLimitExceeded):
        return PlainVerdict(
            "error",
            gettext("This file could not be checked: checking it took too long or needed too much memory."),
        )
    return PlainVerdict(
        "error",
        gettext(
            "This file could not be checked: it is not a PDF that can be read safely here. The reason is "
            "shown at the upload field."
        ),
    )


def package_verdict(report: PackageReportLike) -> PlainVerdict:
    """An evidence package: every check passed, or the first one that did not."""
    failed = [check for check in report.checks if not check.ok]
    if report.ok and not failed:
        return PlainVerdict("valid", gettext("Every piece of evidence in this package checks out."))
    if failed:
        return PlainVerdict(
            "changed",
            gettext("This evidence package does not check out: the check “%(check)s” failed (%(detail)s).")
            % {"check": failed[0].name, "detail": failed[0].detail},
        )
    return PlainVerdict(
        "changed",
        gettext("This evidence package does not check out: %(summary)s") % {"summary": report.summary},
    )


def package_unsupported_verdict() -> PlainVerdict:
    return PlainVerdict("error", gettext("Evidence packages cannot be checked on this server yet."))


def package_unreadable_verdict() -> PlainVerdict:
    return PlainVerdict(
        "error", gettext("This evidence package could not be read: it is not a complete, valid zip file.")
    )
