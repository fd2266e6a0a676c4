"""Envelope specs with an amount, organisation parties, seal fields and cross-page seals (API, in process)."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from econtract.accounts.services import add_member
from econtract.signing.models import Envelope, SignatureField
from econtract.signing.tests.factories import spec

pytestmark = pytest.mark.django_db

USCC = "91350100M000100Y43"
PERSON = {"name": "张三", "email": "first@example.test"}
COMPANY = {
    "kind": "organization",
    "name": "福州示例科技有限公司",
    "organization_uscc": USCC,
    "email": "clerk@fz.test",
}
BOX = {"page": 1, "x": 50, "y": 60, "width": 180, "height": 60}


@pytest.fixture
def sender_api(make_user, enterprise, api_client):
    sender = make_user("sender@acme.test", "赵六 Zhao Liu")
    add_member(enterprise, sender)
    return api_client(sender, enterprise)


def create(client, pdf, parties, fields=(), **extra):
    return client.post(
        "/api/v1/envelopes",
        {
            "document": SimpleUploadedFile("c.pdf", pdf, "application/pdf"),
            "spec": spec(parties, fields, **extra),
        },
        HTTP_ACCEPT_LANGUAGE="en",
    )


def refused(response, words: str) -> None:
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["error"] == "invalid_envelope"
    assert words in body["detail"], body["detail"]


def test_an_amount_and_its_currency_are_stored_and_shown(sender_api, sample_pdf):
    response = create(sender_api, sample_pdf, [PERSON], amount="1250.5", currency="CNY")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["amount"], body["currency"]) == ("1250.50", "CNY")
    envelope = Envelope.objects.get(pk=body["id"])
    assert str(envelope.amount) == "1250.50" and envelope.currency == "CNY"


def test_a_json_number_is_an_amount_too_and_no_amount_is_none(sender_api, sample_pdf):
    numeric = create(sender_api, sample_pdf, [PERSON], amount=99.9, currency="USD").json()
    plain = create(sender_api, sample_pdf, [PERSON]).json()

    assert (numeric["amount"], numeric["currency"]) == ("99.90", "USD")
    assert (plain["amount"], plain["currency"]) == (None, "")


@pytest.mark.parametrize(
    ("amount", "currency", "words"),
    [
        ("0", "CNY", "greater than zero"),
        ("-5", "CNY", "greater than zero"),
        ("NaN", "CNY", "finite"),
        ("Infinity", "CNY", "finite"),
        ("1.005", "CNY", "at most 2 decimal places"),
        (0.1 + 0.2, "CNY", "at most 2 decimal places"),
        ("1000000000000000000", "CNY", "less than 10^18"),
        ("100", "", "currency (ISO 4217"),
        ("100", "cny", "ISO 4217 code of 3 upper-case letters"),
        ("100", "C1Y", "ISO 4217 code of 3 upper-case letters"),
        ("100", "RMBX", "currency"),
        (None, "CNY", "currency is given without an amount"),
        ("12 yuan", "CNY", "amount"),
    ],
)
def test_amounts_that_cannot_be_judged_are_refused(sender_api, sample_pdf, amount, currency, words):
    extra = {"currency": currency} if amount is None else {"amount": amount, "currency": currency}

    refused(create(sender_api, sample_pdf, [PERSON], **extra), words)
    assert not Envelope.objects.exists()


def test_an_organisation_party_is_stored_with_its_normalised_uscc(sender_api, sample_pdf):
    company = {**COMPANY, "organization_uscc": " 91350100m000100y43 "}
    response = create(
        sender_api,
        sample_pdf,
        [PERSON, company],
        [{"party": 0, **BOX}, {"party": 1, "kind": "seal", **BOX, "x": 300, "width": 120, "height": 120}],
    )

    assert response.status_code == 201, response.content
    person, organisation = response.json()["parties"]
    assert (person["kind"], person["organization_uscc"]) == ("person", "")
    assert (organisation["kind"], organisation["organization_uscc"]) == ("organization", USCC)
    assert organisation["automatic"] is False and organisation["email"] == "clerk@fz.test"
    assert [f["kind"] for f in response.json()["fields"]] == ["signature", "seal"]


@pytest.mark.parametrize(
    ("party", "words"),
    [
        ({**COMPANY, "organization_uscc": "91350100M000100Y44"}, "check character"),
        ({**COMPANY, "organization_uscc": ""}, "organization_uscc"),
        ({**PERSON, "organization_uscc": USCC}, "belong to organisation parties"),
        ({**COMPANY, "email": ""}, "a valid email is required"),
        ({**COMPANY, "automatic": True}, "names its seal (seal_id)"),
        ({**COMPANY, "seal_id": "7c0c1b7e-3f1e-4d3a-9a55-6a6f0e0e0e0e"}, "seal_id is for automatic parties"),
        (
            {**COMPANY, "automatic": True, "seal_id": "7c0c1b7e-3f1e-4d3a-9a55-6a6f0e0e0e0e"},
            "not a seal of the sending organisation",
        ),
    ],
)
def test_organisation_parties_that_cannot_sign_are_refused(sender_api, sample_pdf, party, words):
    refused(create(sender_api, sample_pdf, [PERSON, party]), words)


@pytest.mark.parametrize(
    ("field", "words"),
    [
        ({"party": 0, "kind": "seal", **BOX}, "only an organisation party has seal fields"),
        ({"party": 0, "kind": "cross_page_seal", "y": 300, "height": 100}, "only an organisation party"),
        ({"party": 1, "kind": "signature", **BOX}, "signs with its seal"),
        ({"party": 1, "kind": "seal", **BOX, "width": 10}, "at least 20 x 10"),
        ({"party": 1, "kind": "seal", **BOX, "x": 500}, "outside page 1"),
        ({"party": 1, "kind": "seal", "page": 1, "y": 60, "height": 60}, "page, x, y, width and height"),
        ({"party": 1, "kind": "cross_page_seal", "y": 300, "height": 100, "x": 10}, "derives x"),
        ({"party": 1, "kind": "cross_page_seal", "y": 300, "height": 100, "page": 2}, "derives page"),
        ({"party": 1, "kind": "cross_page_seal", "y": 800, "height": 100}, "outside page 1"),
        ({"party": 1, "kind": "cross_page_seal", "y": -1, "height": 100}, "outside page 1"),
        ({"party": 1, "kind": "cross_page_seal", "y": 300, "height": 12}, "at least 20 points high"),
        ({"party": 1, "kind": "stamp", **BOX}, "kind"),
    ],
)
def test_fields_that_do_not_fit_their_party_or_the_page_are_refused(sender_api, sample_pdf, field, words):
    refused(create(sender_api, sample_pdf, [PERSON, COMPANY], [field]), words)


def test_a_party_has_at_most_one_cross_page_seal(sender_api, sample_pdf):
    strip = {"party": 1, "kind": "cross_page_seal", "y": 300, "height": 100}

    refused(create(sender_api, sample_pdf, [PERSON, COMPANY], [strip, {**strip, "y": 500}]), "at most one")


def test_a_cross_page_seal_becomes_one_strip_per_page_at_the_right_edge(sender_api, sample_pdf):
    response = create(
        sender_api,
        sample_pdf,
        [PERSON, COMPANY],
        [
            {"party": 1, "kind": "seal", **BOX, "x": 300, "width": 120, "height": 120},
            {"party": 1, "kind": "cross_page_seal", "y": 300, "height": 110},
        ],
    )

    assert response.status_code == 201, response.content
    envelope = Envelope.objects.get(pk=response.json()["id"])
    strips = list(envelope.fields.filter(kind=SignatureField.Kind.CROSS_PAGE_SEAL).order_by("page"))
    assert [s.page for s in strips] == [1, 2]
    for strip in strips:
        llx, _, urx, _ = envelope.page_sizes[strip.page - 1]
        # provisional, as for a round seal (width = height): its share of the seal per page
        assert strip.width == pytest.approx(110 / 2)
        assert strip.x + strip.width == pytest.approx(urx - llx)
        assert (strip.y, strip.height) == (300, 110)
    listed = response.json()["fields"]
    assert [f["kind"] for f in listed] == ["seal", "cross_page_seal", "cross_page_seal"]
