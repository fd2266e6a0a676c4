"""Demo data: a verified enterprise with two seals, two users with passwords and PINs and an auditor,
an API key, and a completed contract.

Everything goes through the real services (identity and enterprise checks against the sandbox, the
sandbox bank's transfer, OTP, PIN, PAdES, TSA) so the sample is a genuine signed PDF.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pyotp
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from econtract.accounts import organizations
from econtract.accounts.bank import OutboxBank, bank_backend
from econtract.accounts.models import Membership, Organization, OrganizationVerification, User
from econtract.accounts.services import add_member, create_api_key, create_personal_account
from econtract.documents.samples import make_contract_pdf
from econtract.evidence.services import RequestContext
from econtract.identity import assurance, factors, vault, verification
from econtract.identity import services as otp_service
from econtract.identity.factor_models import TotpDevice
from econtract.identity.idnumbers import IdType
from econtract.identity.models import IdentityVerification, OtpChallenge
from econtract.identity.providers import CheckMethod, IdentityCheck, Outcome, get_identity_provider
from econtract.pki import custody
from econtract.pki.services import ensure_platform_pki
from econtract.seals import services as seal_services
from econtract.seals.grants import grants_for_user
from econtract.seals.models import Seal
from econtract.signing import services as signing
from econtract.signing.models import Envelope

# A sandbox enterprise (identity/sandbox_identities.json) whose legal representative is the demo's
# Alice (张丽): the enterprise 4-element check matches, and she is verified personally below.
DEMO_ORG = "北京示例贸易有限公司"
DEMO_USCC = "91110108MA0000001D"
DEMO_BANK_ACCOUNT = {
    "name": DEMO_ORG,
    "number": "6222000011112222333",
    "bank": "示例银行 Demo Bank (sandbox)",
}


@dataclass(frozen=True)
class DemoUser:
    email: str
    password: str
    pin: str
    full_name: str
    # A sandbox test identity (identity/sandbox_identities.json): the name her certificate carries.
    verified_name: str
    id_number: str


DEMO_USERS = (
    DemoUser(
        "alice@demo.econtract.local",
        "demo-Alice-2026",
        "246810",
        "张丽 Alice Zhang",
        "张丽",
        "110105199003070025",
    ),
    DemoUser(
        "bob@demo.econtract.local", "demo-Bob-2026", "135790", "李明 Bob Li", "李明", "110101198808150137"
    ),
)

# The enterprise's auditor: she reads the seals' usage logs. Alice (owner) manages the seals and Bob
# (member) applies them under grants, so no one holds managing, using and auditing (三权分立). She
# signs nothing, so she has no PIN.
DEMO_AUDITOR = DemoUser(
    "carol@demo.econtract.local", "demo-Carol-2026", "", "王芳 Carol Wang", "王芳", "110105199201010023"
)

# The demo enterprise's seals: (name, type). Both round, drawn with the enterprise's name.
DEMO_SEALS = (("合同专用章", "contract"), ("公章", "official"))


@dataclass(frozen=True)
class DemoResult:
    users: tuple[DemoUser, ...]
    auditor: DemoUser
    api_key: str
    sample_path: Path
    organization: Organization
    seals: tuple[Seal, ...]
    # Alice owns an enterprise, so her login asks for a second factor: the demo sets up an
    # authenticator app for her and prints its secret.
    totp_secret: str


def _ensure_user(spec: DemoUser) -> User:
    user = User.objects.filter(email=spec.email).first()
    if user is None:
        user = create_personal_account(spec.email, spec.password, spec.full_name, email_verified=True)
    else:
        user.set_password(spec.password)
        user.save(update_fields=["password"])
    _verify_identity(user, spec)
    if spec.pin and not hasattr(user, "signer_key"):
        custody.set_signing_pin(user, spec.pin)
    return user


def _verify_identity(user: User, spec: DemoUser) -> None:
    """Verify the demo user at L2 (2 elements) before any certificate is made for her.

    The demo runs before the server, so the provider is asked in-process: the sandbox, which knows
    the demo identities. A real provider (ECONTRACT_IDP_URL) does not, and the demo says so.
    """
    current = assurance.current_identity(user)
    if current is not None and current.name == spec.verified_name:
        return
    check = IdentityCheck(
        method=CheckMethod.ID_2EL,
        name=spec.verified_name,
        id_type=IdType.CN_RESIDENT,
        id_number=spec.id_number,
    )
    result = get_identity_provider(in_process=True).check_identity(check)
    if result.outcome is not Outcome.MATCH:
        raise ImproperlyConfigured(
            f"the identity provider answered {result.outcome} for the demo identity of {spec.email}: the demo "
            "users are sandbox test identities; run the demo without ECONTRACT_IDP_URL"
        )
    context = RequestContext.system("econtract demo")
    pending = verification.create_pending(
        user,
        method=IdentityVerification.Method.ID_2EL,
        name=spec.verified_name,
        id_type=IdType.CN_RESIDENT,
        id_number=spec.id_number,
        context=context,
    )
    verification.mark_verified(
        pending,
        provider=result.provider,
        reference=result.reference,
        sandbox=result.sandbox,
        outcome=str(result.outcome),
        context=context,
    )
    user.refresh_from_db()


def _sign_as(envelope: Envelope, user: User, pin: str) -> None:
    party = envelope.parties.get(email=user.email)
    issued = otp_service.issue_otp(
        purpose=OtpChallenge.Purpose.SIGN,
        subject=str(party.id),
        destination=party.email,
        user=user,
        subject_line="Demo signing code",
        intro="Demo signing code:",
    )
    as_signer = RequestContext(actor=user, label=f"{user.email} (econtract demo)")
    signing.sign(envelope.id, party.id, user, otp=issued.code, pin=pin, context=as_signer)


def _ensure_organization(alice: User, spec: DemoUser) -> Organization:
    """The demo enterprise, owned by Alice, its legal representative, and verified.

    Created and verified through the real services: the enterprise check asks the sandbox provider
    in-process (the server is not running yet), the sandbox bank sends the small transfer into its
    outbox, and the demo reads amount and code from that file as the organisation would from its
    statement. A real bank or identity provider (ECONTRACT_BANK_URL, ECONTRACT_IDP_URL) knows no
    demo enterprise, and the demo says so.
    """
    context = RequestContext.system("econtract demo")
    hers = Organization.objects.filter(
        uscc=DEMO_USCC, kind=Organization.Kind.ENTERPRISE, memberships__user=alice
    ).order_by("created_at")
    org = hers.filter(verification_status=Organization.VerificationStatus.VERIFIED).first() or hers.first()
    if org is None:
        org = organizations.create_organization(
            alice,
            name=DEMO_ORG,
            uscc=DEMO_USCC,
            legal_rep_name=spec.verified_name,
            legal_rep_id_type=IdType.CN_RESIDENT,
            legal_rep_id_number=spec.id_number,
            context=context,
        )
    Membership.objects.filter(organization=org, user=alice).update(role=Membership.Role.OWNER)
    if org.is_verified:
        return org
    bank = bank_backend()
    if not isinstance(bank, OutboxBank):
        raise ImproperlyConfigured(
            "the demo enterprise is verified by a transfer of the sandbox bank; run the demo without "
            "ECONTRACT_BANK_URL"
        )
    pending = organizations.start_verification(
        org,
        alice,
        method=OrganizationVerification.Method.BANK_TRANSFER,
        bank_account=dict(DEMO_BANK_ACCOUNT),
        context=context,
        provider=get_identity_provider(in_process=True),
    )
    if pending.status != OrganizationVerification.Status.PENDING:
        raise ImproperlyConfigured(
            f"the identity provider answered {pending.outcome} for the demo enterprise {DEMO_ORG} "
            f"({DEMO_USCC}): it is a sandbox test enterprise; run the demo without ECONTRACT_IDP_URL"
        )
    amount, code = _read_sandbox_transfer(bank, pending)
    organizations.confirm_transfer(pending, alice, amount=amount, code=code, context=context)
    org.refresh_from_db()
    return org


def _read_sandbox_transfer(bank: OutboxBank, verification: OrganizationVerification) -> tuple[str, str]:
    """Amount and code of the transfer the sandbox bank wrote for ``verification`` (its statement)."""
    [path] = sorted(bank.directory.glob(f"*-{verification.pk}.json"))
    transfer = json.loads(path.read_text(encoding="utf-8"))
    return str(transfer["amount"]), str(transfer["remark"]).removeprefix("econtract ").strip()


def _ensure_authenticator(user: User) -> str:
    """An authenticator app for an owner (MFA is required of her), enrolled through the real
    services; returns its secret, which the demo prints so a tester can add it to her app."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is not None:
        return vault.unseal_text(bytes(device.secret_sealed), purpose=factors.TOTP_PURPOSE)
    enrolment = factors.begin_totp_enrolment(user, name="demo authenticator")
    factors.confirm_totp_enrolment(
        user, pyotp.TOTP(enrolment.secret).now(), device_id=str(enrolment.device.pk)
    )
    return enrolment.secret


def _ensure_seals(org: Organization, alice: User, bob: User) -> tuple[Seal, ...]:
    """The contract seal and the official seal, made by Alice (owner: she manages seals); Bob may
    apply the contract seal freely and the official seal with an approval each time, for a year."""
    context = RequestContext.system("econtract demo")
    seals = []
    for name, seal_type in DEMO_SEALS:
        seal = Seal.objects.filter(
            organization=org, name=name, seal_type=seal_type, status=Seal.Status.ACTIVE
        ).first()
        if seal is None:
            seal = seal_services.create_seal(
                org, alice, name=name, seal_type=seal_type, shape=Seal.Shape.ROUND, context=context
            )
        if not grants_for_user(seal, bob).exists():
            seal_services.grant_use(
                seal,
                alice,
                user=bob,
                valid_until=timezone.now() + timedelta(days=365),
                scope={},
                requires_approval=seal_type == Seal.Type.OFFICIAL,
                note="econtract demo",
                context=context,
            )
        seals.append(seal)
    return tuple(seals)


def build_demo() -> DemoResult:
    ensure_platform_pki()
    alice, bob = (_ensure_user(spec) for spec in DEMO_USERS)
    carol = _ensure_user(DEMO_AUDITOR)
    org = _ensure_organization(alice, DEMO_USERS[0])
    add_member(org, bob)
    add_member(org, carol, role=Membership.Role.AUDITOR)
    seals = _ensure_seals(org, alice, bob)
    totp_secret = _ensure_authenticator(alice)
    _, api_key = create_api_key(alice, org, name="demo")
    sample_path = Path(settings.DATA_DIR) / "demo" / "sample-contract-signed.pdf"
    if not sample_path.exists():
        context = RequestContext.system("econtract demo")
        pdf = make_contract_pdf(
            "采购合同 Purchase Agreement",
            [
                f"甲方 Party A: {DEMO_ORG} Beijing Demo Trading Co., Ltd.",
                "乙方 Party B: 李明 Bob Li",
                "第一条 甲方向乙方采购软件服务，总价人民币壹拾万元整（¥100,000）。",
                "Article 1. Party A buys software services from Party B for RMB 100,000.",
                "第二条 本合同自双方签署之日起生效。 Article 2. This agreement takes effect when both parties sign.",
            ],
            pages=2,
        )
        envelope = signing.create_envelope(
            organization=org,
            created_by=alice,
            title="采购合同 Purchase Agreement (demo)",
            pdf=pdf,
            parties=[
                signing.PartySpec(name=alice.full_name, email=alice.email, order=1),
                signing.PartySpec(name=bob.full_name, email=bob.email, order=2),
            ],
            fields=[
                signing.FieldSpec(party=0, page=2, x=60, y=80, width=200, height=60),
                signing.FieldSpec(party=1, page=2, x=320, y=80, width=200, height=60),
            ],
            deadline=timezone.now() + timedelta(days=30),
            context=context,
        )
        signing.send_envelope(envelope, alice, context)
        _sign_as(envelope, alice, DEMO_USERS[0].pin)
        _sign_as(envelope, bob, DEMO_USERS[1].pin)
        envelope.refresh_from_db()
        sample_path.parent.mkdir(parents=True, exist_ok=True)
        sample_path.write_bytes(envelope.current_document().read_bytes())
    return DemoResult(
        users=DEMO_USERS,
        auditor=DEMO_AUDITOR,
        api_key=api_key,
        sample_path=sample_path,
        organization=org,
        seals=seals,
        totp_secret=totp_secret,
    )
