"""Last resort: locate signatures by scanning the bytes when no reader can open the file.

When even pyHanko's lenient reader cannot parse the cross-reference data, a signature dictionary may
still be found in the bytes: a ``/ByteRange`` array next to a ``/Contents`` hex string. Its CMS is
checked over the file's own bytes as ``/ByteRange`` says (digest, signature, chain, revocation), so
the reader learns who signed what; but with the structure unreadable nobody can say what the
document shows or whether later revisions changed it, so such a signature is never better than
``indeterminate`` (``structure_unreadable``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from asn1crypto import cms
from cryptography.hazmat.primitives import hashes
from pyhanko.sign.validation.generic_cms import cms_basic_validation
from pyhanko.sign.validation.status import PdfSignatureStatus
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from econtract.verification.services.material import ValidationMaterial
from econtract.verification.services.reports import SignatureReport

logger = logging.getLogger(__name__)

MAX_SCANNED = 64  # signature dictionaries judged from one file
_BYTE_RANGE = re.compile(rb"/ByteRange\s*\[\s*(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s+(\d{1,12})\s*\]")
_CONTENTS = re.compile(rb"/Contents\s*<([0-9A-Fa-f\s]*)>")
_NEIGHBOURHOOD = 256  # how far /Contents may sit from /ByteRange in the same dictionary


@dataclass(frozen=True)
class ScannedSignature:
    at: int
    byte_range: tuple[int, int, int, int]
    contents: bytes


def scan_signatures(data: bytes) -> list[ScannedSignature]:
    """``/ByteRange`` arrays whose ``/Contents`` hex string is the hole they leave."""
    found: list[ScannedSignature] = []
    for match in _BYTE_RANGE.finditer(data):
        start1, len1, start2, len2 = (int(group) for group in match.groups())
        hole = data[start1 + len1 : start2] if start1 == 0 and start2 >= len1 else b""
        contents = None
        for candidate in _CONTENTS.finditer(data, max(0, match.start() - _NEIGHBOURHOOD - len(hole))):
            if candidate.start() > match.end() + _NEIGHBOURHOOD:
                break
            # the /Contents we accept is exactly the byte range's hole: "<hex>"
            if candidate.start(1) - 1 == len1 and candidate.end(1) + 1 == start2:
                contents = bytes.fromhex(re.sub(rb"\s", b"", candidate.group(1)).decode("ascii"))
                break
        if contents is not None:
            found.append(ScannedSignature(match.start(), (start1, len1, start2, len2), contents))
        if len(found) >= MAX_SCANNED:
            break
    return found


async def verify_scanned(
    scanned: ScannedSignature, data: bytes, material: ValidationMaterial
) -> SignatureReport:
    report = SignatureReport(field=f"(signature dictionary at byte {scanned.at})")
    start1, len1, start2, len2 = scanned.byte_range
    if start2 + len2 > len(data):
        excess = start2 + len2 - len(data)
        report.fail("byte_range_past_eof", f"the byte range ends {excess} bytes past the end of the file")
        return report
    try:
        content_info = cms.ContentInfo.load(scanned.contents.rstrip(b"\x00"))
        signed_data = content_info["content"]
        if len(signed_data["signer_infos"]) != 1:
            report.fail("unsupported_cms_structure", "the CMS container does not hold exactly one SignerInfo")
            return report
        md_algorithm = signed_data["signer_infos"][0]["digest_algorithm"]["algorithm"].native
        digest = hashes.Hash(get_pyca_cryptography_hash(md_algorithm))
        digest.update(data[start1 : start1 + len1])
        digest.update(data[start2 : start2 + len2])
        status = await cms_basic_validation(
            signed_data,
            raw_digest=digest.finalize(),
            validation_context=material.context(),
            key_usage_settings=PdfSignatureStatus.default_usage_constraints(None),
        )
    except Exception as exc:
        logger.warning("scanned signature at %d could not be validated", scanned.at, exc_info=True)
        report.fail("malformed_signature", f"the signature container cannot be read: {exc}")
        report.fail("digest_not_computed", "the byte-range digest could not be checked")
        return report
    from econtract.verification.services.signatures import describe_signer, judge_trust

    describe_signer(report, status["signing_cert"])
    report.intact, report.valid = bool(status["intact"]), bool(status["valid"])
    if not report.intact:
        report.fail("digest_mismatch", "the signed bytes were altered (digest mismatch)")
    if not report.valid:
        report.fail("signature_invalid", "the CMS signature does not verify")
    await judge_trust(report, status, material)
    covers_file = start1 == 0 and start2 + len2 == len(data)
    report.coverage = "entire_file" if covers_file else "unclear"
    report.modification = "none" if covers_file else "unchecked"
    report.fail(
        "structure_unreadable",
        "the file's structure cannot be read: this signature was found by scanning the bytes, and what "
        "the document shows cannot be established",
    )
    return report
