"""GET /api/v1/envelopes/{id}/evidence-report and /evidence-package: who may, what is logged, limits."""

from __future__ import annotations

import hashlib

import pytest

from econtract.evidence import log
from econtract.evidence.issuance import ISSUES_PER_MINUTE
from econtract.evidence.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sender_downloads_a_signed_report_and_its_issue_is_logged(completed_envelope):
    # Given a completed envelope
    envelope = completed_envelope.envelope
    # When a member of the sending organisation asks for its evidence report
    response = completed_envelope.sender_api.get(f"/api/v1/envelopes/{envelope.pk}/evidence-report")
    # Then she gets a PDF whose SHA-256 the header states
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    sha256 = hashlib.sha256(response.content).hexdigest()
    assert response["X-Evidence-SHA256"] == sha256
    # and the log holds an evidence_report_issued event with that hash, after the anchor checkpoint
    issued = Event.objects.for_subject(envelope).filter(kind="evidence_report_issued").get()
    assert issued.document_sha256 == sha256
    assert issued.payload["checkpoint_size"] == int(response["X-Checkpoint-Size"])
    log.integrate_pending()
    assert issued.leaf.index >= issued.payload["checkpoint_size"]


def test_someone_outside_the_envelope_gets_404_and_nothing_is_logged(completed_envelope):
    # Given a user who is neither of the sending organisation nor a party
    envelope = completed_envelope.envelope
    before = Event.objects.for_subject(envelope).count()
    # When she asks for the report or the package, then the envelope does not exist for her
    for what in ("evidence-report", "evidence-package"):
        response = completed_envelope.outsider_api.get(f"/api/v1/envelopes/{envelope.pk}/{what}")
        assert response.status_code == 404 and response.json()["error"] == "not_found"
    assert Event.objects.for_subject(envelope).count() == before


def test_reports_are_limited_per_person_per_minute(completed_envelope, settings):
    # Given a person who has used up her budget of evidence reports for this minute
    envelope = completed_envelope.envelope
    from econtract.evidence import issuance

    for _ in range(ISSUES_PER_MINUTE):
        issuance._budget(str(completed_envelope.sender.pk))
    # When she asks for one more, then 429 with Retry-After, and no report is made or logged
    response = completed_envelope.sender_api.get(f"/api/v1/envelopes/{envelope.pk}/evidence-report")
    assert response.status_code == 429 and response.json()["error"] == "evidence_rate_limited"
    assert int(response["Retry-After"]) >= 1
    assert not Event.objects.for_subject(envelope).filter(kind="evidence_report_issued").exists()


def test_the_envelope_page_offers_the_report_and_a_party_downloads_it(completed_envelope, client):
    # Given a party of the completed envelope, logged in to the web site
    envelope = completed_envelope.envelope
    party_user = envelope.parties.order_by("order").first().user
    client.force_login(party_user)
    # When she opens the envelope page, then it links the evidence report and package
    page = client.get(f"/envelopes/{envelope.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"/envelopes/{envelope.pk}/evidence-report/" in page and "Evidence report" in page
    assert f"/envelopes/{envelope.pk}/evidence-package/" in page
    # and following the report link downloads the signed PDF, logged under her name
    response = client.get(f"/envelopes/{envelope.pk}/evidence-report/")
    assert response.status_code == 200 and response.content.startswith(b"%PDF-")
    issued = Event.objects.for_subject(envelope).filter(kind="evidence_report_issued").get()
    assert issued.actor_id == party_user.pk
    assert issued.document_sha256 == hashlib.sha256(response.content).hexdigest()


def test_an_outsider_gets_404_on_the_web_evidence_links(completed_envelope, client, make_user):
    # Given a logged-in user with nothing to do with the envelope
    client.force_login(make_user("stranger@example.test"))
    # When she tries the evidence links, then 404 and nothing is logged
    envelope = completed_envelope.envelope
    for what in ("evidence-report", "evidence-package"):
        assert client.get(f"/envelopes/{envelope.pk}/{what}/").status_code == 404
    assert not Event.objects.for_subject(envelope).filter(kind__startswith="evidence_").exists()
