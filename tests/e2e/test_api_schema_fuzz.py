"""Schemathesis, an independent tool, over every operation of the live API's OpenAPI document.

A platform of its own (`econtract demo` then `econtract serve`, as the session's ``platform``): the
fuzzer calls every operation as alice with whatever the schema allows and much it does not, so it
locks her PIN, spends her rate limits and creates rows the other e2e tests must not see. Every
answer must be no 5xx, a status code the operation documents, a body matching the schema documented
for that status, and the documented content type. Operations the fuzzer cannot drive to success (an
upload needing a real PDF, an id it cannot guess) are still run for their refusals.

Schemathesis runs as its command line (`schemathesis.cli run`: its pytest integration,
`schemathesis.pytest.from_fixture`, fails on pytest 9, which no longer has `Node._nodeid`), with its
examples, coverage and fuzzing phases. Path ids are drawn half the time from ids that exist (alice's
and bob's: another user's id must be a 404), names and numbers a third of the time from the sandbox's
test identities, so requests get past "no such object" into each operation's own checks.
Reproducible: deterministic generation (no seed, no example database) and one worker, so CI generates
the same inputs in the same order and meets the same rate limits. Bounded: MAX_EXAMPLES per
operation and phase, a request timeout, and a time budget for the whole run (past it the test fails).
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import Platform, running_platform

pytestmark = pytest.mark.e2e

# per operation and phase; raise it for a deeper run by hand (ECONTRACT_FUZZ_MAX_EXAMPLES=200)
MAX_EXAMPLES = int(os.environ.get("ECONTRACT_FUZZ_MAX_EXAMPLES", "20"))
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
BUDGET_SECONDS = 240 * max(1, MAX_EXAMPLES // 20)
SIDES = {"front": "red", "back": "blue", "selfie": "green"}
PATH_IDS = ("envelope_id", "party_id", "verification_id", "factor_id", "org_id", "user_id")
SANDBOX = json.loads(
    (Path(__file__).parents[2] / "src/econtract/identity/sandbox_identities.json").read_text(encoding="utf-8")
)


@pytest.fixture(scope="module")
def fuzz_platform(tmp_path_factory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("fuzz-platform")) as platform:
        yield platform


def _ok(response: requests.Response) -> dict:
    assert response.status_code < 300, (response.request.method, response.request.url, response.text)
    return response.json()


@pytest.fixture(scope="module")
def real_values(fuzz_platform: Platform) -> dict[str, list[str]]:
    """Ids and values that exist on the platform, alice's and bob's, for the fuzzer to mix in with
    what it makes up: with them it gets past the 404 of an id nobody has into each operation's own
    checks, and meets another user's ids (which must be a 404 to alice)."""
    alice, bob = fuzz_platform.api("alice"), fuzz_platform.api("bob")
    api = f"{fuzz_platform.base_url}/api/v1"
    values: dict[str, set[str]] = {key: set() for key in PATH_IDS}
    from econtract.documents.samples import make_contract_pdf

    spec = {
        "title": "fuzz",
        "parties": [{"name": "张丽", "email": fuzz_platform.emails["alice"], "order": 1}],  # type: ignore[attr-defined]
        "fields": [{"party": 0, "page": 1, "x": 60, "y": 80, "width": 200, "height": 60}],
    }
    pdf = make_contract_pdf("Fuzz 合同", ["甲方 Party A"])
    _ok(
        alice.post(
            f"{api}/envelopes",
            files={"document": ("c.pdf", pdf, "application/pdf")},
            data={"spec": json.dumps(spec)},
        )
    )
    for session in (alice, bob):
        values["user_id"].add(_ok(session.get(f"{api}/me"))["id"])
        for envelope in _ok(session.get(f"{api}/envelopes"))["items"]:
            values["envelope_id"].add(envelope["id"])
            values["party_id"].update(party["id"] for party in envelope["parties"])
        for row in _ok(session.get(f"{api}/me/identity-verifications"))["items"]:
            values["verification_id"].add(row["id"])
        # the demo gave alice (an enterprise owner) an authenticator app already; bob gets one begun
        existing = [factor["id"] for factor in _ok(session.get(f"{api}/me/factors"))["items"]]
        values["factor_id"].update(existing)
        if not existing:
            values["factor_id"].add(_ok(session.post(f"{api}/me/factors/totp", json={"name": "fuzz"}))["id"])
    # alice (张丽, verified by the demo) is the legal representative of a sandbox enterprise.
    enterprise = SANDBOX["enterprises"][1]
    created = alice.post(
        f"{api}/organizations",
        json={key: enterprise[key] for key in ("name", "uscc", "legal_representative")},
    )
    if created.status_code == 201:
        values["org_id"].add(created.json()["id"])
    # and the demo's verified enterprise is hers
    values["org_id"].update(org["id"] for org in _ok(alice.get(f"{api}/organizations"))["items"])
    return {key: sorted(found) for key, found in values.items() if found}


def write_config(
    platform: Platform, name: str, dictionaries: dict[str, list], parameters: dict[str, tuple[str, float]]
) -> Path:
    """A schemathesis.toml: each parameter in ``parameters`` drawn, with its probability, from one of
    ``dictionaries`` (otherwise made up as usual)."""
    lines = []
    for dictionary, values in dictionaries.items():
        lines += [f"[dictionaries.{dictionary}]", f"values = {json.dumps(values, ensure_ascii=False)}", ""]
    lines.append("[parameters]")
    for key, (dictionary, probability) in parameters.items():
        lines.append(f'"{key}" = {{ dictionary = "{dictionary}", probability = {probability} }}')
    path = platform.data_dir / f"{name}.schemathesis.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def account_config(platform: Platform, real: dict[str, list[str]]) -> Path:
    """Each path id drawn half the time from ``real``; names, document numbers, phones, cards, USCCs
    and PINs a third of the time from the sandbox's test data and the demo's PINs."""
    people = SANDBOX["identities"]
    dictionaries = {
        **{f"real_{key}": values for key, values in real.items()},
        "names": sorted({person["name"] for person in people}),
        "id_numbers": sorted({person["id_number"] for person in people}),
        "phones": sorted({person["phone"] for person in people}),
        "bank_cards": sorted({person["bank_card"] for person in people}),
        "usccs": sorted({enterprise["uscc"] for enterprise in SANDBOX["enterprises"]}),
        "pins": sorted(platform.pins.values()),
    }
    parameters = {f"path.{key}": (f"real_{key}", 0.5) for key in real}
    parameters.update(
        {
            "body.name": ("names", 0.3),
            "body.id_number": ("id_numbers", 0.3),
            "body.legal_representative.name": ("names", 0.3),
            "body.legal_representative.id_number": ("id_numbers", 0.3),
            "body.phone": ("phones", 0.3),
            "body.bank_card": ("bank_cards", 0.3),
            "body.uscc": ("usccs", 0.3),
            "body.pin": ("pins", 0.3),
            "body.current_pin": ("pins", 0.3),
        }
    )
    return write_config(platform, "account", dictionaries, parameters)


def schemathesis_run(platform: Platform, who: str, config: Path, *extra: str) -> str:
    """Run schemathesis as ``who``; assert it passed, tested what it selected, and that nothing
    escaped to Django's handler (which answers HTML 400/500 pages and logs a traceback)."""
    started = time.monotonic()
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(config),
        "run",
        f"{platform.base_url}/api/openapi.json",
        "--header",
        f"Authorization: Bearer {platform.keys[who]}",
        "--checks",
        CHECKS,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        *extra,
    ]
    run = subprocess.run(
        command, capture_output=True, text=True, timeout=BUDGET_SECONDS, cwd=platform.data_dir
    )
    report = run.stdout + run.stderr
    assert run.returncode == 0, report[-20000:]
    # It really tested what it selected: a run that loaded nothing would pass too.
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    tested = re.search(r"Tested: (\d+)", report)
    assert selected and tested, report[-5000:]
    assert selected.group(1) == tested.group(1), report[-5000:]
    assert time.monotonic() - started < BUDGET_SECONDS
    log = platform.server_log.read_text()  # type: ignore[attr-defined]
    assert "Traceback" not in log, log[log.index("Traceback") - 2000 :][:6000]
    return report


def _png(color: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 200), color).save(buffer, "PNG")
    return buffer.getvalue()


# First, while alice's manual review is still waiting: her account run may withdraw it.
def test_the_operator_review_operations_answer_as_documented(fuzz_platform: Platform) -> None:
    """bob as an operator over the review queue, the pictures and the decisions, on a real review."""
    grant = (
        "from django.contrib.auth.models import Permission; from econtract.accounts.models import User; "
        f"u = User.objects.get(email={fuzz_platform.emails['bob']!r}); u.is_staff = True; u.save(); "  # type: ignore[attr-defined]
        "u.user_permissions.add(Permission.objects.get(codename='change_identityverification'))"
    )
    fuzz_platform.cli("manage", "shell", "-c", grant)
    alice = SANDBOX["identities"][1]  # 张丽, as the demo verified her
    submitted = fuzz_platform.api("alice").post(
        f"{fuzz_platform.base_url}/api/v1/me/identity-verifications/manual",
        data={key: alice[key] for key in ("name", "id_type", "id_number")},
        files={kind: (f"{kind}.png", _png(color), "image/png") for kind, color in SIDES.items()},
        timeout=30,
    )
    verification_id = _ok(submitted)["id"]
    queue = _ok(fuzz_platform.api("bob").get(f"{fuzz_platform.base_url}/api/v1/identity-reviews", timeout=30))
    images = [
        image["id"] for row in queue["items"] if row["id"] == verification_id for image in row["images"]
    ]
    assert len(images) == len(SIDES), queue
    config = write_config(
        fuzz_platform,
        "operator",
        {"verification_ids": [verification_id], "image_ids": images},
        {"path.verification_id": ("verification_ids", 0.7), "path.image_id": ("image_ids", 0.7)},
    )
    report = schemathesis_run(
        fuzz_platform, "bob", config, "--include-path-regex", "^/api/v1/identity-reviews"
    )
    assert "Tested: 4" in report, report[-5000:]


def test_every_operation_answers_as_documented(
    fuzz_platform: Platform, real_values: dict[str, list[str]]
) -> None:
    """alice over every operation, with real ids mixed in."""
    assert {"envelope_id", "party_id", "verification_id", "factor_id", "user_id"} <= set(real_values)
    report = schemathesis_run(fuzz_platform, "alice", account_config(fuzz_platform, real_values))
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    assert selected and selected.group(1) == selected.group(2), report[-5000:]  # every operation
    assert int(selected.group(1)) >= 40, report[-5000:]
