"""ECONTRACT_TSA_URL: signatures are timestamped by an external RFC 3161 TSA over HTTP.

The external TSA here is a real one of ours on another address: a separate econtract server with its
own root, reached over HTTP like any third-party TSA.
"""

from __future__ import annotations

import io

import pytest
from asn1crypto import x509
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.pki.services import root_certificate
from econtract.signing.tests.factories import PIN, create_and_send, people, sign_as
from econtract.verification.services import verify_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _load_pem(path) -> x509.Certificate:
    from asn1crypto import pem

    _, _, der = pem.unarmor(path.read_bytes())
    return x509.Certificate.load(der)


def test_signing_with_an_external_tsa(
    platform, settings, make_user, enterprise, api_client, outbox, sample_pdf
):
    settings.ECONTRACT_TSA_URL = f"{platform.base_url}/tsa"
    settings.ECONTRACT_TSA_TRUST_ROOTS = [str(platform.root_pem)]
    sender, first, _ = people(make_user, enterprise)
    envelope = create_and_send(
        api_client(sender, enterprise),
        sample_pdf,
        [{"name": "张三", "email": "first@example.test", "order": 1}],
        [{"party": 0, "page": 1, "x": 50, "y": 60, "width": 180, "height": 60}],
    )
    response = sign_as(api_client(first), outbox, envelope, 0, "first@example.test", PIN["first"])
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "completed"

    from econtract.signing.models import Envelope

    pdf = Envelope.objects.get(pk=envelope["id"]).current_document().read_bytes()
    external_root = _load_pem(platform.root_pem)
    signature = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    token = next(
        attribute["values"][0]
        for attribute in signature.signed_data["signer_infos"][0]["unsigned_attrs"]
        if attribute["type"].native == "signature_time_stamp_token"
    )
    tsa_names = [c.chosen.subject.human_friendly for c in token["content"]["certificates"]]
    assert any("Time Stamping" in name for name in tsa_names)
    # the token chains to the external TSA's root, not to ours
    report = verify_pdf(pdf, trust_roots=[root_certificate()])
    assert not report.valid
    report = verify_pdf(pdf, trust_roots=[root_certificate(), external_root])
    assert report.valid, report.to_dict()
    assert report.signatures[0].timestamp_valid
