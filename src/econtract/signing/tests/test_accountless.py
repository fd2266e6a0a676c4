"""Signing without an account, through the web pages in process: the email (and phone) proved by code,
the identity checked by the sandbox provider over HTTP (a live server), a fresh willingness code, and a
one-time event certificate in the verified name."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from django.test import Client
from pyhanko.pdf_utils.reader import PdfFileReader

from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext
from econtract.identity.models import IdentityVerification
from econtract.pki import profile
from econtract.pki.hierarchy import root_certificate
from econtract.pki.models import IssuedCertificate
from econtract.signing import services
from econtract.signing.models import Envelope, Party, PartyAccess
from econtract.verification.services.document import verify_pdf

pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "newcomer@example.test"
NAME = "张三"
ID_NUMBER = "11010519491231002X"
PHONE = "+8613800138000"


@pytest.fixture
def served(live_server, settings):
    """The embedded default: the sandbox identity provider over HTTP from the running server."""
    settings.BASE_URL = live_server.url
    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_IDP_SANDBOX = True
    return live_server.url


@pytest.fixture
def sender(enterprise):
    return enterprise.memberships.get().user


def send(enterprise, sender, sample_pdf, **party):
    envelope = services.create_envelope(
        organization=enterprise,
        created_by=sender,
        title="采购合同 Purchase",
        pdf=sample_pdf,
        parties=[services.PartySpec(name=NAME, email=EMAIL, **party)],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        context=RequestContext.system("test"),
    )
    return services.send_envelope(envelope, sender, RequestContext.system("test"))


def stage(client: Client, link: str) -> str:
    page = client.get(link)
    assert page.status_code == 200
    match = re.search(r'id="ceremony" class="card ceremony" data-stage="([a-z_]+)"', page.content.decode())
    assert match, page.content.decode()[:2000]
    return match.group(1)


def sms_code(settings, to: str) -> str:
    for path in sorted((Path(settings.OUTBOX_DIR) / "sms").glob("*.json"), reverse=True):
        message = json.loads(path.read_text())
        if message["to"] == to:
            return re.search(r"(\d{6})", message["text"]).group(1)
    raise AssertionError(f"no text message to {to}")


def test_a_counterparty_without_an_account_signs_with_an_event_certificate(
    served, enterprise, sender, sample_pdf, outbox
):
    envelope = send(enterprise, sender, sample_pdf)
    link = outbox.last_link(EMAIL)
    path = link.split(served, 1)[1]
    browser = Client()
    assert stage(browser, path) == "email"
    stranger = Client()
    # nothing of the document before the email is proved
    assert stranger.get(f"{path}/pages/v0/1.png").status_code == 403
    assert stranger.get(f"{path}/document").status_code == 403

    assert browser.post(f"{path}/access/code").status_code == 302
    code = outbox.last_code(EMAIL)
    wrong = "000000" if code != "000000" else "111111"
    assert browser.post(f"{path}/access/email", {"code": wrong}).status_code == 400
    assert not PartyAccess.objects.exists()
    assert browser.post(f"{path}/access/email", {"code": code}).status_code == 302
    assert stage(browser, path) == "identity"
    assert browser.get(f"{path}/pages/v0/1.png")["Content-Type"] == "image/png"
    assert stranger.get(f"{path}/pages/v0/1.png").status_code == 403  # the proof is this browser's

    # below L2 she is stopped: no willingness code before her identity is verified
    assert browser.post(f"{path}/event/codes").status_code == 400
    assert Event.objects.filter(kind="assurance_refused").exists()

    # another name for the number: rejected by the sandbox, still below her level
    answer = browser.post(
        f"{path}/identity",
        {"method": "id_2el", "name": "李四", "id_type": "cn_resident", "id_number": ID_NUMBER},
    )
    assert answer.status_code == 302
    assert stage(browser, path) == "identity"
    answer = browser.post(
        f"{path}/identity",
        {"method": "id_2el", "name": NAME, "id_type": "cn_resident", "id_number": ID_NUMBER},
    )
    assert answer.status_code == 302
    assert stage(browser, path) == "sign"
    party = Party.objects.get()
    verification = party.identity_verification
    assert verification is not None and verification.user_id is None
    assert verification.status == IdentityVerification.Status.VERIFIED and verification.sandbox
    assert verification.purpose == IdentityVerification.Purpose.SIGNING

    assert browser.post(f"{path}/event/codes").status_code == 302
    signing_code = outbox.last_code(EMAIL)
    assert browser.post(f"{path}/event/sign", {"code": wrong}).status_code == 400
    assert Envelope.objects.get().current_version == 0
    assert browser.post(f"{path}/event/sign", {"code": signing_code}).status_code == 302
    assert stage(browser, path) == "signed"
    assert Envelope.objects.get().status == Envelope.Status.COMPLETED

    # the one-time certificate: verified name, C=CN, a pseudonym (never the number), the L2 policy
    issued = IssuedCertificate.objects.get(profile="event")
    certificate = asn1_x509.Certificate.load(bytes(issued.certificate_der))
    subject = certificate.subject.native
    assert subject["common_name"] == NAME and subject["country_name"] == "CN"
    assert ID_NUMBER not in issued.subject_dn and ID_NUMBER[:6] not in str(subject.get("pseudonym"))
    policies = [p["policy_identifier"].dotted for p in certificate.certificate_policies_value]
    assert policies == [profile.policy_oid_for_level("L2")]
    assert issued.user_id is None and issued.assurance_level == "L2"
    assert issued.not_after - issued.not_before < timedelta(days=2)

    signed = [e.payload for e in Event.objects.for_subject(envelope) if e.kind == "signed"]
    assert signed == [
        {
            **signed[0],
            "assurance_level": "L2",
            "verification_method": "id_2el",
            "verification": str(verification.id),
            "willingness": ["email_otp"],
            "key_custody": "event",
            "certificate_serial": issued.serial_number,
        }
    ]
    pdf = b"".join(browser.get(f"{path}/document").streaming_content)
    (signature, _timestamp) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert signature.signer_cert.subject.native["common_name"] == NAME
    # our own offline verifier judges the one-day certificate at the signature's proven timestamp
    report = verify_pdf(pdf, trust_roots=[root_certificate()])
    assert report.valid, report
    (checked,) = report.signatures
    assert checked.status == "valid" and checked.timestamp_valid and checked.revocation == "good"
    assert NAME in checked.signer
    # the signed page offers an account afterwards
    assert "/register/?email=newcomer%40example.test" in browser.get(path).content.decode()


def test_a_phone_the_sender_gave_is_proved_by_sms_before_the_document_opens(
    served, enterprise, sender, sample_pdf, outbox, settings
):
    send(enterprise, sender, sample_pdf, phone=PHONE, willingness=("email_otp", "sms_otp"))
    path = "/sign/" + outbox.last_link(EMAIL).rsplit("/sign/", 1)[1]
    browser = Client()
    browser.post(f"{path}/access/code")
    browser.post(f"{path}/access/email", {"code": outbox.last_code(EMAIL)})
    assert stage(browser, path) == "phone"
    assert browser.get(f"{path}/pages/v0/1.png").status_code == 403
    assert browser.post(f"{path}/access/phone", {"code": sms_code(settings, PHONE)}).status_code == 302
    assert stage(browser, path) == "identity"
    browser.post(
        f"{path}/identity",
        {"method": "id_2el", "name": NAME, "id_type": "cn_resident", "id_number": ID_NUMBER},
    )
    assert stage(browser, path) == "sign"
    browser.post(f"{path}/event/codes")
    email_code, text_code = outbox.last_code(EMAIL), sms_code(settings, PHONE)
    # both willingness codes are fresh ones, distinct from the access codes
    assert browser.post(f"{path}/event/sign", {"code": email_code}).status_code == 400
    assert browser.post(f"{path}/event/sign", {"code": email_code, "sms_code": text_code}).status_code == 302
    assert stage(browser, path) == "signed"
    (signed,) = [e.payload for e in Event.objects.filter(kind="signed")]
    assert signed["willingness"] == ["email_otp", "sms_otp"] and signed["key_custody"] == "event"


def test_a_party_asked_for_an_authenticator_or_with_an_account_signs_logged_in(
    served, enterprise, sender, sample_pdf, outbox, make_user
):
    send(enterprise, sender, sample_pdf, willingness=("totp",))
    path = "/sign/" + outbox.last_link(EMAIL).rsplit("/sign/", 1)[1]
    page = Client().get(path).content.decode()
    assert 'data-stage="' not in page and "/login/?" in page
    assert Client().post(f"{path}/access/code").status_code == 403


def test_three_elements_are_confirmed_by_a_code_texted_to_the_registered_phone(
    served, enterprise, sender, sample_pdf, outbox, settings
):
    send(enterprise, sender, sample_pdf)
    path = "/sign/" + outbox.last_link(EMAIL).rsplit("/sign/", 1)[1]
    browser = Client()
    browser.post(f"{path}/access/code")
    browser.post(f"{path}/access/email", {"code": outbox.last_code(EMAIL)})
    answer = browser.post(
        f"{path}/identity",
        {"method": "id_3el", "name": NAME, "id_type": "cn_resident", "id_number": ID_NUMBER, "phone": PHONE},
    )
    assert answer.status_code == 302
    assert stage(browser, path) == "confirm_identity"
    assert Party.objects.get().identity_verification is None
    assert browser.post(f"{path}/identity/confirm", {"code": sms_code(settings, PHONE)}).status_code == 302
    assert stage(browser, path) == "sign"
    assert Party.objects.get().identity_verification.method == "id_3el"


def test_an_account_holder_below_the_senders_level_is_led_to_verify_first(
    served, enterprise, sender, sample_pdf, outbox, make_user, settings
):
    from econtract.identity.tests.factories import verify_identity
    from econtract.pki import custody

    settings.ECONTRACT_PIN_KDF_MEMORY_KIB = 64
    settings.ECONTRACT_PIN_KDF_PASSES = 1
    holder = verify_identity(make_user(EMAIL, NAME), level="L2")
    custody.set_signing_pin(holder, "246810")
    send(enterprise, sender, sample_pdf, min_assurance="L3")
    path = "/sign/" + outbox.last_link(EMAIL).rsplit("/sign/", 1)[1]
    browser = Client()
    browser.force_login(holder)
    page = browser.get(path).content.decode()
    assert 'id="party-level-needed"' in page and "L3" in page
    assert browser.post(f"{path}/code").status_code == 400  # no code for a signature she cannot make
    assert outbox.find(EMAIL, r"Your code to sign[^\n]*\n\n\s+(\d{6})") is None


def test_she_may_decline_once_her_email_is_proved(served, enterprise, sender, sample_pdf, outbox):
    envelope = send(enterprise, sender, sample_pdf)
    path = "/sign/" + outbox.last_link(EMAIL).rsplit("/sign/", 1)[1]
    browser = Client()
    assert browser.post(f"{path}/access/decline", {"reason": "价格不对"}).status_code == 403
    browser.post(f"{path}/access/code")
    browser.post(f"{path}/access/email", {"code": outbox.last_code(EMAIL)})
    assert browser.post(f"{path}/access/decline", {"reason": "价格不对"}).status_code == 302
    assert stage(browser, path) == "declined"
    envelope.refresh_from_db()
    assert envelope.status == Envelope.Status.DECLINED and envelope.end_reason == "价格不对"
    (declined,) = [e for e in Event.objects.for_subject(envelope) if e.kind == "declined"]
    assert declined.actor_id is None and declined.actor_label == f"party {EMAIL}"


def test_at_l1_the_event_certificate_names_the_proved_email_only(
    served, enterprise, sender, sample_pdf, outbox, settings
):
    settings.ECONTRACT_MIN_SIGNING_ASSURANCE = "L1"
    send(enterprise, sender, sample_pdf, min_assurance="L1")
    path = "/sign/" + outbox.last_link(EMAIL).rsplit("/sign/", 1)[1]
    browser = Client()
    browser.post(f"{path}/access/code")
    browser.post(f"{path}/access/email", {"code": outbox.last_code(EMAIL)})
    assert stage(browser, path) == "sign"  # the email is all L1 asks
    browser.post(f"{path}/event/codes")
    assert browser.post(f"{path}/event/sign", {"code": outbox.last_code(EMAIL)}).status_code == 302
    issued = IssuedCertificate.objects.get(profile="event")
    subject = asn1_x509.Certificate.load(bytes(issued.certificate_der)).subject.native
    assert subject["common_name"] == EMAIL and "country_name" not in subject
    assert issued.assurance_level == "L1"
    (signed,) = [e.payload for e in Event.objects.filter(kind="signed")]
    assert signed["assurance_level"] == "L1" and signed["verification_method"] == "email"
