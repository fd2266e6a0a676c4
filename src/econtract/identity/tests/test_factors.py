"""Second factors: TOTP enrolment, replay and lockout, recovery codes, removal, and the WebAuthn RP id."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pyotp
import pytest
from django.core import checks
from django.utils import timezone

from econtract.accounts.services import create_enterprise
from econtract.evidence.models import Event
from econtract.identity import factors, passkeys
from econtract.identity.checks import webauthn_relying_party
from econtract.identity.errors import (
    FactorAlreadyEnrolled,
    FactorMissing,
    FactorRequired,
    OtpInvalid,
    OtpRateLimited,
    ReauthenticationRequired,
    WebAuthnFailed,
    WebAuthnUnavailable,
)
from econtract.identity.factor_models import FactorLockout, RecoveryCode, TotpDevice, WebAuthnChallenge

PASSWORD = "correct horse battery"


def code_at(secret: str, offset_steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + 30 * offset_steps)


def kinds(user) -> list[str]:
    return list(
        Event.objects.filter(subject_type="accounts.user", subject_id=str(user.pk))
        .order_by("sequence")
        .values_list("kind", flat=True)
    )


def enrolled(user) -> str:
    enrolment = factors.begin_totp_enrolment(user)
    factors.confirm_totp_enrolment(user, code_at(enrolment.secret, -1))
    return enrolment.secret


@pytest.mark.django_db
def test_totp_enrolment_seals_the_secret_and_a_first_code_confirms_it(make_user):
    user = make_user()
    enrolment = factors.begin_totp_enrolment(user, name="Phone")
    assert (
        enrolment.uri.startswith("otpauth://totp/econtract:")
        and f"secret={enrolment.secret}" in enrolment.uri
    )
    assert enrolment.qr_data_uri().startswith("data:image/svg+xml")
    device = TotpDevice.objects.get(user=user)
    assert enrolment.secret.encode() not in bytes(device.secret_sealed)  # sealed, not stored in clear
    assert not factors.has_factor(user, "totp")  # not before a code confirms it

    with pytest.raises(OtpInvalid):
        factors.confirm_totp_enrolment(user, "000000" if code_at(enrolment.secret) != "000000" else "111111")
    assert not factors.has_factor(user, "totp")

    device, codes = factors.confirm_totp_enrolment(user, code_at(enrolment.secret), device_id=str(device.pk))
    assert factors.has_factor(user, "totp") and device.confirmed_at is not None
    assert codes is not None and len(codes) == 10 and len(set(codes)) == 10
    assert RecoveryCode.objects.filter(user=user).count() == 10
    assert not any(c.replace("-", "") in r.code_hash for c in codes for r in RecoveryCode.objects.all())
    assert {"second_factor_failed", "second_factor_enrolled", "recovery_codes_generated"} <= set(kinds(user))
    with pytest.raises(FactorAlreadyEnrolled):
        factors.begin_totp_enrolment(user)


@pytest.mark.django_db
def test_a_totp_code_is_accepted_once_and_an_older_step_never(make_user):
    user = make_user()
    secret = enrolled(user)  # used the previous step's code
    current = code_at(secret)
    factors.check_totp(user, current, purpose="login")
    with pytest.raises(OtpInvalid, match="already used"):
        factors.check_totp(user, current, purpose="login")  # the same code again: replay
    factors.check_totp(user, code_at(secret, +1))  # the next step (a phone's clock a little ahead)
    with pytest.raises(OtpInvalid, match="already used"):
        factors.check_totp(user, current)  # an older step than the last one used
    assert kinds(user).count("second_factor_used") == 2
    assert kinds(user).count("second_factor_failed") == 2


@pytest.mark.django_db
def test_five_wrong_codes_lock_codes_for_fifteen_minutes(make_user):
    user = make_user()
    secret = enrolled(user)
    right = code_at(secret)
    wrong = "123456" if right != "123456" else "654321"
    remaining = []
    for _ in range(5):
        with pytest.raises(OtpInvalid) as caught:
            factors.check_totp(user, wrong)
        remaining.append(caught.value.remaining_attempts)
    assert remaining == [4, 3, 2, 1, 0]
    with pytest.raises(OtpRateLimited) as locked:
        factors.check_totp(user, right)  # even the right code, while locked
    assert 14 * 60 < locked.value.retry_after <= 15 * 60
    with pytest.raises(OtpRateLimited):
        factors.use_recovery_code(user, "abcde-fghjk")  # recovery codes share the lock
    FactorLockout.objects.filter(user=user).update(locked_until=timezone.now() - timedelta(seconds=1))
    factors.check_totp(user, right)
    assert FactorLockout.objects.get(user=user).failures == 0


@pytest.mark.django_db
def test_check_totp_without_an_app_says_so(make_user):
    with pytest.raises(FactorMissing):
        factors.check_totp(make_user(), "123456")


@pytest.mark.django_db
def test_recovery_codes_work_once_each_and_can_be_renewed(make_user):
    user = make_user()
    enrolment = factors.begin_totp_enrolment(user)
    _device, codes = factors.confirm_totp_enrolment(user, code_at(enrolment.secret))
    assert codes is not None
    factors.use_recovery_code(user, codes[0].upper().replace("-", " "))  # typed loosely still works
    assert factors.recovery_codes_left(user) == 9
    with pytest.raises(OtpInvalid):
        factors.use_recovery_code(user, codes[0])
    renewed = factors.generate_recovery_codes(user)
    with pytest.raises(OtpInvalid):
        factors.use_recovery_code(user, codes[1])  # the old set is gone
    factors.use_recovery_code(user, renewed[3])
    assert "recovery_code" in str(
        Event.objects.filter(kind="second_factor_used").values_list("payload", flat=True)
    )


@pytest.mark.django_db
def test_removing_a_factor_needs_a_fresh_proof_and_an_owner_keeps_one(make_user):
    user = make_user(password=PASSWORD)
    secret = enrolled(user)
    device = TotpDevice.objects.get(user=user)
    with pytest.raises(ReauthenticationRequired):
        factors.remove_factor(user, str(device.pk))
    with pytest.raises(ReauthenticationRequired):
        factors.remove_factor(user, str(device.pk), password="wrong")

    create_enterprise("Acme 科技有限公司", user)  # now an owner of an enterprise: MFA is required
    assert factors.factor_required(user)
    with pytest.raises(FactorRequired):
        factors.remove_factor(user, str(device.pk), code=code_at(secret))
    assert factors.has_factor(user, "totp")

    user.memberships.filter(organization__kind="enterprise").update(role="member")
    factors.remove_factor(user, str(device.pk), password=PASSWORD)
    assert not factors.has_any_factor(user) and not RecoveryCode.objects.filter(user=user).exists()
    assert "second_factor_removed" in kinds(user)


@pytest.mark.django_db
def test_only_enterprise_owners_and_admins_must_have_a_factor(make_user, settings):
    user = make_user()
    assert not factors.factor_required(user)  # owner of her personal organisation only
    org = create_enterprise("Acme 科技有限公司", make_user())
    org.memberships.create(user=user, role="admin")
    assert factors.factor_required(user)
    settings.ECONTRACT_MFA_REQUIRED_ROLES = ["owner"]
    assert not factors.factor_required(user)


@pytest.mark.parametrize("host", ["127.0.0.1", "10.1.2.3", "[::1]", "::1", "192.168.0.1."])
def test_an_ip_address_is_refused_as_relying_party_id(host):
    with pytest.raises(WebAuthnUnavailable, match="IP address"):
        passkeys.check_rp_id(host)


@pytest.mark.parametrize("host", ["localhost", "econtract.example.cn", "sign.acme.test"])
def test_a_host_name_is_a_relying_party_id(host):
    assert passkeys.check_rp_id(host) == host


@pytest.mark.django_db
def test_passkeys_are_refused_plainly_at_an_ip_base_url(settings, make_user):
    settings.BASE_URL = "http://127.0.0.1:8000"
    settings.ECONTRACT_WEBAUTHN_RP_ID = ""
    assert not passkeys.available()
    with pytest.raises(WebAuthnUnavailable):
        passkeys.begin_registration(make_user())
    [warning] = webauthn_relying_party()
    assert warning.level == checks.WARNING and warning.id == "identity.W003"
    settings.ECONTRACT_WEBAUTHN_RP_ID = "10.0.0.1"  # configured on purpose: a start-up error
    [error] = webauthn_relying_party()
    assert error.level == checks.ERROR and error.id == "identity.E002"
    settings.BASE_URL = "https://sign.example.cn"
    settings.ECONTRACT_WEBAUTHN_RP_ID = ""
    assert webauthn_relying_party() == []
    options = passkeys.begin_registration(make_user())
    assert options["rp"]["id"] == "sign.example.cn"
    assert options["authenticatorSelection"]["userVerification"] == "required"


def _answer(challenge: str) -> dict:
    client_data = {"type": "webauthn.create", "challenge": challenge, "origin": "https://sign.example.cn"}
    return {"response": {"clientDataJSON": passkeys.b64url(json.dumps(client_data).encode())}}


@pytest.mark.django_db
def test_a_webauthn_challenge_is_answered_once_within_five_minutes_for_its_purpose(settings, make_user):
    settings.BASE_URL = "https://sign.example.cn"
    user, other = make_user(), make_user()
    challenge = passkeys.begin_registration(user)["challenge"]
    with pytest.raises(WebAuthnFailed, match="unknown, expired or already answered"):
        passkeys._take_challenge(other, "register", "enrol", str(user.pk), _answer(challenge))  # not hers
    passkeys._take_challenge(user, "register", "enrol", str(user.pk), _answer(challenge))
    with pytest.raises(WebAuthnFailed, match="already answered"):
        passkeys._take_challenge(user, "register", "enrol", str(user.pk), _answer(challenge))  # replay
    late = passkeys.begin_registration(user)["challenge"]
    WebAuthnChallenge.objects.filter(challenge=late).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(WebAuthnFailed):
        passkeys._take_challenge(user, "register", "enrol", str(user.pk), _answer(late))
    with pytest.raises(WebAuthnFailed, match="not a WebAuthn credential"):
        passkeys.finish_registration(user, {"response": {}})
