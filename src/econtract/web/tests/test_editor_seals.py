"""The sender's editor with organisation parties: seal boxes, the cross-page seal, and the amount."""

from __future__ import annotations

import json
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from econtract.evidence.services import RequestContext
from econtract.seals.tests.seal_factories import grant, make_seal, office
from econtract.signing import services
from econtract.signing.models import Envelope, Party, SignatureField

USCC = "91350100M000100Y43"


def editor_payload(parties, fields) -> dict:
    return {"payload": json.dumps({"parties": parties, "fields": fields})}


def organisation(**extra) -> dict:
    return {
        "name": "福州示例科技有限公司",
        "email": "Keeper@Example.test",
        "order": 2,
        "kind": "organization",
        # typed with spaces, lower case and a full-width letter: stored normalised
        "organization_uscc": "9135 0100 m000 100Ｙ43",
        **extra,
    }


def person() -> dict:
    return {"name": "张三", "email": "zhang@example.test", "order": 1}


def test_an_organisation_party_gets_seal_boxes_and_one_cross_page_strip_per_page(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    parties = [person(), organisation(cross_page_seal={"y": 360, "height": 120})]
    fields = [
        {"party": 0, "page": 1, "x": 50, "y": 60, "width": 180, "height": 60},
        {"party": 1, "page": 2, "x": 300, "y": 60, "width": 120, "height": 120},
    ]

    response = client.post(url, editor_payload(parties, fields))

    assert response.status_code == 302
    company = draft.parties.get(order=2)
    assert (company.kind, company.organization_uscc, company.email) == (
        Party.Kind.ORGANIZATION,
        USCC,
        "keeper@example.test",
    )
    assert draft.parties.get(order=1).kind == Party.Kind.PERSON
    rows = {(f.party.order, f.kind, f.page) for f in draft.fields.select_related("party")}
    assert rows == {
        (1, SignatureField.Kind.SIGNATURE, 1),
        (2, SignatureField.Kind.SEAL, 2),
        (2, SignatureField.Kind.CROSS_PAGE_SEAL, 1),
        (2, SignatureField.Kind.CROSS_PAGE_SEAL, 2),
    }
    strips = draft.fields.filter(kind=SignatureField.Kind.CROSS_PAGE_SEAL)
    assert {(f.y, f.height) for f in strips} == {(360, 120)}

    # Opening the editor again shows the cross-page seal as the party's setting, not as boxes.
    state = client.get(url).context["state"]
    assert state["parties"][1]["kind"] == "organization"
    assert state["parties"][1]["organization_uscc"] == USCC
    assert state["parties"][1]["cross_page_seal"] == {"y": 360, "height": 120}
    assert state["parties"][0]["cross_page_seal"] is None
    assert len(state["fields"]) == 2


def test_a_bad_uscc_is_shown_and_nothing_is_saved(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    parties = [organisation(organization_uscc="91350100M000100Y44")]  # wrong check character
    fields = [{"party": 0, "page": 1, "x": 300, "y": 60, "width": 120, "height": 120}]

    response = client.post(url, editor_payload(parties, fields), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    shown = [str(m) for m in response.context["messages"]]
    assert any("organization_uscc" in m and "not valid" in m for m in shown), shown
    assert draft.parties.count() == 0 and draft.fields.count() == 0
    # The sender's unsaved row comes back as typed.
    assert response.context["state"]["parties"][0]["kind"] == "organization"


def test_a_cross_page_seal_off_the_page_is_refused(client, sender, draft):
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    parties = [organisation(cross_page_seal={"y": 5000, "height": 120})]

    response = client.post(url, editor_payload(parties, []), HTTP_ACCEPT_LANGUAGE="en")

    assert response.status_code == 400
    assert draft.parties.count() == 0


def test_a_person_cannot_carry_a_cross_page_seal(client, sender, draft):
    """A row switched back to person keeps nothing of the organisation it was."""
    client.force_login(sender)
    url = reverse("web:envelope_edit", args=[draft.pk])
    switched = {**person(), "organization_uscc": USCC, "cross_page_seal": {"y": 300, "height": 120}}
    fields = [{"party": 0, "page": 1, "x": 50, "y": 60, "width": 180, "height": 60}]

    response = client.post(url, editor_payload([switched], fields))

    assert response.status_code == 302
    saved = draft.parties.get()
    assert (saved.kind, saved.organization_uscc) == (Party.Kind.PERSON, "")
    assert list(draft.fields.values_list("kind", flat=True)) == [SignatureField.Kind.SIGNATURE]


def upload(client, sample_pdf, **extra):
    document = SimpleUploadedFile("contract.pdf", sample_pdf, content_type="application/pdf")
    return client.post(
        reverse("web:envelope_new"),
        {"title": "采购合同", "document": document, **extra},
        HTTP_ACCEPT_LANGUAGE="en",
    )


def test_an_amount_without_currency_is_in_cny(client, sender, enterprise, sample_pdf):
    client.force_login(sender)

    response = upload(client, sample_pdf, organization=enterprise.pk, amount="1250.5", currency="")

    assert response.status_code == 302
    envelope = Envelope.objects.get()
    assert (envelope.amount, envelope.currency) == (Decimal("1250.50"), "CNY")
    page = client.get(response["Location"], HTTP_ACCEPT_LANGUAGE="en")
    assert "1250.50 CNY" in page.content.decode()


def test_no_amount_means_no_currency(client, sender, enterprise, sample_pdf):
    client.force_login(sender)

    response = upload(client, sample_pdf, organization=enterprise.pk, amount="", currency="CNY")

    assert response.status_code == 302
    assert (Envelope.objects.get().amount, Envelope.objects.get().currency) == (None, "")


def test_a_bad_amount_or_currency_is_shown_on_its_field_and_nothing_is_stored(
    client, sender, enterprise, sample_pdf
):
    client.force_login(sender)

    response = upload(client, sample_pdf, organization=enterprise.pk, amount="-3", currency="CNY")
    assert response.status_code == 200
    assert "amount" in response.context["form"].errors

    response = upload(client, sample_pdf, organization=enterprise.pk, amount="10.123", currency="CNY")
    assert "amount" in response.context["form"].errors

    response = upload(client, sample_pdf, organization=enterprise.pk, amount="10", currency="C1")
    assert "currency" in response.context["form"].errors
    assert Envelope.objects.count() == 0


def test_saving_in_the_editor_keeps_an_automatic_party_made_through_the_api(make_user, client, sample_pdf):
    # Given a draft, made through the API, whose company party is sealed unattended
    company = office(make_user)
    seal = make_seal(company)
    grant(seal, company.keeper, automatic=True)
    draft = services.create_envelope(
        organization=company.org,
        created_by=company.admin,
        title="收据 Receipt",
        pdf=sample_pdf,
        parties=[
            services.PartySpec(
                name=company.org.name,
                email="",
                kind=Party.Kind.ORGANIZATION,
                organization_uscc=company.org.uscc,
                automatic=True,
                seal_id=seal.id,
            )
        ],
        fields=[services.FieldSpec(party=0, page=1, x=300, y=60, width=120, height=120, kind="seal")],
        context=RequestContext.system("test"),
    )
    client.force_login(company.admin)
    url = reverse("web:envelope_edit", args=[draft.pk])

    # When the sender opens the editor and saves what it shows
    state = client.get(url).context["state"]
    assert state["parties"][0]["automatic_seal_id"] == str(seal.id)
    response = client.post(url, editor_payload(state["parties"], state["fields"]))

    # Then the party is still automatic, with the same seal
    assert response.status_code == 302
    assert draft.parties.get().automatic_seal == seal
