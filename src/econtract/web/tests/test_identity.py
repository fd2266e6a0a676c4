"""The identity page: level and masked identity, the 2/3/4-element forms with the SMS step, plain
error messages, the sandbox banner, and the PIN steps that send an unverified person there first."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from econtract.evidence.services import RequestContext
from econtract.identity.models import IdentityVerification
from econtract.identity.tests.test_providers import KEY
from econtract.signing import services

ZHANG_SAN = "11010519491231002X"
PHONE = "+8613800138000"
PIN = "246810"


@pytest.fixture
def newcomer(make_user, client):  # type: ignore[no-untyped-def]
    """Logged in, her email confirmed and nothing else: L1."""
    user = make_user("newcomer@example.test", "张三 Zhang San", identity=None)
    client.force_login(user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the pages' English text is asserted below
    return user


def start(client: Any, **fields: str) -> Any:
    data = {"method": "id_2el", "name": "张三", "id_type": "cn_resident", "id_number": ZHANG_SAN, **fields}
    return client.post(reverse("web:identity_start"), data)


def page(client: Any) -> str:
    response = client.get(reverse("web:identity"))
    assert response.status_code == 200
    return response.content.decode()


def sms_code(settings: Any, phone: str) -> str:
    for path in sorted((Path(settings.OUTBOX_DIR) / "sms").glob("*.json"), reverse=True):
        message = json.loads(path.read_text(encoding="utf-8"))
        if message["to"] == phone:
            return re.search(r"(?<!\d)(\d{6})(?!\d)", message["text"]).group(1)  # type: ignore[union-attr]
    raise AssertionError(f"no text message to {phone}")


def test_the_page_shows_the_level_and_the_sandbox_banner(client, newcomer, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ECONTRACT_IDP_URL = ""
    html = page(client)
    assert 'id="sandbox-banner"' in html and "test identities only" in html
    assert 'id="assurance-level">L1<' in html
    assert 'id="verified-identity"' not in html
    assert reverse("web:identity_start") in html

    settings.ECONTRACT_IDP_URL = "https://idp.example.com/check"
    assert 'id="sandbox-banner"' not in page(client)


def test_two_elements_verify_and_the_page_shows_the_masked_number_only(client, newcomer, idp) -> None:  # type: ignore[no-untyped-def]
    response = start(client)
    assert response.status_code == 302 and response["Location"] == reverse("web:identity")
    html = page(client)
    assert 'id="assurance-level">L2<' in html
    assert "110***********002X" in html and ZHANG_SAN not in html
    assert "Your identity is verified" in html
    assert idp.requests == 1


@pytest.mark.parametrize(
    ("fields", "message", "asked"),
    [
        ({"name": "李四"}, "The details do not match", 1),
        ({"id_number": "110105199001010010"}, "has no record of this document number", 1),
        ({"id_number": "110105194912310021"}, "The document number is not valid", 0),
        ({"method": "id_3el"}, "Enter your mobile phone number", 0),
    ],
)
def test_a_failed_check_says_why(client, newcomer, idp, fields, message, asked) -> None:  # type: ignore[no-untyped-def]
    response = start(client, **fields)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert idp.requests == asked
    newcomer.refresh_from_db()
    assert newcomer.assurance_level == "L1"


def test_an_unreachable_provider_is_explained(client, newcomer, settings) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))  # bound, not listening: the connection is refused
        settings.ECONTRACT_IDP_URL = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        settings.ECONTRACT_IDP_KEY = KEY
        response = start(client)
    assert response.status_code == 503
    assert "could not be reached" in response.content.decode()
    newcomer.refresh_from_db()
    assert newcomer.assurance_level == "L1"


def test_too_many_attempts_for_one_number_are_refused_with_retry_after(client, newcomer, idp) -> None:  # type: ignore[no-untyped-def]
    statuses = [start(client, name="李四").status_code for _ in range(5)]
    assert statuses == [400] * 5  # five mismatches for one number ...
    refused = start(client)  # ... and the number is locked, even with the right name
    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    assert "Too many identity checks" in refused.content.decode()
    assert idp.requests == 5


def test_three_elements_with_the_code_from_the_text_message(  # type: ignore[no-untyped-def]
    client, newcomer, idp, settings, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = start(client, method="id_3el", phone="138 0013 8000")
    assert response.status_code == 302
    html = page(client)
    assert 'id="confirm"' in html and "+861******8000" in html
    assert idp.requests == 0
    pending = IdentityVerification.objects.get(user=newcomer)

    wrong = client.post(reverse("web:identity_confirm", args=[pending.pk]), {"otp": "000000"})
    assert wrong.status_code == 400 and "4 attempts left" in wrong.content.decode()
    right = client.post(
        reverse("web:identity_confirm", args=[pending.pk]), {"otp": sms_code(settings, PHONE)}
    )
    assert right.status_code == 302
    assert 'id="assurance-level">L2<' in page(client)
    assert idp.requests == 1


def test_someone_elses_verification_cannot_be_confirmed_or_revoked(client, newcomer, make_user) -> None:  # type: ignore[no-untyped-def]
    other = make_user("other@example.test", "王五 Wang Wu")  # verified by the fixture
    theirs = IdentityVerification.objects.get(user=other)
    assert (
        client.post(reverse("web:identity_confirm", args=[theirs.pk]), {"otp": "123456"}).status_code == 404
    )
    assert client.post(reverse("web:identity_revoke", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "verified"


def test_revoking_from_the_page(client, newcomer, idp) -> None:  # type: ignore[no-untyped-def]
    start(client)
    verified = IdentityVerification.objects.get(user=newcomer, status="verified")
    response = client.post(reverse("web:identity_revoke", args=[verified.pk]), {"reason": "not me"})
    assert response.status_code == 302
    assert 'id="assurance-level">L1<' in page(client)


def test_the_profile_pin_step_sends_an_unverified_person_to_the_identity_page(client, newcomer, idp) -> None:  # type: ignore[no-untyped-def]
    html = client.get(reverse("web:profile")).content.decode()
    assert 'id="pin-identity-needed"' in html
    assert reverse("web:identity") + "?next=" in html

    refused = client.post(reverse("web:profile_pin"), {"pin": PIN, "pin2": PIN})
    assert refused.status_code == 400
    assert "issued only to a verified identity" in refused.content.decode()
    newcomer.refresh_from_db()
    assert not hasattr(newcomer, "signer_key")

    response = start(client, next=reverse("web:profile") + "#pin")
    assert response.status_code == 302 and response["Location"] == reverse("web:profile") + "#pin"
    html = client.get(reverse("web:profile")).content.decode()
    assert 'id="pin-identity-needed"' not in html and "110***********002X" in html
    assert client.post(reverse("web:profile_pin"), {"pin": PIN, "pin2": PIN}).status_code == 302


def test_the_signing_page_asks_for_identity_before_the_pin(  # type: ignore[no-untyped-def]
    client, newcomer, idp, draft, sender, outbox, django_capture_on_commit_callbacks
) -> None:
    services.replace_recipients(
        draft,
        parties=[services.PartySpec(name=newcomer.full_name, email=newcomer.email, order=1)],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        user=sender,
        context=RequestContext.system("test"),
    )
    with django_capture_on_commit_callbacks(execute=True):  # the signing link is mailed after commit
        services.send_envelope(draft, sender, RequestContext.system("test"))
    sign_url = urlpath(outbox.last_link(newcomer.email))

    html = client.get(sign_url).content.decode()
    assert 'id="sign-identity-needed"' in html
    back_here = reverse("web:identity") + "?next=" + sign_url.replace("/", "%2F")
    assert back_here in html
    token = sign_url.rsplit("/sign/", 1)[1]
    refused = client.post(reverse("web:sign_pin", args=[token]), {"pin": PIN, "pin2": PIN})
    assert refused.status_code == 400
    assert "issued only to a verified identity" in refused.content.decode()
    newcomer.refresh_from_db()
    assert not hasattr(newcomer, "signer_key")

    response = start(client, next=sign_url)
    assert response.status_code == 302 and response["Location"] == sign_url
    assert 'id="sign-identity-needed"' not in client.get(sign_url).content.decode()


def test_next_is_only_followed_to_this_site(client, newcomer, idp) -> None:  # type: ignore[no-untyped-def]
    response = start(client, next="https://evil.example/")
    assert response["Location"] == reverse("web:identity")


def urlpath(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


def test_a_forgotten_pin_is_reset_from_the_identity_page(client, newcomer, idp, settings) -> None:  # type: ignore[no-untyped-def]
    from econtract.pki import custody
    from econtract.pki.models import SignerKey

    settings.ECONTRACT_PIN_KDF_MEMORY_KIB, settings.ECONTRACT_PIN_KDF_PASSES = 64, 1
    assert 'name="reset_pin"' not in page(client)  # no key, nothing to reset
    start(client)
    newcomer.refresh_from_db()  # verified at L2 by the page
    custody.set_signing_pin(newcomer, PIN)
    profile = client.get(reverse("web:profile")).content.decode()
    assert 'id="pin-forgotten"' in profile and "?reset_pin=1" in profile
    html = client.get(reverse("web:identity") + "?reset_pin=1").content.decode()
    assert re.search(r'name="reset_pin"[^>]*checked', html)
    start(client, reset_pin="on")
    assert not SignerKey.objects.filter(user=newcomer).exists()
    assert IdentityVerification.objects.filter(user=newcomer, purpose="pin_reset", status="verified").exists()
