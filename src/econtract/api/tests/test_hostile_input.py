"""Hostile JSON and text through the API: non-finite numbers, control characters, deep nesting and
oversized bodies are refused with a clear 4xx naming the field, and nothing is stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile

from econtract.evidence.services import RequestContext
from econtract.signing import services
from econtract.signing.errors import InvalidEnvelope
from econtract.signing.models import DocumentRevision, Envelope, Party

pytestmark = pytest.mark.django_db

PARTY = {"name": "张三 Zhang San", "email": "zhang@example.test", "order": 1, "phone": "+86 138 0000 0000"}
FIELD = {"party": 0, "page": 1, "x": 60, "y": 80, "width": 200, "height": 60}
DEEP = 100_000


def stored_files() -> set[Path]:
    root = Path(settings.STORAGES["default"]["OPTIONS"]["location"])
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


@pytest.fixture
def sender(enterprise):
    return enterprise.memberships.get().user


@pytest.fixture
def sender_api(enterprise, sender, api_client):
    return api_client(sender, enterprise)


def _create(client, pdf: bytes, spec: str):
    return client.post(
        "/api/v1/envelopes", {"document": SimpleUploadedFile("c.pdf", pdf, "application/pdf"), "spec": spec}
    )


def _spec_text(title="采购合同 Purchase", party=None, field=None) -> str:
    """The spec as raw JSON text, so that a test can splice in what json.dumps would never write."""
    party_text = json.dumps(party or PARTY, ensure_ascii=False)
    field_text = json.dumps(field or FIELD) if not isinstance(field, str) else field
    return f'{{"title": {json.dumps(title, ensure_ascii=False)}, "parties": [{party_text}], "fields": [{field_text}]}}'


def _assert_refused_and_nothing_stored(response, before: set[Path], status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = json.loads(response.content)  # strict JSON: the error itself carries no NaN
    assert body["error"] == code
    assert Envelope.objects.count() == 0 and DocumentRevision.objects.count() == 0
    assert Party.objects.count() == 0
    assert stored_files() == before
    return body


# --- 1. non-finite numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
@pytest.mark.parametrize("name", ["x", "y", "width", "height", "page", "party"])
def test_a_non_finite_number_in_the_spec_is_refused(sender_api, sample_pdf, name, constant):
    field = ", ".join(f'"{key}": {constant if key == name else value}' for key, value in FIELD.items())
    before = stored_files()
    response = _create(sender_api, sample_pdf, _spec_text(field="{" + field + "}"))
    body = _assert_refused_and_nothing_stored(response, before, 400, "invalid_envelope")
    assert f"fields[0].{name}" in body["detail"]


@pytest.mark.parametrize("constant", ["NaN", "Infinity"])
def test_a_non_finite_party_order_is_refused(sender_api, sample_pdf, constant):
    party = json.dumps(PARTY)[:-1] + f', "order": {constant}}}'
    before = stored_files()
    spec = f'{{"title": "t", "parties": [{party}], "fields": []}}'
    body = _assert_refused_and_nothing_stored(
        _create(sender_api, sample_pdf, spec), before, 400, "invalid_envelope"
    )
    assert "parties[0].order" in body["detail"]


def test_a_non_finite_number_anywhere_in_a_json_body_is_a_schema_error(sender_api, sample_pdf):
    envelope = _create(sender_api, sample_pdf, _spec_text()).json()
    response = sender_api.post(
        f"/api/v1/envelopes/{envelope['id']}/void",
        '{"reason": "changed my mind", "extra": {"n": [1, NaN]}}',
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    body = json.loads(response.content)
    assert body["error"] == "invalid_request"
    assert body["errors"][0]["loc"] == ["body", "extra", "n", 1]
    assert Envelope.objects.get().status == Envelope.Status.DRAFT


def test_the_services_refuse_non_finite_boxes_for_web_and_cli_callers_too(enterprise, sender, sample_pdf):
    before = stored_files()
    for bad in (float("nan"), float("inf"), float("-inf")):
        with pytest.raises(InvalidEnvelope, match="finite"):
            services.create_envelope(
                organization=enterprise,
                created_by=sender,
                title="t",
                pdf=sample_pdf,
                parties=[services.PartySpec(name="a", email="a@example.test")],
                fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=bad, height=60)],
                context=RequestContext.system("test"),
            )
    assert Envelope.objects.count() == 0 and stored_files() == before


def test_get_never_emits_nan_even_for_a_row_stored_before_the_fix(sender_api, enterprise, sender, sample_pdf):
    envelope = services.create_envelope(
        organization=enterprise,
        created_by=sender,
        title="t",
        pdf=sample_pdf,
        parties=[services.PartySpec(name="a", email="a@example.test")],
        fields=[services.FieldSpec(party=0, page=1, x=60, y=80, width=200, height=60)],
        context=RequestContext.system("test"),
    )
    # A legacy row: the kind the unbounded parser let into PostgreSQL (bypasses save(), as the bug did).
    # SQLite stores NaN as NULL, so the legacy row holds Infinity, which both databases keep.
    envelope.fields.update(x=float("inf"))
    response = sender_api.get(f"/api/v1/envelopes/{envelope.pk}")
    assert response.status_code == 200
    assert b"Infinity" not in response.content and b"NaN" not in response.content
    body = json.loads(response.content, parse_constant=_refuse_constant)
    assert body["fields"][0]["x"] is None and body["fields"][0]["width"] == 200


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"the API emitted {name}, which is not JSON")


# --- 2. control characters in text ---------------------------------------------------------------

BAD_LINE_TEXT = {
    "newline": "Contract\nBcc: victim@example.test",
    "carriage-return": "Contract\rX",
    "nul": "Con\x00tract",
    "escape": "Contract \x1b[31m",
    "c1-next-line": "Contract\x85X",
    "line-separator": "Contract\u2028X",
    "bidi-override": "Contract \u202egpj.exe",
    "tab": "Con\ttract",
}


@pytest.mark.parametrize("text", BAD_LINE_TEXT.values(), ids=BAD_LINE_TEXT.keys())
@pytest.mark.parametrize("where", ["title", "name", "email", "phone"])
def test_control_characters_in_spec_text_are_refused(sender_api, sample_pdf, where, text):
    party = dict(PARTY)
    title = "采购合同 Purchase"
    if where == "title":
        title = text
    elif where == "email":
        party["email"] = text.replace(" ", "") + "@example.test"
    else:
        party[where] = text[:32]
    before = stored_files()
    response = _create(sender_api, sample_pdf, _spec_text(title=title, party=party))
    body = _assert_refused_and_nothing_stored(response, before, 400, "invalid_envelope")
    assert ("title" if where == "title" else f"parties[0].{where}") in body["detail"]


def test_a_lone_surrogate_escape_in_spec_text_is_refused(sender_api, sample_pdf):
    before = stored_files()
    spec = _spec_text(title="X").replace('"X"', '"Contract \\ud800"')
    body = _assert_refused_and_nothing_stored(
        _create(sender_api, sample_pdf, spec), before, 400, "invalid_envelope"
    )
    assert "title" in body["detail"]


def test_spec_text_is_trimmed_and_nfc_normalised(sender_api, sample_pdf):
    party = dict(PARTY, name="  Zoe\u0301  ")  # e + combining acute: NFC makes it one character
    response = _create(sender_api, sample_pdf, _spec_text(title="  Cafe\u0301 contract  ", party=party))
    assert response.status_code == 201, response.content
    envelope = Envelope.objects.get()
    assert envelope.title == "Caf\u00e9 contract"
    assert envelope.parties.get().name == "Zo\u00e9"


@pytest.fixture
def draft_id(sender_api, sample_pdf) -> str:
    response = _create(sender_api, sample_pdf, _spec_text())
    assert response.status_code == 201, response.content
    return response.json()["id"]


@pytest.mark.parametrize("reason", ["a\x00b", "a\x1bb", "a\u202eb", "a\x0bb", "a\u2029b"])
def test_control_characters_in_a_void_reason_are_refused(sender_api, draft_id, reason):
    response = sender_api.post(
        f"/api/v1/envelopes/{draft_id}/void", {"reason": reason}, content_type="application/json"
    )
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["error"] == "invalid_request" and body["errors"][0]["loc"] == ["body", "payload", "reason"]
    assert Envelope.objects.get().status == Envelope.Status.DRAFT


def test_a_multi_line_void_reason_is_kept_with_line_feeds_only(sender_api, draft_id):
    response = sender_api.post(
        f"/api/v1/envelopes/{draft_id}/void",
        {"reason": "  wrong counterparty\r\n\tsee ticket 42\rthanks  "},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    assert Envelope.objects.get().end_reason == "wrong counterparty\n\tsee ticket 42\nthanks"


def test_control_characters_in_a_decline_reason_are_refused(make_user, enterprise, api_client, sample_pdf):
    from econtract.signing.tests.factories import create_and_send, people

    sender, first, _ = people(make_user, enterprise)
    envelope = create_and_send(
        api_client(sender, enterprise), sample_pdf, [{"name": "张三", "email": first.email, "order": 1}]
    )
    party_id = envelope["parties"][0]["id"]
    signer_api = api_client(first)
    url = f"/api/v1/envelopes/{envelope['id']}/parties/{party_id}/decline"
    response = signer_api.post(url, {"reason": "no\x00thanks"}, content_type="application/json")
    assert response.status_code == 422 and response.json()["error"] == "invalid_request"
    assert Envelope.objects.get().status == Envelope.Status.SENT
    response = signer_api.post(url, {"reason": "price\r\nis wrong"}, content_type="application/json")
    assert response.status_code == 200, response.content
    assert Party.objects.get().decline_reason == "price\nis wrong"


def test_the_services_refuse_control_characters_for_web_and_cli_callers(enterprise, sender, sample_pdf):
    context = RequestContext.system("test")
    with pytest.raises(InvalidEnvelope, match="title"):
        services.create_envelope(
            organization=enterprise, created_by=sender, title="a\nb", pdf=sample_pdf, context=context
        )
    with pytest.raises(InvalidEnvelope, match=r"party 1 name"):
        services.create_envelope(
            organization=enterprise,
            created_by=sender,
            title="t",
            pdf=sample_pdf,
            parties=[services.PartySpec(name="a\x00", email="a@example.test")],
            context=context,
        )
    assert Envelope.objects.count() == 0


def test_the_model_guard_refuses_what_skipped_every_edge(enterprise, sender, sample_pdf):
    """Code that writes a model directly (admin, shell, a future service) still cannot store it."""
    from econtract.textinput import UnsafeText

    envelope = services.create_envelope(
        organization=enterprise,
        created_by=sender,
        title="t",
        pdf=sample_pdf,
        context=RequestContext.system("t"),
    )
    envelope.title = "Please sign\r\nBcc: everyone@example.test"
    with pytest.raises(UnsafeText, match="Envelope.title"):
        envelope.save()
    enterprise.name = "Acme\x00"
    with pytest.raises(UnsafeText, match="Organization.name"):
        enterprise.save()
    sender.full_name = "Mallory \u202eyrollaM"
    with pytest.raises(UnsafeText, match="User.full_name"):
        sender.save(update_fields=["full_name"])
    envelope.refresh_from_db()
    assert envelope.title == "t"


# --- 3. deep nesting and size ----------------------------------------------------------------------


def test_a_deeply_nested_spec_is_refused(sender_api, sample_pdf):
    before = stored_files()
    spec = '{"title": "t", "fields": ' + "[" * DEEP + "]" * DEEP + "}"
    body = _assert_refused_and_nothing_stored(
        _create(sender_api, sample_pdf, spec), before, 400, "invalid_envelope"
    )
    assert "deep" in body["detail"]


def test_a_deeply_nested_json_body_is_refused(sender_api, draft_id):
    deep = '{"reason": "x", "extra": ' + '{"a": ' * DEEP + "1" + "}" * DEEP + "}"
    response = sender_api.post(f"/api/v1/envelopes/{draft_id}/void", deep, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["error"] == "invalid_json" and "deep" in response.json()["detail"]
    assert Envelope.objects.get().status == Envelope.Status.DRAFT


def test_an_oversized_json_body_is_refused(sender_api, draft_id):
    from econtract.jsoninput import MAX_JSON_BYTES

    big = json.dumps({"reason": "x", "padding": "a" * MAX_JSON_BYTES})
    response = sender_api.post(f"/api/v1/envelopes/{draft_id}/void", big, content_type="application/json")
    assert response.status_code == 413, response.content
    assert response.json()["error"] == "too_large"
    assert Envelope.objects.get().status == Envelope.Status.DRAFT


def test_an_oversized_spec_is_refused(sender_api, sample_pdf):
    from econtract.jsoninput import MAX_JSON_BYTES

    before = stored_files()
    spec = json.dumps({"title": "t", "padding": "a" * MAX_JSON_BYTES})
    _assert_refused_and_nothing_stored(_create(sender_api, sample_pdf, spec), before, 413, "too_large")


def test_a_huge_integer_in_the_spec_is_refused_not_a_server_error(sender_api, sample_pdf):
    before = stored_files()
    spec = _spec_text(
        field='{"party": 0, "page": ' + "9" * 5000 + ', "x": 1, "y": 1, "width": 30, "height": 30}'
    )
    _assert_refused_and_nothing_stored(_create(sender_api, sample_pdf, spec), before, 400, "invalid_envelope")


def test_malformed_json_bodies_keep_a_clear_code(sender_api, draft_id):
    response = sender_api.post(
        f"/api/v1/envelopes/{draft_id}/void", "{not json", content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_json"
