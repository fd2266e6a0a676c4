"""`econtract demo` builds a verified enterprise through the real services, and can run twice."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from econtract import demo
from econtract.accounts import organizations
from econtract.accounts.models import Membership, Organization, OrganizationVerification
from econtract.evidence.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_BANK_URL = ""
    return Path(settings.DATA_DIR)


def _transfers(settings) -> list[Path]:  # type: ignore[no-untyped-def]
    return sorted((Path(settings.OUTBOX_DIR) / "bank").glob("*.json"))


def test_the_demo_enterprise_is_verified_with_alice_as_its_legal_representative(data_dir, settings):
    result = demo.build_demo()

    org = Organization.objects.get(uscc=demo.DEMO_USCC)
    assert org.name == demo.DEMO_ORG and org.is_verified
    organizations.require_verified_organization(org)  # step 4's gate for seals
    alice = Membership.objects.get(organization=org, user__email=demo.DEMO_USERS[0].email)
    assert alice.role == Membership.Role.OWNER
    assert Membership.objects.filter(organization=org, user__email=demo.DEMO_USERS[1].email).exists()
    representative = organizations.legal_representative_member(org)
    assert representative is not None and representative[0].pk == alice.user_id
    [verification] = OrganizationVerification.objects.filter(organization=org)
    assert verification.method == "bank_transfer" and verification.status == "verified"
    assert verification.sandbox and verification.outcome == "match"
    assert len(_transfers(settings)) == 1  # the sandbox bank's transfer, read back by the demo
    kinds = set(Event.objects.filter(subject_id=str(org.pk)).values_list("kind", flat=True))
    assert {"organization_created", "organization_enterprise_check", "organization_transfer_sent"} <= kinds
    assert result.api_key.startswith("ek_") and result.sample_path.exists()


def test_running_the_demo_twice_keeps_one_verified_enterprise(data_dir, settings):
    demo.build_demo()
    second = demo.build_demo()

    [org] = Organization.objects.filter(uscc=demo.DEMO_USCC)
    assert org.is_verified
    assert OrganizationVerification.objects.filter(organization=org).count() == 1  # not verified again
    assert len(_transfers(settings)) == 1
    assert Membership.objects.filter(organization=org).count() == 3
    assert second.api_key.startswith("ek_")


def test_a_real_bank_is_not_asked_to_verify_the_demo_enterprise(data_dir, settings):
    settings.ECONTRACT_BANK_URL = "https://bank.example.com/transfers"
    with pytest.raises(ImproperlyConfigured, match="ECONTRACT_BANK_URL"):
        demo.build_demo()
    assert not Organization.objects.filter(uscc=demo.DEMO_USCC, verification_status="verified").exists()


def test_the_demo_owner_has_an_authenticator_whose_secret_is_printed(data_dir, settings):
    import time

    import pyotp

    from econtract.accounts.models import User
    from econtract.identity import factors

    first = demo.build_demo()
    alice = User.objects.get(email=demo.DEMO_USERS[0].email)
    assert factors.factor_required(alice) and factors.has_factor(alice, "totp")
    # the printed secret is hers: the next step's code is accepted (the current one confirmed the app)
    factors.check_totp(alice, pyotp.TOTP(first.totp_secret).at(int(time.time()) + 30))
    assert demo.build_demo().totp_secret == first.totp_secret  # a second run keeps the same app
