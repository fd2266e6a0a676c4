"""The hardening probe list, replayed against a real server (SQLite, or PostgreSQL with
ECONTRACT_TEST_DATABASE_URL): hostile numbers, text, nesting and PDFs, and parallel guessing.

For every probe: no 5xx (every answer is recorded, and the server log must show no server error),
the documented 4xx code, nothing stored on refusal (envelopes listed over the API, files under the
server's ``files/``), and exact counts where a limit applies. With ECONTRACT_TEST_REDIS_URL, the 25
parallel wrong passwords also go to two server processes sharing Redis, as production runs them.

The two probes that need a server of their own live next to this file: an SMTP server that refuses
then accepts in test_mail_retry.py, kill -9 during signing then ``econtract fsck`` in
test_crash_consistency.py.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from econtract.documents.tests.pdfbuild import active_content_cases, one_page_pdf
from tests.e2e.probes import Recorder, csrf_form, envelope_ids, parallel, stored_files
from tests.e2e.servers import ServerProcess, cli, free_port, own_database, server_env
from tests.mailbox import Outbox

pytestmark = pytest.mark.e2e

PDF = one_page_pdf()  # a clean one-page A4 PDF: whatever is refused below is refused for the spec
FIELD = {"party": 0, "page": 1, "x": 60, "y": 80, "width": 200, "height": 60}

# Refused in every single-line field, wherever it stands (a trailing one must not be trimmed away).
LINE_REFUSED = {
    "NUL": "\x00",
    "SOH": "\x01",
    "TAB": "\t",
    "LF": "\n",
    "VT": "\x0b",
    "CR": "\r",
    "ESC": "\x1b",
    "DEL": "\x7f",
    "NEL": "\x85",
    "CSI": "\x9b",
    "LINE SEPARATOR": "\u2028",
    "PARAGRAPH SEPARATOR": "\u2029",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "lone surrogate": "\ud800",
}
NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1E400"]
DEEP = 100_000


class Probe:
    """The shared platform seen by one test: recorded sessions and what is stored."""

    def __init__(self, platform: Any) -> None:
        self.platform = platform
        self.url = platform.base_url
        self.recorder = Recorder()
        self.outbox = Outbox(platform.data_dir / "outbox")

    def api(self, who: str) -> requests.Session:
        return self.recorder.session(self.platform.keys[who])

    def web(self) -> requests.Session:
        return self.recorder.session()

    def stored(self) -> tuple[set[str], set[str]]:
        return envelope_ids(self.api("alice"), self.url), stored_files(self.platform.data_dir)

    def create(self, spec: dict | str, pdf: bytes = PDF, who: str = "alice") -> requests.Response:
        text = spec if isinstance(spec, str) else json.dumps(spec)
        return self.api(who).post(
            f"{self.url}/api/v1/envelopes",
            files={"document": ("c.pdf", pdf, "application/pdf")},
            data={"spec": text},
            timeout=120,
        )

    def sent_envelope(self, title: str, *emails: str) -> dict:
        parties = [{"name": f"Party {i}", "email": e, "order": 1} for i, e in enumerate(emails)]
        fields = [dict(FIELD, party=i, x=60 + 150 * i, width=120) for i in range(len(emails))]
        created = self.create({"title": title, "parties": parties, "fields": fields})
        assert created.status_code == 201, created.text
        sent = self.api("alice").post(f"{self.url}/api/v1/envelopes/{created.json()['id']}/send", timeout=60)
        assert sent.status_code == 200, sent.text
        return sent.json()

    def events(self, envelope_id: str) -> list[dict]:
        body = self.api("alice").get(
            f"{self.url}/api/v1/envelopes/{envelope_id}/events?limit=200", timeout=30
        )
        assert body.status_code == 200, body.text
        data = body.json()
        return data["items"] if isinstance(data, dict) else data


@pytest.fixture
def probe(platform):
    """A Probe; afterwards, no answer was a 5xx and the server logged no server error meanwhile."""
    log = platform.data_dir / "server.log"
    offset = log.stat().st_size
    probe = Probe(platform)
    yield probe
    errors = probe.recorder.server_errors()
    assert not errors, errors
    with log.open("rb") as handle:
        handle.seek(offset)
        logged = handle.read().decode("utf-8", "replace")
    # (a 4xx may log a traceback at WARNING, e.g. PermissionDenied: only server errors count here)
    assert "Internal Server Error" not in logged and "Exception while serving" not in logged, logged


def _spec(**changes: Any) -> dict:
    party = {"name": "李明", "email": "li.ming@example.test", "order": 1, "phone": "+86 138 0000 0000"}
    party.update(changes.pop("party", {}))
    spec = {"title": "采购合同 Probe", "parties": [party], "fields": [dict(FIELD)]}
    spec.update(changes)
    return spec


def _refused(response: requests.Response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    body = response.json()
    assert body["error"] == code, body
    return body


def test_non_finite_numbers_are_refused_wherever_they_stand_and_nothing_is_stored(probe):
    before = probe.stored()
    # Each numeric slot of the spec gets a placeholder number, then each non-finite token in its place.
    slots = {
        "fields[0].party": 0.25,
        "fields[0].page": 1.25,
        "fields[0].x": 60.25,
        "fields[0].y": 80.25,
        "fields[0].width": 200.25,
        "fields[0].height": 60.25,
        "parties[0].order": 1.5,
    }
    cases = []
    for path, placeholder in slots.items():
        where, _, key = path.partition(".")
        collection, index = where.rstrip("]").split("[")
        spec = _spec()
        spec[collection][int(index)][key] = placeholder
        text = json.dumps(spec)
        assert text.count(repr(placeholder)) == 1
        cases += [(path, token, text.replace(repr(placeholder), token)) for token in NON_FINITE]
    # and where no schema looks: an unknown key, deep in a list
    cases += [
        ("extra[1]", token, json.dumps(_spec(extra=[1, 7.75]))[:-1].replace("7.75", token) + "}")
        for token in NON_FINITE
    ]

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda case: probe.create(case[2]), cases))
    for (path, token, _), response in zip(cases, answers, strict=True):
        body = _refused(response, 400, "invalid_envelope")
        assert body["detail"] == f"spec is not valid: {path}: {token} is not a finite number", body

    # In a JSON body: 422 at its place, type finite_number. Nothing happens to the envelope.
    envelope = probe.sent_envelope("非有限数 Non-finite", probe.platform.emails["bob"])
    envelope_url = f"{probe.url}/api/v1/envelopes/{envelope['id']}"
    party_url = f"{envelope_url}/parties/{envelope['parties'][0]['id']}"
    events = probe.events(envelope["id"])
    bodies = [
        ("alice", f"{envelope_url}/void", '{"reason": %s}', ["body", "reason"]),
        (
            "alice",
            f"{envelope_url}/void",
            '{"reason": "x", "n": [1, {"deep": %s}]}',
            ["body", "n", 1, "deep"],
        ),
        ("bob", f"{party_url}/decline", '{"reason": %s}', ["body", "reason"]),
        ("bob", f"{party_url}/sign", '{"otp": %s, "pin": "135790"}', ["body", "otp"]),
        (
            "bob",
            f"{probe.url}/api/v1/me/signing-pin",
            '{"pin": "135790", "current_pin": %s}',
            ["body", "current_pin"],
        ),
    ]
    for who, url, template, loc in bodies:
        for token in NON_FINITE:
            session = probe.api(who)
            send = session.put if url.endswith("signing-pin") else session.post
            response = send(
                url, data=template % token, headers={"Content-Type": "application/json"}, timeout=30
            )
            body = _refused(response, 422, "invalid_request")
            assert [(e["type"], e["loc"]) for e in body["errors"]] == [("finite_number", loc)], body
            assert token in body["errors"][0]["msg"]
            assert "NaN" not in response.text.replace(token, "") and "Infinity" not in response.text.replace(
                token, ""
            )

    after = probe.api("alice").get(envelope_url, timeout=30).json()
    assert after["status"] == "sent" and after["parties"][0]["status"] == "ready"
    assert probe.events(envelope["id"]) == events  # not even a refusal was recorded: no check ran
    envelopes, files = probe.stored()
    assert envelopes == before[0] | {envelope["id"]}
    assert {f for f in files - before[1] if not f.startswith(f"envelopes/{envelope['id']}/")} == set()


def test_control_characters_and_nul_in_every_text_field_of_the_spec_are_refused(probe):
    before = probe.stored()
    fields = {
        "title": lambda v: _spec(title=v),
        "parties[0].name": lambda v: _spec(party={"name": v}),
        "parties[0].email": lambda v: _spec(party={"email": v}),
        "parties[0].phone": lambda v: _spec(party={"phone": v}),
    }
    plain = {
        "title": "采购合同 Probe",
        "parties[0].name": "李明",
        "parties[0].email": "li.ming@example.test",
        "parties[0].phone": "+86 138 0000 0000",
    }
    cases = []
    for path, build in fields.items():
        value = plain[path]
        middle = len(value) // 2
        for name, char in LINE_REFUSED.items():
            for where, text in (
                ("inside", value[:middle] + char + value[middle:]),
                ("trailing", value + char),
            ):
                # json.dumps escapes every one of them (\u0000, \ud800): the JSON is valid, the text is not
                cases.append((path, name, where, char, json.dumps(build(text))))
        # Raw, unescaped control characters make the JSON itself invalid: refused before any schema.
        for name in ("NUL", "LF", "ESC"):
            char = LINE_REFUSED[name]
            raw = json.dumps(build(value + char), ensure_ascii=False).replace(json.dumps(char)[1:-1], char)
            assert char in raw
            cases.append((path, name, "raw", char, raw))

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda case: probe.create(case[4]), cases))
    for (path, name, where, char, _), response in zip(cases, answers, strict=True):
        body = _refused(response, 400, "invalid_envelope")
        if where == "raw":
            assert "not valid JSON" in body["detail"] and "control character" in body["detail"], body
        else:
            assert body["detail"].startswith(f"spec is not valid: {path}: "), (name, where, body)
            assert f"U+{ord(char):04X}" in body["detail"], (name, where, body)
    assert probe.stored() == before  # not one of them stored an envelope or a file

    # The control: the same fields with legitimate text (Chinese, Hebrew with its RLM mark) are taken.
    accepted = probe.create(
        _spec(
            title="采购合同 \u05e9\u05dc\u05d5\u05dd\u200f Probe",
            party={"name": "李明", "phone": "+86 138 0000 0000"},
        )
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["title"] == "采购合同 \u05e9\u05dc\u05d5\u05dd\u200f Probe"
    envelopes, files = probe.stored()
    assert envelopes == before[0] | {accepted.json()["id"]}
    new_files = files - before[1]
    assert new_files and all(f.startswith(f"envelopes/{accepted.json()['id']}/") for f in new_files), (
        new_files
    )


def test_control_characters_in_reasons_are_refused_and_the_envelope_is_untouched(probe):
    envelope = probe.sent_envelope("理由 Reasons", probe.platform.emails["bob"])
    envelope_url = f"{probe.url}/api/v1/envelopes/{envelope['id']}"
    party_url = f"{envelope_url}/parties/{envelope['parties'][0]['id']}"
    events = probe.events(envelope["id"])
    # Reasons are several lines: LF and TAB are allowed, every other refused character is not.
    refused = {name: c for name, c in LINE_REFUSED.items() if name not in ("LF", "TAB", "CR")}
    for who, url in (("alice", f"{envelope_url}/void"), ("bob", f"{party_url}/decline")):
        for name, char in refused.items():
            response = probe.api(who).post(
                url,
                data=json.dumps({"reason": f"第一条\n{char}"}),
                headers={"Content-Type": "application/json"},
                timeout=30,
            )
            body = _refused(response, 422, "invalid_request")
            assert (
                body["errors"][0]["loc"][-1] == "reason" and f"U+{ord(char):04X}" in body["errors"][0]["msg"]
            ), (name, body)
        raw = probe.api(who).post(
            url,
            data=b'{"reason": "a\x00b"}',
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        _refused(raw, 400, "invalid_json")
    state = probe.api("alice").get(envelope_url, timeout=30).json()
    assert state["status"] == "sent" and state["parties"][0]["status"] == "ready"
    assert probe.events(envelope["id"]) == events

    # The control: LF and TAB stand, CRLF becomes LF.
    voided = probe.api("alice").post(
        f"{envelope_url}/void", json={"reason": "第一行\n\t第二行\r\nthird "}, timeout=30
    )
    assert voided.status_code == 200, voided.text
    assert voided.json()["status"] == "voided"
    assert probe.events(envelope["id"])[-1]["payload"]["reason"] == "第一行\n\t第二行\nthird"


def test_nul_in_query_strings_forms_and_headers_is_refused_not_a_server_error(probe):
    url = probe.url
    api = probe.api("alice")
    for status in ("sent\x00", "\x00", "unknown"):  # NUL reached PostgreSQL as a filter: it was a 500
        answer = api.get(f"{url}/api/v1/envelopes", params={"status": status}, timeout=30)
        assert _refused(answer, 422, "invalid_request")["errors"][0]["loc"][-1] == "status"
    assert api.get(f"{url}/api/v1/envelopes", params={"cursor": "\x00"}, timeout=30).status_code == 400
    for sequence in (10**30, -(10**30)):
        cursor = json.dumps(["events", sequence]).encode()
        import base64

        token = base64.urlsafe_b64encode(cursor).rstrip(b"=").decode()
        envelope_id = next(iter(envelope_ids(api, url)), str(uuid.uuid4()))
        answer = api.get(f"{url}/api/v1/envelopes/{envelope_id}/events", params={"cursor": token}, timeout=30)
        assert answer.status_code in (200, 400), answer.text
    bearer = probe.recorder.session()
    assert bearer.get(
        f"{url}/api/v1/me", headers={"Authorization": "Bearer ek_\x00x"}, timeout=30
    ).status_code in (400, 401)

    web = probe.web()
    assert (
        web.get(
            f"{url}/login/", params={"next": "/\x00", "email": "a\x00@example.test"}, timeout=30
        ).status_code
        == 200
    )
    token = csrf_form(web, f"{url}/login/")
    for email, password in (
        ("alice\x00@example.test", "x"),
        (probe.platform.emails["alice"], "pass\x00word"),
    ):
        answer = web.post(
            f"{url}/login/",
            data={"csrfmiddlewaretoken": token, "email": email, "password": password},
            timeout=30,
        )
        assert answer.status_code == 200 and "/login/" in answer.url  # the form again, with its error
    token = csrf_form(web, f"{url}/login/link/")
    answer = web.post(
        f"{url}/login/link/", data={"csrfmiddlewaretoken": token, "email": "a\x00@example.test"}, timeout=30
    )
    assert answer.status_code == 200
    assert web.get(f"{url}/sign/%00", timeout=30).status_code == 404
    assert (
        web.post(f"{url}/sign/%00/code", data={"csrfmiddlewaretoken": token}, timeout=30).status_code == 403
    )
    assert (
        web.post(f"{url}/login/link/%00", data={"csrfmiddlewaretoken": token}, timeout=30).status_code == 404
    )
    assert (
        web.get(f"{url}/register/", params={"email": "\x00", "next": "\x00"}, timeout=30).status_code == 200
    )
    token = csrf_form(web, f"{url}/register/")
    answer = web.post(
        f"{url}/register/",
        data={"csrfmiddlewaretoken": token, "step": "email", "email": "a\x00@example.test"},
        timeout=30,
    )
    assert answer.status_code == 200


def test_control_characters_nan_and_depth_in_the_web_forms_are_refused(probe):
    url = probe.url
    email, password = _create_account(probe.platform.cli, "web")
    web = probe.web()
    logged_in = _login(web, url, csrf_form(web, f"{url}/login/"), email, password)
    assert logged_in.status_code == 302, logged_in.status_code
    files = stored_files(probe.platform.data_dir)

    token = csrf_form(web, f"{url}/envelopes/new/")
    page = web.get(f"{url}/envelopes/new/", timeout=30).text
    organization = re.search(r'name="organization" value="([^"]+)"', page).group(
        1
    )  # one organisation: hidden
    for title, deadline in (("合同\x00", ""), ("合同\n第二行", ""), ("合同\u202e", ""), ("合同", "\x00")):
        answer = web.post(
            f"{url}/envelopes/new/",
            data={
                "csrfmiddlewaretoken": token,
                "title": title,
                "deadline": deadline,
                "organization": organization,
            },
            files={"document": ("c.pdf", PDF, "application/pdf")},
            allow_redirects=False,
            timeout=60,
        )
        assert answer.status_code == 200, (title, answer.status_code)  # the form again, with its error
    assert stored_files(probe.platform.data_dir) == files

    created = web.post(
        f"{url}/envelopes/new/",
        data={
            "csrfmiddlewaretoken": token,
            "title": "网页 Web probe",
            "deadline": "",
            "organization": organization,
        },
        files={"document": ("c.pdf", PDF, "application/pdf")},
        allow_redirects=False,
        timeout=60,
    )
    assert created.status_code == 302, created.status_code
    edit_url = url + created.headers["Location"]
    token = csrf_form(web, edit_url)
    party = {"name": "李明", "email": "li.ming@example.test", "order": 1}
    field = dict(FIELD)
    good = json.dumps({"parties": [party], "fields": [field]}, ensure_ascii=False)
    payloads = {
        "100000 deep": "[" * DEEP + "]" * DEEP,
        "NaN": good.replace('"x": 60', '"x": NaN'),
        "1e999": good.replace('"x": 60', '"x": 1e999'),
        "NUL in a name": json.dumps({"parties": [dict(party, name="李\x00明")], "fields": [field]}),
        "raw NUL": good.replace("李明", "李\x00明"),
        "LF in an email": json.dumps(
            {"parties": [dict(party, email="li.ming@example.test\n")], "fields": [field]}
        ),
    }
    for name, payload in payloads.items():
        assert payload != good, name
        answer = web.post(
            edit_url,
            data={"csrfmiddlewaretoken": token, "payload": payload},
            allow_redirects=False,
            timeout=60,
        )
        assert answer.status_code == 400, (name, answer.status_code)
    envelope_id = created.headers["Location"].rstrip("/").split("/")[-2]
    assert envelope_id in edit_url
    saved = web.post(
        edit_url, data={"csrfmiddlewaretoken": token, "payload": good}, allow_redirects=False, timeout=60
    )
    assert saved.status_code == 302, saved.status_code  # the control: the same payload, clean, is saved


def test_100000_deep_json_is_refused_in_the_spec_and_in_every_body(probe):
    before = probe.stored()
    deep = {
        "list": "[" * DEEP + "]" * DEEP,
        "object": '{"a":' * DEEP + "1" + "}" * DEEP,
        "unclosed": "[" * DEEP,
        "in a list": '{"title": "t", "parties": ' + "[" * DEEP + "]" * DEEP + "}",
    }
    for name, text in deep.items():
        body = _refused(probe.create(text), 400, "invalid_envelope")
        assert f"nests {DEEP} levels deep" in body["detail"] or (
            name == "in a list" and f"nests {DEEP + 1} levels deep" in body["detail"]
        ), (name, body)

    envelope = probe.sent_envelope("深度 Depth", probe.platform.emails["bob"])
    envelope_url = f"{probe.url}/api/v1/envelopes/{envelope['id']}"
    party_url = f"{envelope_url}/parties/{envelope['parties'][0]['id']}"
    events = probe.events(envelope["id"])
    targets = [
        ("alice", "post", f"{envelope_url}/void"),
        ("bob", "post", f"{party_url}/decline"),
        ("bob", "post", f"{party_url}/sign"),
        ("bob", "put", f"{probe.url}/api/v1/me/signing-pin"),
    ]
    for who, method, url in targets:
        for name, text in deep.items():
            response = getattr(probe.api(who), method)(
                url, data=text, headers={"Content-Type": "application/json"}, timeout=30
            )
            body = _refused(response, 400, "invalid_json")
            assert "levels deep" in body["detail"], (url, name, body)
        # and a body past 1 MiB is refused for its size before it is read
        big = '{"reason": "' + "x" * (1024 * 1024) + '"}'
        response = getattr(probe.api(who), method)(
            url, data=big, headers={"Content-Type": "application/json"}, timeout=30
        )
        _refused(response, 413, "too_large")
    state = probe.api("alice").get(envelope_url, timeout=30).json()
    assert state["status"] == "sent" and state["parties"][0]["status"] == "ready"
    assert probe.events(envelope["id"]) == events
    envelopes, files = probe.stored()
    assert envelopes == before[0] | {envelope["id"]}
    assert {f for f in files - before[1] if not f.startswith(f"envelopes/{envelope['id']}/")} == set()


def test_a_pdf_with_each_kind_of_active_content_is_refused_naming_it(probe):
    cases = active_content_cases()
    before = probe.stored()
    spec = _spec()
    with ThreadPoolExecutor(4) as pool:
        answers = dict(
            zip(cases, pool.map(lambda case: probe.create(spec, pdf=cases[case][0]), cases), strict=True)
        )
    wrong = {}
    for case, response in answers.items():
        expected = cases[case][1]
        body = (
            response.json() if response.headers.get("Content-Type", "").startswith("application/json") else {}
        )
        if (
            response.status_code != 422
            or body.get("error") != "active_content"
            or expected not in body.get("detail", "")
        ):
            wrong[case] = (response.status_code, response.text[:300])
    assert wrong == {}
    assert len(answers) == len(cases) >= 20
    assert probe.stored() == before


def _login(session: requests.Session, url: str, token: str, email: str, password: str) -> requests.Response:
    return session.post(
        f"{url}/login/",
        data={"csrfmiddlewaretoken": token, "email": email, "password": password},
        allow_redirects=False,
        timeout=120,
    )


def _create_account(env_cli, prefix: str) -> tuple[str, str]:
    """A fresh verified account (its own organisation) of one test, made the way an operator would:
    a lock it ends with, or a form it fills, costs no other test anything."""
    email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.test"
    password = "correct horse battery staple 9"
    created = env_cli(
        "manage",
        "shell",
        "-c",
        "from econtract.accounts.services import create_personal_account; "
        f"create_personal_account({email!r}, {password!r}, 'Probe User', email_verified=True)",
    )
    assert created.returncode == 0, created.stderr
    return email, password


def _guess_25_in_parallel(recorder: Recorder, servers: list[str], email: str) -> None:
    """25 wrong passwords at once, each from its own session, spread over ``servers``: exactly 10
    are checked ("wrong password"), the other 15 refused with 429 and Retry-After."""
    sessions = [(recorder.session(), servers[i % len(servers)]) for i in range(25)]
    tokens = [csrf_form(session, f"{url}/login/") for session, url in sessions]
    answers = parallel(
        [
            lambda s=s, url=url, t=t: _login(s, url, t, email, "wrong password 0")
            for (s, url), t in zip(sessions, tokens, strict=True)
        ]
    )
    checked = [a for a in answers if a.status_code == 200]
    throttled = [a for a in answers if a.status_code == 429]
    assert len(checked) == 10 and len(throttled) == 15, sorted(a.status_code for a in answers)
    assert all("Email or password is wrong." in a.text for a in checked)
    for answer in throttled:
        assert "Too many failed attempts" in answer.text and "Email or password is wrong." not in answer.text
        # The first lock is 15 minutes; what is left is read against a fresh clock, never more.
        assert 1 <= int(answer.headers["Retry-After"]) <= 15 * 60, answer.headers.get("Retry-After")


def test_25_parallel_wrong_passwords_get_exactly_10_checks_then_the_link_still_works(probe):
    url = probe.url
    email, password = _create_account(probe.platform.cli, "throttle")
    _guess_25_in_parallel(probe.recorder, [url], email)

    # Locked: the right password is refused too, so the lock tells a guesser nothing.
    session = probe.web()
    right = _login(session, url, csrf_form(session, f"{url}/login/"), email, password)
    assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1
    assert "Too many failed attempts" in right.text
    # The owner's way in: a one-time link by email, which the lock does not block.
    token = csrf_form(session, f"{url}/login/link/")
    asked = session.post(
        f"{url}/login/link/", data={"csrfmiddlewaretoken": token, "email": email}, timeout=30
    )
    assert asked.status_code == 200
    link = probe.outbox.wait_for(email, r"(https?://\S+/login/link/\S+)")
    used = session.post(
        link, data={"csrfmiddlewaretoken": csrf_form(session, link)}, allow_redirects=False, timeout=30
    )
    assert used.status_code == 302, used.status_code
    assert session.get(f"{url}/", allow_redirects=False, timeout=30).status_code == 200  # logged in
    again = session.post(link, data={"csrfmiddlewaretoken": csrf_form(session, link)}, timeout=30)
    assert again.status_code == 404  # used once


@pytest.fixture
def twin_servers(tmp_path):
    """Two `econtract serve` processes on one database and one Redis, as production runs them."""
    redis_url = os.environ.get("ECONTRACT_TEST_REDIS_URL")
    if not redis_url:
        pytest.skip("needs ECONTRACT_TEST_REDIS_URL: processes share login limits only through Redis")
    import redis

    redis.Redis.from_url(redis_url).flushdb()  # the test's own Redis database (conftest clears it too)
    ports = [free_port(), free_port()]
    extra = {"ECONTRACT_REDIS_URL": redis_url, "ECONTRACT_MAIL_POLL_SECONDS": "0"}
    env = server_env(tmp_path, f"http://127.0.0.1:{ports[0]}", **extra)
    servers = [ServerProcess(env, port, tmp_path / f"server-{port}.log") for port in ports]
    with own_database(env):
        try:
            initialised = cli(env, "init")
            assert initialised.returncode == 0, initialised.stdout + initialised.stderr
            for server in servers:
                server.start()
            for server in servers:
                server.wait_ready()
            yield env, servers
        finally:
            for server in servers:
                server.stop()
            redis.Redis.from_url(redis_url).flushdb()


def test_25_parallel_wrong_passwords_over_two_processes_get_exactly_10_checks(twin_servers):
    env, servers = twin_servers
    recorder = Recorder()
    email, _ = _create_account(lambda *args: cli(env, *args), "twin")
    _guess_25_in_parallel(recorder, [server.url for server in servers], email)
    assert not recorder.server_errors(), recorder.server_errors()
    for server in servers:
        assert "Internal Server Error" not in server.log.read_text()


def test_10_parallel_code_requests_issue_exactly_one_code(probe):
    platform = probe.platform
    bob = platform.emails["bob"]
    title = f"验证码 Codes {uuid.uuid4().hex[:6]}"
    envelope = probe.sent_envelope(title, bob)
    party = envelope["parties"][0]
    otp_url = f"{probe.url}/api/v1/envelopes/{envelope['id']}/parties/{party['id']}/otp"

    sessions = [probe.api("bob") for _ in range(10)]
    answers = parallel([lambda s=s: s.post(otp_url, timeout=60) for s in sessions])
    issued = [a for a in answers if a.status_code == 200]
    refused = [a for a in answers if a.status_code == 429]
    assert len(issued) == 1 and len(refused) == 9, sorted(a.status_code for a in answers)
    for answer in refused:
        assert answer.json()["error"] == "otp_rate_limited"
        assert 1 <= int(answer.headers["Retry-After"]) <= 20, answer.headers.get("Retry-After")

    mails = [
        m
        for m in probe.outbox.messages(bob)
        if title in str(m["Subject"]) and "Signing code" in str(m["Subject"])
    ]
    assert len(mails) == 1, [str(m["Subject"]) for m in mails]
    kinds = [e["kind"] for e in probe.events(envelope["id"])]
    assert kinds.count("otp_sent") == 1, kinds

    # The one code is the live one: none of the refused requests superseded it.
    code = re.search(r"^\s+(\d{6})\s*$", Outbox.text(mails[0]), re.MULTILINE).group(1)
    signed = probe.api("bob").post(
        f"{otp_url[: -len('/otp')]}/sign", json={"otp": code, "pin": platform.pins["bob"]}, timeout=120
    )
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "completed"
