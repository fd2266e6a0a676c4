"""Two parties sign through the HTTP API of a real server; the result is checked by tools we did not write."""

from __future__ import annotations

import json
import threading

import pytest

from tests.e2e.independent_checks import (
    openssl_ts_verify,
    pdfsig_report,
    require_tools,
    timestamp_tokens,
    write_chain,
)

pytestmark = pytest.mark.e2e


def _create(platform, parties, fields, title="采购合同 Purchase Agreement"):
    from econtract.documents.samples import make_contract_pdf

    pdf = make_contract_pdf(title, ["甲方 Party A", "乙方 Party B", "第一条 价款 ¥100,000"], pages=2)
    spec = {"title": title, "parties": parties, "fields": fields}
    response = platform.api("alice").post(
        f"{platform.base_url}/api/v1/envelopes",
        files={"document": ("c.pdf", pdf, "application/pdf")},
        data={"spec": json.dumps(spec, ensure_ascii=False)},
        timeout=60,
    )
    assert response.status_code == 201, response.text
    envelope = response.json()
    response = platform.api("alice").post(
        f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/send", timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def _request_code(platform, who, envelope, index):
    party = envelope["parties"][index]
    response = platform.api(who).post(
        f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/parties/{party['id']}/otp", timeout=30
    )
    assert response.status_code == 200, response.text
    return platform.outbox_code(platform.emails[who])


def _sign(platform, who, envelope, index, code):
    party = envelope["parties"][index]
    return platform.api(who).post(
        f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/parties/{party['id']}/sign",
        json={"otp": code, "pin": platform.pins[who]},
        timeout=120,
    )


def _parties(platform, same_order=False):
    return [
        {"name": "张丽", "email": platform.emails["alice"], "order": 1},
        {"name": "李明", "email": platform.emails["bob"], "order": 1 if same_order else 2},
    ]


FIELDS = [
    {"party": 0, "page": 2, "x": 60, "y": 80, "width": 200, "height": 60},
    {"party": 1, "page": 2, "x": 320, "y": 80, "width": 200, "height": 60},
]


def _assert_independently_valid(platform, pdf: bytes, tmp_path, signers: int):
    require_tools()
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    report = pdfsig_report(path, platform.root_pem, tmp_path)
    signer_blocks = [
        s for s in report if "Signature Validation" in s and "unknown" not in s.get("Signature Type", "")
    ]
    assert len(signer_blocks) == signers, report
    for block in signer_blocks:
        assert block["Signature Validation"] == "Signature is Valid.", block
        assert block.get("Certificate Validation") == "Certificate is Trusted.", block
    chain = tmp_path / "chain.pem"
    write_chain(pdf, chain)
    tokens = timestamp_tokens(pdf, tmp_path)
    assert len(tokens) == signers
    for token, data in tokens:
        assert openssl_ts_verify(token, data, platform.root_pem, chain) == "Verification: OK"

    verdict = platform.cli("verify", str(path), "--json", "--trust-root", str(platform.root_pem), check=False)
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr
    report = json.loads(verdict.stdout)
    assert report["valid"] is True
    assert len(report["signatures"]) == signers and len(report["document_timestamps"]) == 1
    assert all(s["trusted"] and s["intact"] and s["timestamp_time"] for s in report["signatures"])
    assert all(s["modification"] in {"form_filling", "lta_updates", "none"} for s in report["signatures"])
    return path


def test_two_parties_sign_in_order_and_independent_validators_agree(platform, tmp_path):
    envelope = _create(platform, _parties(platform), FIELDS)
    assert [p["status"] for p in envelope["parties"]] == ["ready", "waiting"]

    early = platform.api("bob").post(
        f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/parties/{envelope['parties'][1]['id']}/otp",
        timeout=30,
    )
    assert early.status_code == 409 and early.json()["error"] == "not_your_turn"

    response = _sign(platform, "alice", envelope, 0, _request_code(platform, "alice", envelope, 0))
    assert response.status_code == 200, response.text
    response = _sign(platform, "bob", envelope, 1, _request_code(platform, "bob", envelope, 1))
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"

    document = platform.api("alice").get(
        f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/document", timeout=30
    )
    pdf = document.content
    path = _assert_independently_valid(platform, pdf, tmp_path, signers=2)

    events = (
        platform.api("bob")
        .get(f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/events", timeout=30)
        .json()["items"]
    )
    kinds = [e["kind"] for e in events]
    assert kinds[:2] == ["created", "sent"] and "completed" in kinds and kinds.count("signed") == 2
    assert all(e["ip_address"] == "127.0.0.1" for e in events if e["kind"] == "signed")

    # Flip one byte of the original content (inside every signature's signed range).
    original_length = int(document.headers.get("Content-Length") or len(pdf))
    start = pdf.index(b"stream", pdf.index(b"/Contents")) + 20
    assert start < original_length
    tampered = bytearray(pdf)
    tampered[start] ^= 0x01
    bad = tmp_path / "tampered.pdf"
    bad.write_bytes(bytes(tampered))
    verdict = platform.cli("verify", str(bad), "--json", "--trust-root", str(platform.root_pem), check=False)
    assert verdict.returncode == 1, verdict.stdout + verdict.stderr
    assert json.loads(verdict.stdout)["valid"] is False
    report = pdfsig_report(bad, platform.root_pem, tmp_path)
    assert report and not any(s.get("Signature Validation") == "Signature is Valid." for s in report), report
    assert path.exists()


def test_two_parties_of_the_same_order_signing_at_once_both_end_up_in_the_pdf(platform, tmp_path):
    envelope = _create(platform, _parties(platform, same_order=True), FIELDS, title="并行签署 Parallel")
    assert [p["status"] for p in envelope["parties"]] == ["ready", "ready"]
    codes = {
        "alice": _request_code(platform, "alice", envelope, 0),
        "bob": _request_code(platform, "bob", envelope, 1),
    }
    barrier = threading.Barrier(2)
    results = {}

    def sign(who, index):
        barrier.wait()
        results[who] = _sign(platform, who, envelope, index, codes[who])

    threads = [
        threading.Thread(target=sign, args=("alice", 0)),
        threading.Thread(target=sign, args=("bob", 1)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert results["alice"].status_code == 200, results["alice"].text
    assert results["bob"].status_code == 200, results["bob"].text
    final = (
        platform.api("alice").get(f"{platform.base_url}/api/v1/envelopes/{envelope['id']}", timeout=30).json()
    )
    assert final["status"] == "completed"
    pdf = (
        platform.api("alice")
        .get(f"{platform.base_url}/api/v1/envelopes/{envelope['id']}/document", timeout=30)
        .content
    )
    _assert_independently_valid(platform, pdf, tmp_path, signers=2)


def test_public_verify_endpoint_and_pki_endpoints(platform, tmp_path):
    import requests

    sample = platform.data_dir / "demo" / "sample-contract-signed.pdf"
    response = requests.post(
        f"{platform.base_url}/api/v1/verify",
        files={"document": ("s.pdf", sample.read_bytes(), "application/pdf")},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["valid"] is True
    crl = requests.get(f"{platform.base_url}/pki/crl", timeout=10)
    assert crl.status_code == 200 and crl.headers["Content-Type"].startswith("application/pkix-crl")


def test_serve_warns_that_the_embedded_kek_sits_beside_the_data(platform):
    log = platform.server_log.read_text()
    assert "key-encryption key" in log and "ECONTRACT_KEK_FILE" in log
    assert f"econtract is running at {platform.base_url}/" in log
