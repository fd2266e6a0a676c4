"""Page previews show what the PDF shows: a signed revision's signature appearance is drawn."""

from __future__ import annotations

import pytest
from django.urls import reverse

from econtract.documents.tests.pngread import dark_pixel_share_in
from econtract.evidence.services import RequestContext
from econtract.pki import custody
from econtract.signing import services

pytestmark = pytest.mark.django_db(transaction=True)

PIN = "246810"
BOX = {"x": 60, "y": 80, "width": 180, "height": 60}  # the `sent` fixture's box on page 1


def box_fractions(envelope) -> tuple[float, float, float, float]:
    """The box as fractions of the page image (left, top, right, bottom), with a 10% inset."""
    llx, lly, urx, ury = envelope.page_sizes[0]
    width, height = urx - llx, ury - lly
    inset_x, inset_y = BOX["width"] * 0.1, BOX["height"] * 0.1
    left = (BOX["x"] + inset_x) / width
    right = (BOX["x"] + BOX["width"] - inset_x) / width
    top = 1 - (BOX["y"] + BOX["height"] - inset_y) / height
    bottom = 1 - (BOX["y"] + inset_y) / height
    return left, top, right, bottom


def test_the_signed_revision_shows_the_signature_appearance(client, sent, signer, sender, outbox):
    custody.set_signing_pin(signer, PIN)
    party = sent.parties.get()
    services.request_signing_code(sent.pk, party.pk, signer, RequestContext.system("test"))
    services.sign(
        sent.pk,
        party.pk,
        signer,
        otp=outbox.last_code(signer.email),
        pin=PIN,
        context=RequestContext.system("test"),
    )
    sent.refresh_from_db()
    client.force_login(sender)
    original = client.get(reverse("web:page_image", args=[sent.pk, 0, 1])).content
    signed = client.get(reverse("web:page_image", args=[sent.pk, sent.current_version, 1])).content
    region = box_fractions(sent)
    before, after = dark_pixel_share_in(original, *region), dark_pixel_share_in(signed, *region)
    assert before < 0.01, "the box area of the sample page is blank"
    assert after > before + 0.02, f"no signature drawn in the box: {before:.4f} -> {after:.4f}"


def test_the_envelope_page_previews_the_current_document(client, sent, sender):
    client.force_login(sender)
    response = client.get(reverse("web:envelope_detail", args=[sent.pk]))
    html = response.content.decode()
    for number in (1, 2):
        assert reverse("web:page_image", args=[sent.pk, sent.current_version, number]) in html


def test_the_second_signer_sees_the_first_signature_on_her_page(
    client, make_user, enterprise, api_client, sample_pdf, outbox
):
    from urllib.parse import urlsplit

    from econtract.signing.tests.factories import PIN as PINS
    from econtract.signing.tests.factories import create_and_send, people, sign_as

    sender, first, second = people(make_user, enterprise)
    envelope = create_and_send(
        api_client(sender, enterprise),
        sample_pdf,
        [
            {"name": "张三", "email": first.email, "order": 1},
            {"name": "李四", "email": second.email, "order": 2},
        ],
        [{"party": 0, "page": 1, **BOX}, {"party": 1, "page": 1, **{**BOX, "x": 320}}],
    )
    signed = sign_as(api_client(first), outbox, envelope, 0, first.email, PINS["first"])
    assert signed.status_code == 200, signed.content
    client.force_login(second)
    page = client.get(urlsplit(outbox.last_link(second.email)).path)
    (first_page, _) = page.context["pages"]
    assert "/pages/v1/1.png" in first_page["src"]
    image = client.get(first_page["src"]).content
    sent = page.context["envelope"]
    assert dark_pixel_share_in(image, *box_fractions(sent)) > 0.02  # the first party's signature
