"""POST /api/v1/verify on real-world files: judged in the sandbox, statuses and reading mode in the JSON."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from econtract.verification.tests import pki_fixtures as fx
from econtract.verification.tests import realworld as rw


def post(client, data: bytes) -> dict:
    response = client.post(
        "/api/v1/verify", {"document": SimpleUploadedFile("x.pdf", data, "application/pdf")}
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.django_db
def test_an_owner_password_only_encrypted_file_is_judged_not_refused(client, pki: fx.ThrowawayPki) -> None:
    encrypted = rw.fill_signature(rw.inline_encryption_placeholder(), rw.detached_cms(pki))

    report = post(client, encrypted)

    assert report["mode"] == "lenient"
    (sig,) = report["signatures"]
    # intact and cryptographically valid; our test PKI is not the platform's root
    assert (sig["intact"], sig["valid"]) == (True, True)
    assert (sig["status"], sig["reasons"]) == ("indeterminate", ["chain_not_trusted"])
    assert report["valid"] is False


@pytest.mark.django_db
def test_a_byte_range_past_the_end_is_reported_broken(client, pki: fx.ThrowawayPki) -> None:
    broken = rw.fill_signature(rw.with_placeholder(), rw.detached_cms(pki), extra_length=3)

    (sig,) = post(client, broken)["signatures"]

    assert sig["status"] == "invalid" and "byte_range_past_eof" in sig["reasons"]
    assert sig["intact"] is None
