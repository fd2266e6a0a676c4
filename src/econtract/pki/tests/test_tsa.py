from __future__ import annotations

import hashlib
import os

import pytest
from asn1crypto import algos, tsp

from econtract.pki import profile
from econtract.pki.models import TimestampRecord
from econtract.pki.services import timestamp_reply_der
from econtract.pki.tsa import MAX_REQUEST_BYTES, TimeStampResponse

from .conftest import run

TSQ = "application/timestamp-query"


def query(
    digest: bytes, algorithm: str = "sha256", *, nonce: int | None = None, cert_req: bool = True, **extra
) -> bytes:
    fields = {
        "version": "v1",
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
            "hashed_message": digest,
        },
        "cert_req": cert_req,
        **extra,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    return tsp.TimeStampReq(fields).dump()


def post(client, body: bytes, content_type: str = TSQ):
    return client.post("/tsa", data=body, content_type=content_type)


def granted(reply: bytes) -> tsp.TSTInfo:
    response = TimeStampResponse.load(reply)
    assert response["status"]["status"].native == "granted", response["status"].native
    return response["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed


def rejected(reply: bytes) -> set[str]:
    status = TimeStampResponse.load(reply)["status"]
    assert status["status"].native == "rejection"
    assert not TimeStampResponse.load(reply)["time_stamp_token"].native
    return set(status["fail_info"].native)


def test_openssl_query_and_verify_through_the_view(client, openssl_dir, tmp_path):
    d = openssl_dir
    (tmp_path / "file").write_bytes("合同正文".encode() * 100)
    made = run("openssl", "ts", "-query", "-data", tmp_path / "file", "-sha256", "-cert", "-out", d / "q.tsq")
    assert made.returncode == 0, made.stderr

    response = post(client, (d / "q.tsq").read_bytes())

    assert response.status_code == 200 and response["Content-Type"] == "application/timestamp-reply"
    (d / "reply.tsr").write_bytes(response.content)
    verified = run(
        "openssl",
        "ts",
        "-verify",
        "-in",
        d / "reply.tsr",
        "-queryfile",
        d / "q.tsq",
        "-CAfile",
        d / "root.pem",
        "-untrusted",
        d / "chain.pem",
    )
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr
    # and against the data itself
    verified = run(
        "openssl",
        "ts",
        "-verify",
        "-in",
        d / "reply.tsr",
        "-data",
        tmp_path / "file",
        "-CAfile",
        d / "root.pem",
        "-untrusted",
        d / "chain.pem",
    )
    assert "Verification: OK" in verified.stdout, verified.stdout + verified.stderr
    text = run("openssl", "ts", "-reply", "-in", d / "reply.tsr", "-text").stdout
    assert f"Policy OID: {profile.TSA_POLICY_OID}" in text
    assert "Accuracy: 0x01 seconds" in text


def test_nonce_is_echoed_and_serials_are_unique_and_recorded(client, pki):
    digest = hashlib.sha256(b"document").digest()
    nonces = [int.from_bytes(os.urandom(8), "big") for _ in range(3)]
    infos = [granted(post(client, query(digest, nonce=n)).content) for n in nonces]

    assert [info["nonce"].native for info in infos] == nonces
    serials = [info["serial_number"].native for info in infos]
    assert len(set(serials)) == 3
    records = TimestampRecord.objects.filter(serial_number__in=[str(s) for s in serials])
    assert records.count() == 3
    record = records.get(serial_number=str(serials[0]))
    assert record.message_imprint == digest.hex() and record.hash_algorithm == "sha256"
    assert record.nonce == str(nonces[0]) and record.policy_oid == profile.TSA_POLICY_OID
    assert record.gen_time == infos[0]["gen_time"].native
    assert infos[0]["gen_time"].native.microsecond == 0


@pytest.mark.parametrize("algorithm", ["sha384", "sha512"])
def test_longer_imprints_are_accepted(pki, algorithm):
    digest = hashlib.new(algorithm, b"x").digest()
    info = granted(timestamp_reply_der(query(digest, algorithm)))
    assert info["message_imprint"]["hash_algorithm"]["algorithm"].native == algorithm


def test_certificates_only_when_requested(pki):
    digest = hashlib.sha256(b"x").digest()
    with_certs = TimeStampResponse.load(timestamp_reply_der(query(digest, cert_req=True)))
    without = TimeStampResponse.load(timestamp_reply_der(query(digest, cert_req=False)))
    assert len(with_certs["time_stamp_token"]["content"]["certificates"]) == 2  # TSA + issuing CA
    assert not without["time_stamp_token"]["content"]["certificates"].native


@pytest.mark.parametrize(
    "body, fail_info",
    [
        (b"garbage", "bad_data_format"),
        (b"\x30\x00", "bad_data_format"),
        (b"\x30\x80" + b"\x00" * 10, "bad_data_format"),
        (query(hashlib.sha1(b"x").digest(), "sha1"), "bad_alg"),
        (query(hashlib.md5(b"x").digest(), "md5"), "bad_alg"),
        (query(b"short", "sha256"), "bad_data_format"),
        (query(hashlib.sha256(b"x").digest(), req_policy="1.2.3.4"), "unaccepted_policy"),
    ],
)
def test_bad_requests_get_a_rejection_reply_not_a_server_error(client, pki, body, fail_info):
    response = post(client, body)
    assert response.status_code == 200
    assert rejected(response.content) == {fail_info}


def test_wrong_content_type_is_415_and_oversized_is_413(client, pki):
    body = query(hashlib.sha256(b"x").digest())
    assert post(client, body, "application/octet-stream").status_code == 415
    assert post(client, b"\x30" * (MAX_REQUEST_BYTES + 1)).status_code == 413
    assert client.get("/tsa").status_code == 405


def test_empty_request_is_rejected(pki):
    assert rejected(timestamp_reply_der(b"")) == {"bad_data_format"}
