"""verdict_sentence(): the one-sentence answer, on real PDFs signed and attacked with the throwaway PKI."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pytest
from django.utils import translation

from econtract.verification.errors import UnreadablePdf, VerificationLimitExceeded
from econtract.verification.plain_language import (
    package_verdict,
    unreadable_verdict,
    verdict_sentence,
)
from econtract.verification.services import VerificationReport, verify_pdf
from econtract.verification.tests import pki_fixtures as fx
from econtract.verification.tests import visualcases as vc


def verify(data: bytes, pki: fx.ThrowawayPki) -> VerificationReport:
    return verify_pdf(data, trust_roots=[pki.root.asn1])


@pytest.fixture(scope="module")
def two_signed(pki: fx.ThrowawayPki, signed: bytes) -> bytes:
    return fx.sign(signed, pki, field_name="Signature2", who=pki.issue_signer("李四"))


def test_a_valid_signed_pdf_names_its_signer(pki, signed):
    report = verify(signed, pki)
    with translation.override("en"):
        verdict = verdict_sentence(report)
    assert verdict.level == "valid"
    assert verdict.sentence == (
        "This document has not been changed since it was signed, and its signatures belong to 张三, "
        "certified by the econtract root."
    )
    with translation.override("zh-hans"):
        chinese = verdict_sentence(report)
    assert chinese.sentence == "这份文件自签署以来未被改动，签名属于张三（由 econtract 根证书认证）。"


def test_two_valid_signers_are_both_named(pki, two_signed):
    with translation.override("en"):
        verdict = verdict_sentence(verify(two_signed, pki))
    assert verdict.level == "valid"
    assert "belong to 张三, 李四, certified" in verdict.sentence
    with translation.override("zh-hans"):
        assert "张三、李四" in verdict_sentence(verify(two_signed, pki)).sentence


def test_page_content_appended_after_signing_names_the_signature(pki, signed):
    report = verify(fx.append_page_content(signed), pki)
    with translation.override("en"):
        verdict = verdict_sentence(report)
    assert verdict.level == "changed"
    assert verdict.sentence == (
        "This document was changed after signature 1 (by 张三): it no longer shows exactly what was signed."
    )
    with translation.override("zh-hans"):
        chinese = verdict_sentence(report)
    assert chinese.sentence.startswith("这份文件在第 1 次签名（张三）后被改动过")


def test_a_change_after_the_second_signature_names_the_second(pki, two_signed):
    with translation.override("en"):
        verdict = verdict_sentence(verify(fx.append_page_content(two_signed), pki))
    assert verdict.level == "changed"
    assert verdict.sentence.startswith("This document was changed after signature 2 (by 李四)")


def test_a_change_between_two_signatures_names_the_first(pki, signed):
    changed = fx.append_page_content(signed)
    countersigned = fx.sign(changed, pki, field_name="Signature2", who=pki.issue_signer("李四"))
    report = verify(countersigned, pki)
    assert report.signatures[1].status == "valid"  # signed over the changed file
    with translation.override("en"):
        assert verdict_sentence(report).sentence.startswith(
            "This document was changed after signature 1 (by 张三)"
        )


def test_a_visual_change_names_the_page(pki):
    report = verify(vc.replace_by_field(pki), pki)
    assert report.signatures[0].modification == "visual"
    with translation.override("en"):
        verdict = verdict_sentence(report)
    assert verdict.level == "changed"
    assert "page 1 no longer looks the way it did when it was signed" in verdict.sentence
    with translation.override("zh-hans"):
        assert "第 1 页" in verdict_sentence(report).sentence


def test_altered_signed_bytes_read_as_altered(pki, signed):
    with translation.override("en"):
        verdict = verdict_sentence(verify(fx.flip_byte(signed, b"(Sales contract"), pki))
    assert verdict.level == "changed"
    assert verdict.sentence.startswith("This document was altered: what signature 1 (by 张三) signed")


def test_an_untrusted_signer_reads_as_unknown(pki, rogue_pki, blank):
    report = verify_pdf(fx.sign(blank, rogue_pki), trust_roots=[])  # no path at all
    assert "chain_not_trusted" in report.signatures[0].reasons
    with translation.override("en"):
        verdict = verdict_sentence(report)
    assert verdict.level == "unknown_signer"
    assert verdict.sentence.startswith("The signatures are intact, but the signer's certificate (张三)")
    with translation.override("zh-hans"):
        assert verdict_sentence(report).sentence.startswith(
            "签名完好无损，但签署人证书（张三）不是由可信机构签发的"
        )


def test_a_look_alike_ca_reads_as_unknown(pki, rogue_pki, blank):
    # same names as the trusted PKI, other keys: a path is built but fails
    report = verify(fx.sign(blank, rogue_pki), pki)
    assert "certificate_rejected" in report.signatures[0].reasons
    with translation.override("en"):
        verdict = verdict_sentence(report)
    assert verdict.level == "unknown_signer"
    assert verdict.sentence.startswith(
        "The signatures are intact, but the signer's certificate (张三) is not accepted"
    )


def test_a_revoked_signer_is_not_an_unknown_signer(pki, signed, now):
    crl = pki.crl(revoked={pki.signer.serial: now - dt.timedelta(hours=2)})
    with translation.override("en"):
        verdict = verdict_sentence(verify(fx.add_dss(signed, crls=[crl, pki.crl(pki.root)]), pki))
    assert verdict.level == "error"
    assert "has been revoked" in verdict.sentence


def test_an_unsigned_pdf_says_so(pki, blank):
    report = verify(blank, pki)
    with translation.override("en"):
        verdict = verdict_sentence(report)
    assert verdict.level == "unsigned"
    assert verdict.sentence.startswith("This PDF is not signed:")
    with translation.override("zh-hans"):
        assert verdict_sentence(report).sentence.startswith("这份 PDF 没有签名")


def test_bytes_after_the_last_revision_read_as_changed(pki, signed):
    with translation.override("en"):
        verdict = verdict_sentence(verify(signed + b"\n1 0 obj (hidden) endobj\n", pki))
    assert verdict.level == "changed"
    assert verdict.sentence.startswith("Data was added to the end of this file")


def test_an_unreadable_file_has_its_own_sentence():
    with translation.override("en"):
        assert unreadable_verdict(UnreadablePdf("x")).sentence.startswith(
            "This file could not be checked: it is not a PDF"
        )
        assert "too long" in unreadable_verdict(VerificationLimitExceeded("x")).sentence
    assert unreadable_verdict(UnreadablePdf("x")).level == "error"


@dataclass
class Check:
    name: str
    ok: bool
    detail: str = ""


@dataclass
class Package:
    ok: bool
    checks: list[Check] = field(default_factory=list)
    summary: str = ""


def test_package_sentences():
    with translation.override("en"):
        good = package_verdict(Package(True, [Check("inclusion", True)]))
        bad = package_verdict(
            Package(False, [Check("inclusion", True), Check("consistency", False, "root differs")])
        )
    assert (good.level, good.sentence) == ("valid", "Every piece of evidence in this package checks out.")
    assert bad.level == "changed"
    assert "“consistency” failed (root differs)" in bad.sentence
    with translation.override("zh-hans"):
        assert package_verdict(Package(True)).sentence == "这份证据包中的全部证据均已核验。"
