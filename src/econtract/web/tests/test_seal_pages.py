"""The seal pages: who sees what, who may do what, and what each page answers.

The enterprise is verified through the real verbs (福州示例科技有限公司; its owner 张三 manages
seals). A member holds grants, an auditor reads the usage log, an outsider sees nothing.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from cryptography import x509
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from econtract.accounts.models import Membership
from econtract.accounts.services import add_member
from econtract.evidence.services import RequestContext
from econtract.seals import services as seal_services
from econtract.seals.models import ApprovalRequest, Seal, SealGrant

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
CONTEXT = RequestContext.system("test")


def browser(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client(**EN)
    client.force_login(user)
    return client


@pytest.fixture
def owner(verified_enterprise):
    return verified_enterprise.memberships.get(role=Membership.Role.OWNER).user


@pytest.fixture
def member(verified_enterprise, make_user):
    user = make_user("member@fuzhou.test", "钱七 Qian Qi")
    add_member(verified_enterprise, user, role=Membership.Role.MEMBER)
    return user


@pytest.fixture
def auditor(verified_enterprise, make_user):
    user = make_user("auditor@fuzhou.test", "孙八 Sun Ba")
    add_member(verified_enterprise, user, role=Membership.Role.AUDITOR)
    return user


@pytest.fixture
def outsider(make_user):
    return make_user("outsider@example.test", "周九 Zhou Jiu")


@pytest.fixture
def seal(verified_enterprise, owner):
    return seal_services.create_seal(
        verified_enterprise, owner, name="合同专用章", seal_type="contract", shape="round", context=CONTEXT
    )


def _grant(seal, owner, user, **extra):  # type: ignore[no-untyped-def]
    return seal_services.grant_use(
        seal,
        owner,
        user=user,
        valid_until=timezone.now() + timedelta(days=30),
        scope=extra.pop("scope", {}),
        context=CONTEXT,
        **extra,
    )


def _facts(seal, title="采购合同"):  # type: ignore[no-untyped-def]
    """What signing would tell seals about one envelope (seals never reads envelopes itself)."""
    return seal_services.EnvelopeFacts(
        envelope_id=uuid.uuid4(),
        party_id=uuid.uuid4(),
        sender_organization_id=seal.organization_id,
        title=title,
        original_sha256="ab" * 32,
        amount=Decimal("1000.00"),
        currency="CNY",
    )


# --- the list -----------------------------------------------------------------------------------


def test_members_see_the_seals_and_only_managers_are_offered_a_new_one(
    verified_enterprise, seal, owner, member
):
    url = reverse("web:seal_list", args=[verified_enterprise.pk])

    as_owner = browser(owner).get(url)
    as_member = browser(member).get(url)

    assert as_owner.status_code == 200 and as_member.status_code == 200
    for page in (as_owner, as_member):
        text = page.content.decode()
        assert "合同专用章" in text and seal.certificate.serial_number in text
        assert reverse("web:seal_image", args=[seal.pk]) in text
    assert "seal-new-link" in as_owner.content.decode()
    assert "seal-new-link" not in as_member.content.decode()


def test_an_outsider_learns_nothing_of_an_organisations_seals(verified_enterprise, seal, outsider):
    client = browser(outsider)

    for url in (
        reverse("web:seal_list", args=[verified_enterprise.pk]),
        reverse("web:seal_new", args=[verified_enterprise.pk]),
        reverse("web:seal_detail", args=[seal.pk]),
        reverse("web:seal_image", args=[seal.pk]),
        reverse("web:seal_certificate", args=[seal.pk, "pem"]),
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(reverse("web:seal_lifecycle", args=[seal.pk, "suspend"])).status_code == 404
    seal.refresh_from_db()
    assert seal.status == Seal.Status.ACTIVE


def test_the_organisation_page_links_to_its_seals(verified_enterprise, member):
    page = browser(member).get(reverse("web:organization_detail", args=[verified_enterprise.pk]))

    assert reverse("web:seal_list", args=[verified_enterprise.pk]) in page.content.decode()


# --- a new seal ---------------------------------------------------------------------------------


def test_a_manager_makes_a_seal_in_the_form_and_gets_its_picture_and_certificate(verified_enterprise, owner):
    client = browser(owner)
    new = reverse("web:seal_new", args=[verified_enterprise.pk])
    assert "seal-form" in client.get(new).content.decode()

    response = client.post(new, {"name": "合同专用章", "seal_type": "contract", "shape": "round", "code": ""})

    assert response.status_code == 302, response.content.decode()
    made = Seal.objects.get(organization=verified_enterprise)
    assert response["Location"] == reverse("web:seal_detail", args=[made.pk])
    assert made.status == Seal.Status.ACTIVE and made.created_by == owner
    detail = client.get(response["Location"]).content.decode()
    assert made.certificate.serial_number in detail and "seal-lifecycle" in detail
    picture = client.get(reverse("web:seal_image", args=[made.pk]))
    assert picture["Content-Type"] == "image/png"
    pixels = Image.open(io.BytesIO(picture.content)).convert("RGBA").tobytes()
    red = sum(
        1
        for r, g, b, a in zip(pixels[0::4], pixels[1::4], pixels[2::4], pixels[3::4], strict=True)
        if a > 128 and r > 150 and g < 90 and b < 90
    )
    assert red > 100  # the seal is drawn in red on transparency
    pem = client.get(reverse("web:seal_certificate", args=[made.pk, "pem"]))
    certificate = x509.load_pem_x509_certificate(pem.content)
    assert str(certificate.serial_number) == made.certificate.serial_number
    assert verified_enterprise.name in certificate.subject.rfc4514_string()


def test_a_bad_seal_code_is_refused_by_the_form(verified_enterprise, owner):
    response = browser(owner).post(
        reverse("web:seal_new", args=[verified_enterprise.pk]),
        {"name": "合同专用章", "seal_type": "contract", "shape": "round", "code": "12345"},
    )

    assert response.status_code == 400 and "13 digits" in response.content.decode()
    assert not Seal.objects.exists()


def _scan(red: bool) -> bytes:
    """A photographed stamp: a red ring and star on off-white paper (or the paper alone)."""
    from PIL import ImageDraw

    image = Image.new("RGB", (600, 600), (246, 244, 238))
    if red:
        draw = ImageDraw.Draw(image)
        draw.ellipse((60, 60, 540, 540), outline=(200, 30, 40), width=22)
        draw.regular_polygon((300, 300, 90), 5, fill=(200, 30, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def test_a_manager_uploads_a_scan_and_its_red_ink_becomes_the_seal(verified_enterprise, owner):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = browser(owner)
    new = reverse("web:seal_new", args=[verified_enterprise.pk])
    form = {"name": "财务专用章", "seal_type": "finance", "shape": "round"}

    blank = client.post(new, {**form, "scan": SimpleUploadedFile("blank.jpg", _scan(False), "image/jpeg")})
    stamp = client.post(new, {**form, "scan": SimpleUploadedFile("stamp.jpg", _scan(True), "image/jpeg")})

    assert blank.status_code == 400 and "seal-error" in blank.content.decode()
    assert stamp.status_code == 302, stamp.content.decode()
    made = Seal.objects.get()
    assert made.source == Seal.Source.UPLOADED
    picture = Image.open(io.BytesIO(client.get(reverse("web:seal_image", args=[made.pk])).content))
    assert picture.mode == "RGBA" and picture.getpixel((0, 0))[3] == 0  # transparent around the ink


def test_only_the_legal_representatives_seal_is_square(verified_enterprise, owner):
    client = browser(owner)
    new = reverse("web:seal_new", args=[verified_enterprise.pk])

    round_rep = client.post(new, {"name": "法人章", "seal_type": "legal_representative", "shape": "round"})
    square_rep = client.post(new, {"name": "法人章", "seal_type": "legal_representative", "shape": "square"})

    assert round_rep.status_code == 400 and "square" in round_rep.content.decode()
    assert square_rep.status_code == 302, square_rep.content.decode()
    assert Seal.objects.get().shape == Seal.Shape.SQUARE


def test_a_member_is_not_offered_the_form_and_cannot_post_it(verified_enterprise, member):
    client = browser(member)
    new = reverse("web:seal_new", args=[verified_enterprise.pk])

    page = client.get(new)
    posted = client.post(new, {"name": "公章", "seal_type": "official", "shape": "round"})

    assert page.status_code == 403 and "seal-form" not in page.content.decode()
    assert posted.status_code == 403
    assert not Seal.objects.exists()


def test_an_unverified_organisation_gets_a_message_and_no_form(enterprise):
    owner = enterprise.memberships.get().user
    client = browser(owner)
    new = reverse("web:seal_new", args=[enterprise.pk])

    page = client.get(new)
    posted = client.post(new, {"name": "公章", "seal_type": "official", "shape": "round"})

    text = page.content.decode()
    assert page.status_code == 200 and "seal-new-unverified" in text and "seal-form" not in text
    assert "verified organisation" in text
    assert posted.status_code == 400 and not Seal.objects.exists()


def test_the_preview_draws_without_storing(verified_enterprise, owner, member):
    url = reverse("web:seal_preview", args=[verified_enterprise.pk])
    query = {"name": "财务专用章", "seal_type": "finance", "shape": "round", "code": "3501000012345"}

    preview = browser(owner).get(url, query, HTTP_HX_REQUEST="true")
    refused = browser(member).get(url, query)

    assert preview.status_code == 200 and 'src="data:image/png;base64,' in preview.content.decode()
    assert refused.status_code == 403
    assert not Seal.objects.exists()


# --- grants -------------------------------------------------------------------------------------


def test_a_manager_grants_a_member_with_a_limit_and_revokes_the_grant(seal, owner, member):
    client = browser(owner)
    detail = reverse("web:seal_detail", args=[seal.pk])
    assert f"user:{member.pk}" in client.get(detail).content.decode()
    assert f"user:{owner.pk}" not in client.get(detail).content.decode()  # never to herself

    response = client.post(
        reverse("web:seal_grant", args=[seal.pk]),
        {
            "grantee": f"user:{member.pk}",
            "valid_until": (timezone.localtime() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
            "max_amount": "50000.00",
            "currency": "cny",
            "requires_approval": "on",
        },
    )

    assert response.status_code == 302, response.content.decode()
    grant = SealGrant.objects.get(seal=seal)
    assert grant.user == member and grant.requires_approval
    assert grant.scope == {"max_amount": "50000.00", "currency": "CNY"}
    assert "50000.00 CNY" in client.get(detail).content.decode()

    response = client.post(reverse("web:seal_grant_revoke", args=[seal.pk, grant.pk]))
    assert response.status_code == 302
    grant.refresh_from_db()
    assert grant.revoked_at is not None and grant.revoked_by == owner


def test_a_member_sees_the_grants_but_no_controls_and_cannot_grant(seal, owner, member, make_user):
    colleague = make_user("colleague@fuzhou.test", "吴十 Wu Shi")
    add_member(seal.organization, colleague)
    _grant(seal, owner, member)
    client = browser(member)

    page = client.get(reverse("web:seal_detail", args=[seal.pk])).content.decode()
    response = client.post(
        reverse("web:seal_grant", args=[seal.pk]),
        {
            "grantee": f"user:{colleague.pk}",
            "valid_until": (timezone.localtime() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
        },
    )

    assert member.email in page
    assert "seal-mine" in client.get(reverse("web:seal_list", args=[seal.organization_id])).content.decode()
    assert "grant-form" not in page and "seal-lifecycle" not in page and "grant-revoke" not in page
    assert response.status_code == 403
    assert SealGrant.objects.filter(seal=seal).count() == 1


def test_automatic_signing_needs_the_explicit_confirmation(seal, owner):
    client = browser(owner)
    url = reverse("web:seal_grant_automatic", args=[seal.pk])
    until = (timezone.localtime() + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    assert "automatic-warning" in client.get(reverse("web:seal_detail", args=[seal.pk])).content.decode()

    unconfirmed = client.post(url, {"valid_until": until, "max_amount": "100", "currency": "CNY"})
    confirmed = client.post(
        url, {"valid_until": until, "max_amount": "100", "currency": "CNY", "confirm": "on"}
    )

    assert unconfirmed.status_code == 400
    assert confirmed.status_code == 302, confirmed.content.decode()
    [grant] = SealGrant.objects.filter(seal=seal)
    assert grant.grantee == SealGrant.Grantee.AUTOMATIC and grant.scope["max_amount"] == "100.00"


# --- lifecycle ----------------------------------------------------------------------------------


def test_a_manager_suspends_resumes_and_revokes_a_seal_with_its_certificate(seal, owner):
    client = browser(owner)

    def act(action: str, **data: str) -> None:
        response = client.post(reverse("web:seal_lifecycle", args=[seal.pk, action]), data)
        assert response.status_code == 302, response.content.decode()
        seal.refresh_from_db()

    act("suspend", reason="盘点 stocktaking")
    assert seal.status == Seal.Status.SUSPENDED and "stocktaking" in seal.status_reason
    act("resume")
    assert seal.status == Seal.Status.ACTIVE
    act("revoke", reason="lost", key_compromise="on")
    assert seal.status == Seal.Status.REVOKED
    assert seal.certificate.revoked_at is not None

    page = client.get(reverse("web:seal_detail", args=[seal.pk])).content.decode()
    assert "seal-lifecycle" not in page and "grant-form" not in page


def test_a_member_cannot_suspend_a_seal(seal, member):
    response = browser(member).post(reverse("web:seal_lifecycle", args=[seal.pk, "suspend"]))

    assert response.status_code == 403
    seal.refresh_from_db()
    assert seal.status == Seal.Status.ACTIVE


# --- approvals ----------------------------------------------------------------------------------


def test_a_manager_approves_a_request_in_the_inbox_and_a_rejection_needs_a_reason(seal, owner, member):
    _grant(seal, owner, member, requires_approval=True)
    first = seal_services.request_approval(seal, member, _facts(seal, "采购合同 A"), context=CONTEXT)
    second = seal_services.request_approval(seal, member, _facts(seal, "采购合同 B"), context=CONTEXT)
    client = browser(owner)

    inbox = client.get(reverse("web:approvals")).content.decode()
    assert "采购合同 A" in inbox and "采购合同 B" in inbox
    assert "采购合同 A" in client.get(reverse("web:seal_detail", args=[seal.pk])).content.decode()
    approve = client.post(reverse("web:approval_decide", args=[first.pk]), {"decision": "approve"})
    no_reason = client.post(reverse("web:approval_decide", args=[second.pk]), {"decision": "reject"})

    assert approve.status_code == 302 and no_reason.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == ApprovalRequest.Status.APPROVED and first.decided_by == owner
    assert second.status == ApprovalRequest.Status.PENDING
    rejected = client.post(
        reverse("web:approval_decide", args=[second.pk]), {"decision": "reject", "reason": "金额不符"}
    )
    assert rejected.status_code == 302
    second.refresh_from_db()
    assert second.status == ApprovalRequest.Status.REJECTED and second.decision_reason == "金额不符"
    assert "采购合同" not in client.get(reverse("web:approvals")).content.decode()
    history = client.get(reverse("web:seal_detail", args=[seal.pk])).content.decode()
    assert "seal-approval-history" in history and "金额不符" in history


def test_a_member_has_no_requests_to_decide_and_cannot_decide_her_own(seal, owner, member):
    _grant(seal, owner, member, requires_approval=True)
    request = seal_services.request_approval(seal, member, _facts(seal), context=CONTEXT)
    client = browser(member)

    inbox = client.get(reverse("web:approvals")).content.decode()
    client.post(reverse("web:approval_decide", args=[request.pk]), {"decision": "approve"})

    assert "approvals-none" in inbox
    request.refresh_from_db()
    assert request.status == ApprovalRequest.Status.PENDING


# --- the usage log ------------------------------------------------------------------------------


def test_an_auditor_reads_and_filters_the_usage_log_and_downloads_it_but_a_manager_does_not(
    seal, owner, member, auditor
):
    _grant(seal, owner, member)
    facts = _facts(seal, "采购合同 Usage")
    decision = seal_services.authorize_use(seal, member, facts)
    seal_services.record_use(
        decision,
        facts,
        used_by=member,
        document_sha256="cd" * 32,
        certificate_serial=seal.certificate.serial_number,
        cross_page=False,
        context=CONTEXT,
    )
    detail = reverse("web:seal_detail", args=[seal.pk])
    csv_url = reverse("web:seal_usage_csv", args=[seal.pk])

    page = browser(auditor).get(detail).content.decode()
    filtered = browser(auditor).get(detail, {"envelope": str(uuid.uuid4())}).content.decode()
    download = browser(auditor).get(csv_url, {"user": str(member.pk)})
    as_manager = browser(owner).get(detail).content.decode()

    assert "seal-usage" in page and "采购合同 Usage" in page and str(facts.envelope_id) in page
    assert "usage-empty" in filtered
    assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(rows) == 2 and any(str(facts.envelope_id) in cell for cell in rows[1])
    assert "seal-usage" not in as_manager
    assert browser(owner).get(csv_url).status_code == 403
    assert browser(member).get(csv_url).status_code == 403


# --- the signing page: her signature, or her organisation's seal --------------------------------

MEMBER_PIN = "582914"
# Signing links and codes are mailed once the transaction commits.
ON_COMMIT = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sealing(verified_enterprise, owner, member, seal, sample_pdf, outbox):  # type: ignore[no-untyped-def]
    """An envelope naming the enterprise as an organisation party, its seal applied by the member."""
    from econtract.pki import custody
    from econtract.signing import services as signing

    custody.set_signing_pin(member, MEMBER_PIN)

    def send(**grant: object) -> str:
        _grant(seal, owner, member, **grant)
        envelope = signing.create_envelope(
            organization=verified_enterprise,
            created_by=owner,
            title="采购合同 Sealed",
            pdf=sample_pdf,
            parties=[
                signing.PartySpec(
                    name=verified_enterprise.name,
                    email=member.email,
                    kind="organization",
                    organization_uscc=verified_enterprise.uscc,
                )
            ],
            fields=[signing.FieldSpec(party=0, page=1, x=380, y=80, width=150, height=150, kind="seal")],
            amount="1000.00",
            currency="CNY",
            context=CONTEXT,
        )
        signing.send_envelope(envelope, owner, CONTEXT)
        return outbox.last_link(member.email).rsplit("/sign/", 1)[1]

    return send


def _sign(client: Client, token: str, outbox, email: str, **data: str):  # type: ignore[no-untyped-def]
    assert client.post(reverse("web:sign_code", args=[token])).status_code == 200
    return client.post(
        reverse("web:sign_submit", args=[token]), {"code": outbox.last_code(email), "pin": MEMBER_PIN, **data}
    )


@ON_COMMIT
def test_a_member_with_a_grant_chooses_the_seal_and_signs_for_her_organisation(
    sealing, seal, member, outbox, auditor
):
    from econtract.signing.models import Party

    token = sealing()
    client = browser(member)

    page = client.get(reverse("web:sign", args=[token])).content.decode()
    assert "seal-choice" in page and f'value="{seal.pk}"' in page and "合同专用章" in page
    response = _sign(client, token, outbox, member.email, seal_id=str(seal.pk))

    assert response.status_code == 302, response.content.decode()
    party = Party.objects.get()
    assert party.status == Party.Status.SIGNED
    log = browser(auditor).get(reverse("web:seal_detail", args=[seal.pk])).content.decode()
    assert "采购合同 Sealed" in log and "钱七" in log


@ON_COMMIT
def test_a_seal_needing_approval_is_requested_from_the_signing_page_then_signed(
    sealing, seal, owner, member, outbox
):
    from econtract.signing.models import Party

    token = sealing(requires_approval=True)
    client = browser(member)
    page = client.get(reverse("web:sign", args=[token])).content.decode()
    assert "approval-request-form" in page  # offered before she spends a code

    refused = client.post(
        reverse("web:sign_submit", args=[token]),
        {"code": "000000", "pin": MEMBER_PIN, "seal_id": str(seal.pk)},
    )
    assert refused.status_code == 400 and "needs an approval" in refused.content.decode()
    asked = client.post(
        reverse("web:sign_request_approval", args=[token]), {"seal_id": str(seal.pk), "note": "请批准"}
    )
    assert asked.status_code == 200 and "my-approval-requests" in asked.content.decode()
    [approval] = ApprovalRequest.objects.filter(seal=seal)
    assert approval.status == ApprovalRequest.Status.PENDING and approval.request_note == "请批准"
    decided = browser(owner).post(reverse("web:approval_decide", args=[approval.pk]), {"decision": "approve"})
    assert decided.status_code == 302

    response = _sign(client, token, outbox, member.email, seal_id=str(seal.pk))

    assert response.status_code == 302, response.content.decode()
    assert Party.objects.get().status == Party.Status.SIGNED
    approval.refresh_from_db()
    assert approval.status == ApprovalRequest.Status.USED


@ON_COMMIT
def test_a_member_without_a_grant_is_told_so_on_the_signing_page(
    verified_enterprise, owner, make_user, seal, sample_pdf, outbox
):
    from econtract.signing import services as signing

    stranger = make_user("nogrant@fuzhou.test", "郑十一 Zheng")
    add_member(verified_enterprise, stranger)
    envelope = signing.create_envelope(
        organization=verified_enterprise,
        created_by=owner,
        title="无授权 No grant",
        pdf=sample_pdf,
        parties=[
            signing.PartySpec(
                name=verified_enterprise.name,
                email=stranger.email,
                kind="organization",
                organization_uscc=verified_enterprise.uscc,
            )
        ],
        fields=[signing.FieldSpec(party=0, page=1, x=380, y=80, width=150, height=150, kind="seal")],
        context=CONTEXT,
    )
    signing.send_envelope(envelope, owner, CONTEXT)
    from econtract.pki import custody

    custody.set_signing_pin(stranger, MEMBER_PIN)
    token = outbox.last_link(stranger.email).rsplit("/sign/", 1)[1]

    page = browser(stranger).get(reverse("web:sign", args=[token])).content.decode()

    assert "no-seal-grant" in page and f'value="{seal.pk}"' not in page


@ON_COMMIT
def test_a_person_chooses_one_of_her_signatures(make_user, enterprise, sample_pdf, outbox):
    from econtract.pki import custody
    from econtract.seals import signatures
    from econtract.signing import services as signing

    sender = enterprise.memberships.get().user
    signer = make_user("person@example.test", "李四 Li Si")
    custody.set_signing_pin(signer, MEMBER_PIN)
    typed = signatures.add_signature(signer, kind="typed", text="李四", make_default=True, context=CONTEXT)
    envelope = signing.create_envelope(
        organization=enterprise,
        created_by=sender,
        title="个人签名 Personal",
        pdf=sample_pdf,
        parties=[signing.PartySpec(name=signer.full_name, email=signer.email)],
        fields=[signing.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        context=CONTEXT,
    )
    signing.send_envelope(envelope, sender, CONTEXT)
    token = outbox.last_link(signer.email).rsplit("/sign/", 1)[1]
    client = browser(signer)

    page = client.get(reverse("web:sign", args=[token])).content.decode()
    response = _sign(client, token, outbox, signer.email, signature_id=str(typed.pk))

    assert "signature-choice" in page and f'value="{typed.pk}"' in page
    assert response.status_code == 302, response.content.decode()


# --- the demo -----------------------------------------------------------------------------------


def test_the_demo_enterprise_has_its_seals_with_rights_separated_and_can_be_built_twice(settings, tmp_path):
    from econtract import demo
    from econtract.accounts.models import User
    from econtract.seals.grants import grants_for_user

    settings.DATA_DIR = tmp_path / "data"
    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_BANK_URL = ""

    first = demo.build_demo()
    second = demo.build_demo()

    assert [s.pk for s in second.seals] == [s.pk for s in first.seals]
    org = second.organization
    alice, bob, carol = (User.objects.get(email=spec.email) for spec in (*demo.DEMO_USERS, demo.DEMO_AUDITOR))
    contract, official = second.seals
    assert (contract.name, contract.seal_type, contract.shape) == ("合同专用章", "contract", "round")
    assert (official.name, official.seal_type) == ("公章", "official")
    assert Seal.objects.filter(organization=org).count() == 2
    assert SealGrant.objects.filter(seal__organization=org).count() == 2  # not granted again
    assert not grants_for_user(contract, bob).get().requires_approval
    assert grants_for_user(official, bob).get().requires_approval
    assert not grants_for_user(contract, alice).exists()  # she manages; she does not use
    roles = dict(Membership.objects.filter(organization=org).values_list("user__email", "role"))
    assert roles == {alice.email: "owner", bob.email: "member", carol.email: "auditor"}
    listing = browser(bob).get(reverse("web:seal_list", args=[org.pk])).content.decode()
    assert "合同专用章" in listing and "公章" in listing
    assert "seal-usage" in browser(carol).get(reverse("web:seal_detail", args=[contract.pk])).content.decode()


def test_a_manager_grants_a_department(seal, owner, member):
    from econtract.accounts import org_members

    legal = org_members.create_department(seal.organization, owner, name="法务部", context=CONTEXT)

    response = browser(owner).post(
        reverse("web:seal_grant", args=[seal.pk]),
        {
            "grantee": f"department:{legal.pk}",
            "valid_until": (timezone.localtime() + timedelta(days=10)).strftime("%Y-%m-%dT%H:%M"),
        },
    )

    assert response.status_code == 302, response.content.decode()
    grant = SealGrant.objects.get(seal=seal)
    assert grant.grantee == SealGrant.Grantee.DEPARTMENT and grant.department == legal
    assert "法务部" in browser(owner).get(reverse("web:seal_detail", args=[seal.pk])).content.decode()


def test_the_seal_pages_render_in_chinese(verified_enterprise, seal, owner, auditor):
    chinese = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
    as_owner = Client(**chinese)
    as_owner.force_login(owner)
    as_auditor = Client(**chinese)
    as_auditor.force_login(auditor)

    for client, url in (
        (as_owner, reverse("web:seal_list", args=[verified_enterprise.pk])),
        (as_owner, reverse("web:seal_new", args=[verified_enterprise.pk])),
        (as_owner, reverse("web:seal_detail", args=[seal.pk])),
        (as_owner, reverse("web:approvals")),
        (as_auditor, reverse("web:seal_detail", args=[seal.pk])),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert '<html lang="zh-hans">' in page.content.decode()
