"""Identity providers over real HTTP: the sandbox view in a live server, the standalone command in a
subprocess, and local servers that misbehave (slow, oversized, deeply nested answers)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from typing import TypeVar

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from econtract.identity.errors import InvalidIdNumber
from econtract.identity.idnumbers import IdType
from econtract.identity.providers import (
    CheckMethod,
    HttpJsonProvider,
    IdentityCheck,
    Outcome,
    SandboxProvider,
    get_identity_provider,
    identity_provider_is_sandbox,
)
from econtract.identity.providers.sandbox import answer, load_identities

ZHANG_SAN = "11010519491231002X"
UNKNOWN = "110105199001010010"  # well-formed (GB 11643 check digit right), in no test identity
KEY = "test-sandbox-key"


def check(
    name: str = "张三", number: str = ZHANG_SAN, method: CheckMethod = CheckMethod.ID_2EL, **more: str
) -> IdentityCheck:
    return IdentityCheck(method=method, name=name, id_type=IdType.CN_RESIDENT, id_number=number, **more)


ServerT = TypeVar("ServerT", bound=HTTPServer)


class CountingSandbox(ThreadingHTTPServer):
    """The sandbox protocol on a local port, counting the requests that reach it; ``reply`` overrides."""

    def __init__(self, reply: bytes | None = None) -> None:
        self.requests = 0
        self.reply = reply
        self.identities = load_identities()
        super().__init__(("127.0.0.1", 0), _Handler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/"


class _Handler(BaseHTTPRequestHandler):
    server: CountingSandbox

    def do_POST(self) -> None:
        self.server.requests += 1
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.server.reply is not None:
            status, payload = 200, self.server.reply
        else:
            status, content = answer(body, self.headers.get("Authorization", ""), KEY, self.server.identities)
            payload = json.dumps(content).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def serve(server: ServerT) -> Iterator[ServerT]:
    """Run a local HTTP server in a thread for the length of a fixture (any of the tests' servers)."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def counting_sandbox() -> Iterator[CountingSandbox]:
    yield from serve(CountingSandbox())


# --- the sandbox view, through a live server ---------------------------------------------------


@pytest.fixture
def served_sandbox(live_server, settings) -> HttpJsonProvider:  # type: ignore[no-untyped-def]
    settings.ECONTRACT_IDP_URL = ""
    settings.ECONTRACT_IDP_SANDBOX = True
    settings.ECONTRACT_IDP_SANDBOX_KEY = KEY
    settings.BASE_URL = live_server.url
    provider = get_identity_provider()
    assert isinstance(provider, HttpJsonProvider) and provider.url == live_server.url + "/sandbox/idp/"
    return provider


def test_live_sandbox_known_identity_matches(served_sandbox: HttpJsonProvider) -> None:
    result = served_sandbox.check_identity(check())
    assert result.outcome is Outcome.MATCH
    assert result.sandbox is True
    assert result.provider == "econtract-sandbox"
    assert result.reference.startswith("sandbox-")


def test_live_sandbox_other_name_is_mismatch_unknown_is_not_found(served_sandbox: HttpJsonProvider) -> None:
    assert served_sandbox.check_identity(check(name="李四")).outcome is Outcome.MISMATCH
    assert served_sandbox.check_identity(check(number=UNKNOWN)).outcome is Outcome.NOT_FOUND


def test_live_sandbox_three_and_four_elements(served_sandbox: HttpJsonProvider) -> None:
    phone, card = "+8613800138000", "6222020200000000014"
    assert (
        served_sandbox.check_identity(check(method=CheckMethod.ID_3EL, phone=phone)).outcome is Outcome.MATCH
    )
    wrong_phone = check(method=CheckMethod.ID_3EL, phone="+8613800138001")
    assert served_sandbox.check_identity(wrong_phone).outcome is Outcome.MISMATCH
    four = check(method=CheckMethod.BANK_4EL, phone=phone, bank_card=card)
    assert served_sandbox.check_identity(four).outcome is Outcome.MATCH
    wrong_card = check(method=CheckMethod.BANK_4EL, phone=phone, bank_card="6228480000000000026")
    assert served_sandbox.check_identity(wrong_card).outcome is Outcome.MISMATCH


def test_live_sandbox_refuses_a_wrong_key(served_sandbox: HttpJsonProvider, live_server) -> None:  # type: ignore[no-untyped-def]
    wrong = HttpJsonProvider(served_sandbox.url, "not-the-key", timeout=5)
    result = wrong.check_identity(check())
    assert result.outcome is Outcome.UNAVAILABLE
    assert "401" in result.detail and "key" in result.detail
    assert requests.post(served_sandbox.url, json={}, timeout=5).status_code == 401


def test_live_sandbox_is_off_when_a_real_provider_is_configured(
    served_sandbox: HttpJsonProvider, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.ECONTRACT_IDP_SANDBOX = False
    result = served_sandbox.check_identity(check())
    assert result.outcome is Outcome.UNAVAILABLE and "404" in result.detail


def test_live_sandbox_protocol_errors(served_sandbox: HttpJsonProvider) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    malformed = {
        "method": "id_2el",
        "name": "张三",
        "id_type": "cn_resident",
        "id_number": "110105194912310021",
    }
    answer = requests.post(served_sandbox.url, json=malformed, headers=auth, timeout=5)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_id_number")
    for body in [b"[[[[", b'{"method": "id_9el"}', b'{"method": "id_2el", "name": 1}']:
        answer = requests.post(served_sandbox.url, data=body, headers=auth, timeout=5)
        assert (answer.status_code, answer.json()["error"]) == (400, "invalid_request")
    assert requests.get(served_sandbox.url, headers=auth, timeout=5).status_code == 405


def test_no_verdict_is_logged_without_the_person(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/"
        with caplog.at_level("DEBUG"):
            result = HttpJsonProvider(url, KEY, timeout=2).check_identity(check())
    assert result.outcome is Outcome.UNAVAILABLE
    assert caplog.records, "an unavailable provider is logged for the operator"
    assert ZHANG_SAN not in caplog.text and "张三" not in caplog.text and KEY not in caplog.text


# --- the standalone command ---------------------------------------------------------------------


@pytest.fixture
def standalone_sandbox(tmp_path: Path) -> Iterator[str]:
    env = {**os.environ, "ECONTRACT_DATA_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "econtract.settings"}
    env.pop("ECONTRACT_IDP_URL", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "econtract.cli", "sandbox", "idp", "--port", "0", "--key", KEY],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # printed once the socket is listening
        assert "test identities only" in line, process.stderr.read() if process.stderr else line
        yield line.strip().rsplit(" ", 1)[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_standalone_command_answers_the_same_protocol(standalone_sandbox: str) -> None:
    provider = HttpJsonProvider(standalone_sandbox, KEY, timeout=5)
    assert provider.check_identity(check()).outcome is Outcome.MATCH
    assert provider.check_identity(check(name="李四")).outcome is Outcome.MISMATCH
    assert provider.check_identity(check(number=UNKNOWN)).outcome is Outcome.NOT_FOUND
    refused = HttpJsonProvider(standalone_sandbox, "wrong", timeout=5).check_identity(check())
    assert refused.outcome is Outcome.UNAVAILABLE and "401" in refused.detail


# --- the adapter against misbehaving servers ----------------------------------------------------


def test_malformed_number_raises_before_any_request(counting_sandbox: CountingSandbox) -> None:
    provider = HttpJsonProvider(counting_sandbox.url, KEY, timeout=5)
    with pytest.raises(InvalidIdNumber):
        provider.check_identity(check(number="110105194912310021"))  # check digit should be X
    assert counting_sandbox.requests == 0
    assert provider.check_identity(check()).outcome is Outcome.MATCH
    assert counting_sandbox.requests == 1


def test_timeout_is_unavailable() -> None:
    with socket.socket() as listener:  # accepts (the kernel's backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/"
        result = HttpJsonProvider(url, KEY, timeout=0.3).check_identity(check())
    assert result.outcome is Outcome.UNAVAILABLE
    assert result.detail.startswith("timeout")


def test_unreachable_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, not listening: connections are refused
        result = HttpJsonProvider(f"http://127.0.0.1:{port}/", KEY, timeout=2).check_identity(check())
    assert result.outcome is Outcome.UNAVAILABLE


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (b'{"outcome": "match", "pad": "' + b"x" * 20000 + b'"}', "larger than"),
        (b'{"outcome": "match", "x": ' + b"[" * 50 + b"]" * 50 + b"}", "unreadable"),
        (b'{"outcome": "perhaps"}', "no outcome"),
        (b"[]", "not a JSON object"),
    ],
)
def test_oversized_deep_or_odd_answers_are_refused(reply: bytes, reason: str) -> None:
    for server in serve(CountingSandbox(reply=reply)):
        result = HttpJsonProvider(server.url, KEY, timeout=5).check_identity(check())
        assert result.outcome is Outcome.UNAVAILABLE
        assert reason in result.detail
        assert server.requests == 1


@pytest.mark.parametrize(
    "url", ["http://idp.example.com/check", "ftp://127.0.0.1/", "http://127.0.0.1.example.com/"]
)
def test_plain_http_beyond_this_machine_is_refused_at_configuration(url: str) -> None:
    with pytest.raises(ImproperlyConfigured):
        HttpJsonProvider(url, KEY, timeout=5)


def test_configured_url_chooses_the_http_adapter(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ECONTRACT_IDP_URL = "http://idp.example.com/check"
    with pytest.raises(ImproperlyConfigured):
        get_identity_provider()
    settings.ECONTRACT_IDP_URL = "https://idp.example.com/check"
    provider = get_identity_provider(in_process=True)  # a real provider is never bypassed
    assert isinstance(provider, HttpJsonProvider) and provider.url == "https://idp.example.com/check"
    assert not identity_provider_is_sandbox()
    settings.ECONTRACT_IDP_URL = ""
    assert identity_provider_is_sandbox()


# --- the shipped test identities, in-process --------------------------------------------------


def test_in_process_sandbox_knows_the_demo_users() -> None:
    provider = get_identity_provider(in_process=True)
    assert isinstance(provider, SandboxProvider)
    for name, number in [("张三", ZHANG_SAN), ("张丽", "110105199003070025"), ("李明", "110101198808150137")]:
        result = provider.check_identity(check(name=name, number=number))
        assert result.outcome is Outcome.MATCH and result.sandbox
    assert provider.check_identity(check(name="张丽")).outcome is Outcome.MISMATCH


def test_every_shipped_identity_is_well_formed() -> None:
    for identity in load_identities():
        IdentityCheck(
            method=CheckMethod.BANK_4EL,
            name=identity.name,
            id_type=identity.id_type,
            id_number=identity.id_number,
            phone=identity.phone,
            bank_card=identity.bank_card,
        )


def test_startup_check_refuses_plain_http_to_a_real_provider(settings) -> None:  # type: ignore[no-untyped-def]
    from econtract.identity.checks import identity_provider

    settings.ECONTRACT_IDP_URL, settings.ECONTRACT_IDP_KEY = "http://idp.example.com/check", "k"
    assert [m.id for m in identity_provider()] == ["identity.E001"]
    settings.ECONTRACT_IDP_URL = "https://idp.example.com/check"
    assert identity_provider() == []
    settings.ECONTRACT_IDP_URL, settings.BASE_URL = "", "http://contracts.example.com"
    assert [m.id for m in identity_provider()] == ["identity.W002"]  # sandbox trial on a LAN still serves
