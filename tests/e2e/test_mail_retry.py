"""A real server mailing through a real SMTP server that first refuses: `econtract serve` retries itself."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from econtract.notifications.tests.smtpserver import SmtpServer
from tests.e2e.servers import ServerProcess, cli, free_port, own_database, server_env

pytestmark = pytest.mark.e2e


@pytest.fixture
def mailing_platform(tmp_path):
    smtp = SmtpServer()
    smtp.start()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = server_env(
        tmp_path,
        base_url,
        ECONTRACT_SMTP_URL=f"smtp://127.0.0.1:{smtp.port}",
        ECONTRACT_MAIL_RETRY_SECONDS="1",
        ECONTRACT_MAIL_POLL_SECONDS="1",
    )
    server = ServerProcess(env, port, tmp_path / "server.log")
    try:
        with own_database(env):  # the CI runs tests/e2e on SQLite and on PostgreSQL
            demo = cli(env, "demo")
            assert demo.returncode == 0, demo.stdout + demo.stderr
            bob = re.findall(r"email=(\S+)\s+password=\S+\s+PIN=\d+", demo.stdout)[1]
            key = re.search(r"API key \(.*?\): (ek_\S+)", demo.stdout).group(1)
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {key}"
            try:
                server.start()
                server.wait_ready(timeout=60)
                yield {"url": base_url, "api": session, "smtp": smtp, "bob": bob}
            finally:
                server.stop()
    finally:
        smtp.stop()


def test_the_server_retries_a_refused_signing_link_until_it_is_delivered(mailing_platform):
    from econtract.documents.samples import make_contract_pdf

    url, api, smtp, bob = (mailing_platform[k] for k in ("url", "api", "smtp", "bob"))
    smtp.handler.data_replies = ["451 4.3.0 try again later", "421 4.4.2 connection dropped"]
    pdf = make_contract_pdf("采购合同 Retry", ["甲方 Party A"], pages=1)
    spec = {
        "title": "采购合同 Retry",
        "parties": [{"name": "Bob", "email": bob, "order": 1}],
        "fields": [{"party": 0, "page": 1, "x": 60, "y": 80, "width": 200, "height": 60}],
    }
    created = api.post(
        f"{url}/api/v1/envelopes",
        files={"document": ("c.pdf", pdf, "application/pdf")},
        data={"spec": json.dumps(spec, ensure_ascii=False)},
        timeout=60,
    )
    assert created.status_code == 201, created.text
    envelope_id = created.json()["id"]
    sent = api.post(f"{url}/api/v1/envelopes/{envelope_id}/send", timeout=30)
    assert sent.status_code == 200, sent.text
    party = sent.json()["parties"][0]
    assert (party["notification_status"], party["notification_error"]) == (
        "retrying",
        "451 4.3.0 try again later",
    )

    # nobody runs `econtract deliver`: the server's own runner retries (after 1 s, then 2 s)
    deadline = time.monotonic() + 60
    while (party := api.get(f"{url}/api/v1/envelopes/{envelope_id}", timeout=10).json()["parties"][0])[
        "notification_status"
    ] != "sent":
        assert time.monotonic() < deadline, party
        time.sleep(0.5)

    assert smtp.handler.refused == 2
    (mail,) = [m for m in smtp.handler.to(bob) if "采购合同 Retry" in str(m["Subject"])]
    assert re.search(r"https?://\S+/sign/\S+", mail.get_content())
    events = api.get(f"{url}/api/v1/envelopes/{envelope_id}/events", timeout=10).json()
    kinds = [e["kind"] for e in (events["items"] if isinstance(events, dict) else events)]
    assert kinds[-2:] == ["sent", "notified"] and "notification_failed" not in kinds
    notified = (events["items"] if isinstance(events, dict) else events)[-1]
    assert notified["payload"]["attempts"] == 3 and notified["actor"] == "mail delivery"
