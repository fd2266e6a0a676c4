"""One client address for limits and evidence; X-Forwarded-For only from trusted proxies; 429s say when."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory
from django.urls import reverse

from econtract.client_address import client_address, limit_bucket
from econtract.evidence.services import RequestContext
from econtract.signing import services

PROXY = "10.0.0.5"


@pytest.fixture
def behind_proxy(settings):
    settings.ECONTRACT_TRUSTED_PROXIES = [ipaddress.ip_network("10.0.0.0/24"), ipaddress.ip_network("::1")]


def _address(remote: str, forwarded: str | None = None) -> str:
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_address(RequestFactory().get("/", **meta))


def test_forwarded_for_is_ignored_without_trusted_proxies(settings):
    settings.ECONTRACT_TRUSTED_PROXIES = []
    assert _address("198.51.100.20", "203.0.113.9") == "198.51.100.20"


def test_forwarded_for_is_read_right_to_left_skipping_trusted_hops(behind_proxy):
    # The client wrote the leftmost entry itself; the proxies appended what they saw.
    assert _address(PROXY, "1.2.3.4, 203.0.113.9, 10.0.0.7") == "203.0.113.9"
    assert _address(PROXY, "203.0.113.9") == "203.0.113.9"
    assert _address("::1", "2001:db8::5") == "2001:db8::5"
    assert _address(PROXY, "[2001:db8::6]:4711") == "2001:db8::6"
    # A peer that is not a trusted proxy cannot choose its address.
    assert _address("198.51.100.20", "203.0.113.9") == "198.51.100.20"
    # Nothing believable forwarded: the proxy's own address, never the garbage.
    assert _address(PROXY, "not-an-address") == PROXY
    assert _address(PROXY) == PROXY
    # Every hop trusted: the leftmost is as close to the client as we can know.
    assert _address(PROXY, "10.0.0.8, 10.0.0.9") == "10.0.0.8"


def test_an_ipv6_client_is_limited_by_its_slash_64():
    assert limit_bucket("2001:db8:1:2:aaaa::1") == limit_bucket("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert limit_bucket("2001:db8:1:3::1") != limit_bucket("2001:db8:1:2::1")
    assert limit_bucket("203.0.113.9") == "203.0.113.9"


def test_evidence_records_the_client_behind_the_proxy(behind_proxy):
    request = RequestFactory().get("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert RequestContext.from_request(request).ip_address == "203.0.113.9"


def _login(client: Client, email: str, password: str) -> int:
    return client.post(reverse("web:login"), {"email": email, "password": password}).status_code


def test_the_address_limit_counts_each_client_behind_a_shared_proxy(behind_proxy, make_user, monkeypatch):
    from econtract.accounts import throttle

    monkeypatch.setattr(throttle, "ADDRESS_FAILURES_ALLOWED", 3)
    make_user("colleague@example.test", password="correct horse battery")
    attacker = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.66")
    for n in range(3):
        assert _login(attacker, f"victim{n}@example.test", "guess") == 200
    assert _login(attacker, "victim9@example.test", "guess") == 429

    colleague = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.77")
    assert _login(colleague, "colleague@example.test", "correct horse battery") == 302


def test_the_verify_limit_counts_each_client_behind_a_shared_proxy(behind_proxy, db, monkeypatch):
    from econtract.verification import platform

    monkeypatch.setattr(platform, "VERIFICATIONS_PER_MINUTE", 2)

    def verify(forwarded: str):  # type: ignore[no-untyped-def]
        client = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded)
        return client.post(
            "/api/v1/verify", {"document": SimpleUploadedFile("x.pdf", b"nope", "application/pdf")}
        )

    assert [verify("203.0.113.1").status_code for _ in range(2)] == [415, 415]
    refused = verify("203.0.113.1")
    assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 60
    assert verify("203.0.113.2").status_code == 415

    page = Client(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="203.0.113.1").post(
        reverse("web:verify_page"),
        {"document": SimpleUploadedFile("x.pdf", b"%PDF-1.7 x", "application/pdf")},
    )
    assert page.status_code == 429 and 0 < int(page["Retry-After"]) <= 60


def test_reminder_and_code_429s_carry_the_seconds_left(enterprise, make_user, api_client, sample_pdf):
    sender = enterprise.memberships.get().user
    signer = make_user("signer@example.test")
    draft = services.create_envelope(
        organization=enterprise,
        created_by=sender,
        title="t",
        pdf=sample_pdf,
        context=RequestContext.system("test"),
    )
    services.replace_recipients(
        draft,
        parties=[services.PartySpec(name=signer.full_name, email=signer.email, order=1)],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=180, height=60)],
        user=sender,
        context=RequestContext.system("test"),
    )
    envelope = services.send_envelope(draft, sender, RequestContext.system("test"))
    party = envelope.parties.get()

    too_soon = api_client(sender).post(f"/api/v1/envelopes/{envelope.pk}/parties/{party.pk}/remind")
    assert too_soon.status_code == 429 and too_soon.json()["error"] == "reminder_too_soon"
    assert 9 * 60 < int(too_soon["Retry-After"]) <= 10 * 60

    signer_api = api_client(signer)
    otp_url = f"/api/v1/envelopes/{envelope.pk}/parties/{party.pk}/otp"
    assert signer_api.post(otp_url).status_code == 200
    again = signer_api.post(otp_url)
    assert again.status_code == 429 and again.json()["error"] == "otp_rate_limited"
    assert 0 < int(again["Retry-After"]) <= 20


def _settings_with(**env: str) -> dict:
    """Import the settings module in a fresh interpreter with these variables set."""
    code = (
        "import json, econtract.settings as s; print(json.dumps({'hsts': s.SECURE_HSTS_SECONDS, "
        "'secure': s.SESSION_COOKIE_SECURE, 'proxy': getattr(s, 'SECURE_PROXY_SSL_HEADER', None), "
        "'trusted': [str(n) for n in s.ECONTRACT_TRUSTED_PROXIES]}))"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ECONTRACT_")}
    environment.update(env)
    output = subprocess.run(
        [sys.executable, "-c", code], env=environment, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def test_https_base_url_turns_on_hsts_and_a_trusted_proxy_the_forwarded_scheme(tmp_path):
    plain = _settings_with(ECONTRACT_DATA_DIR=str(tmp_path), ECONTRACT_BASE_URL="http://127.0.0.1:8000")
    assert plain == {"hsts": 0, "secure": False, "proxy": None, "trusted": []}

    https = _settings_with(ECONTRACT_DATA_DIR=str(tmp_path), ECONTRACT_BASE_URL="https://sign.example.cn")
    assert https["hsts"] == 365 * 24 * 3600 and https["secure"] is True and https["proxy"] is None

    proxied = _settings_with(
        ECONTRACT_DATA_DIR=str(tmp_path),
        ECONTRACT_BASE_URL="https://sign.example.cn",
        ECONTRACT_TRUSTED_PROXIES="10.0.0.0/8, 192.0.2.1",
    )
    assert proxied["proxy"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert proxied["trusted"] == ["10.0.0.0/8", "192.0.2.1/32"]
