"""econtract.textinput: what user text may contain, and each adapter (pydantic, forms, models)."""

from __future__ import annotations

import re

import pytest
from django import forms
from django.apps import apps
from django.db import models
from pydantic import BaseModel, Field, ValidationError

from econtract.textinput import (
    USER_TEXT,
    MultiLineField,
    MultiLineText,
    SingleLineField,
    SingleLineText,
    TextKind,
    UnsafeText,
    clean_line,
    clean_lines,
    one_line,
    text_problem,
)

ACCEPTED_LINES = [
    "张三 Zhang San",
    "Müller & Söhne GmbH",
    "محمد\u200f علي",  # RLM: how right-to-left text is written
    "👩\u200d💻 Dev",  # ZWJ inside an emoji sequence
    "O'Brien-Smith, Jr.",
    "+86 138 0000 0000",
]

REFUSED_LINES = {
    "\x00": "control character (U+0000)",
    "\t": "control character (U+0009)",
    "\n": "line break (U+000A)",
    "\r": "line break (U+000D)",
    "\x0b": "line break (U+000B)",
    "\x1b": "control character (U+001B)",
    "\x7f": "control character (U+007F)",
    "\x85": "line break (U+0085)",
    "\x9b": "control character (U+009B)",
    "\u2028": "line break (U+2028)",
    "\u2029": "line break (U+2029)",
    "\u202e": "bidirectional override (U+202E)",
    "\u2066": "bidirectional override (U+2066)",
    "\ud800": "unpaired surrogate (U+D800)",
    "\ufffe": "noncharacter (U+FFFE)",
    "\uffff": "noncharacter (U+FFFF)",
}


@pytest.mark.parametrize("text", ACCEPTED_LINES)
def test_ordinary_names_in_any_script_are_accepted_as_they_are(text):
    assert text_problem(text, TextKind.LINE) is None
    assert clean_line(text) == text


@pytest.mark.parametrize(
    ("char", "why"), REFUSED_LINES.items(), ids=[f"U+{ord(c):04X}" for c in REFUSED_LINES]
)
def test_a_line_refuses_every_control_separator_and_override(char, why):
    with pytest.raises(UnsafeText, match=r"^title: contains an? .*" + re.escape(why)):
        clean_line(f"Contract{char}X", field="title")


@pytest.mark.parametrize("char", ["\x1f", "\x1c", "\x85", "\u2028", "\n"])
def test_a_trailing_control_character_is_refused_not_trimmed_away(char):
    """str.strip() removes these: checking after trimming would accept and silently change the text."""
    with pytest.raises(UnsafeText):
        clean_line(f"Contract{char}")


def test_lines_keep_line_feeds_and_tabs_and_normalise_cr():
    assert clean_lines("  first\r\nsecond\rthird\n\tindented  ") == "first\nsecond\nthird\n\tindented"


@pytest.mark.parametrize(
    "char", ["\x00", "\x0b", "\x0c", "\x1b", "\x85", "\u2028", "\u2029", "\u202d", "\ud83d"]
)
def test_lines_refuse_every_other_control_character(char):
    with pytest.raises(UnsafeText, match="reason: contains"):
        clean_lines(f"a{char}b", field="reason")


def test_text_is_nfc_normalised_and_trimmed_and_bounded():
    assert clean_line("  Cafe\u0301  ") == "Caf\u00e9"
    assert clean_line("\u00a0 x \u3000") == "x"  # no-break and ideographic spaces are trimmed too
    with pytest.raises(UnsafeText, match="longer than 3"):
        clean_line("abcd", max_length=3)


def test_one_line_flattens_only_what_we_compose_ourselves():
    assert (
        one_line("Please sign: a\r\nBcc: x@example.test\u2028\x00 end ")
        == "Please sign: a Bcc: x@example.test end"
    )
    assert one_line("签署：采购合同") == "签署：采购合同"


class Spec(BaseModel):
    title: SingleLineText = Field(min_length=1, max_length=5)
    reason: MultiLineText = ""


def test_the_pydantic_types_clean_before_the_length_constraints():
    assert Spec(title="  abc  ", reason="a\r\nb").model_dump() == {"title": "abc", "reason": "a\nb"}
    with pytest.raises(ValidationError) as caught:
        Spec(title="   ")  # empty once trimmed: min_length sees the cleaned text
    assert caught.value.errors()[0]["type"] == "string_too_short"
    with pytest.raises(ValidationError) as caught:
        Spec(title="a\nb")
    error = caught.value.errors()[0]
    assert error["loc"] == ("title",) and "line break (U+000A)" in error["msg"]
    with pytest.raises(ValidationError) as caught:
        Spec(title=5)  # a non-string is left to the str schema
    assert caught.value.errors()[0]["type"] == "string_type"


class NameForm(forms.Form):
    name = SingleLineField(max_length=10)
    note = MultiLineField(required=False)


def test_the_form_fields_refuse_with_a_message_naming_the_code_point():
    form = NameForm({"name": "Eve\x1b[2J", "note": "ok"})
    assert not form.is_valid()
    assert "U+001B" in form.errors["name"][0]
    form = NameForm({"name": "  Eve  ", "note": "line one\r\nline two"})
    assert form.is_valid()
    assert form.cleaned_data == {"name": "Eve", "note": "line one\nline two"}
    assert not NameForm({"name": " \t "}).is_valid()  # a tab is refused, not taken for blank


# Text fields whose content the platform makes (hashes, identifiers, our own messages) or copies from
# text that was checked when a user gave it. Everything else that holds text must be in USER_TEXT.
PLATFORM_TEXT = {
    "accounts.User": {"password", "assurance_level"},
    "accounts.ApiKey": {"prefix", "secret_hash"},
    "accounts.LoginLink": {"email", "token_hash"},
    "accounts.Organization": {
        "uscc",
        "legal_rep_id_type",
        "legal_rep_id_number_masked",
        "legal_rep_id_digest",
        "verification_method",
    },
    "accounts.OrganizationVerification": {
        "provider",
        "provider_reference",
        "outcome",
        "requested_role",
        "bank_account_masked",
        "bank_reference",
        "licence_content_type",
        "licence_sha256",
    },
    "accounts.Invitation": {"role", "token_hash"},
    "identity.OtpChallenge": {"subject", "channel", "destination", "code_hash"},
    "identity.OtpSubject": {"subject"},
    "identity.IdentityVerification": {
        "id_type",
        "id_number_masked",
        "id_number_digest",
        "phone_masked",
        "bank_card_masked",
        "country",
        "provider",
        "provider_reference",
        "outcome",
    },
    "identity.IdentityDocumentImage": {"content_type", "sha256"},
    "identity.WebAuthnCredential": {"credential_id", "rp_id", "aaguid"},
    "identity.WebAuthnChallenge": {"purpose", "subject", "challenge"},
    "identity.RecoveryCode": {"code_hash"},
    "pki.PlatformCertificate": {"serial_number", "revocation_reason"},
    "pki.IssuedCertificate": {
        "serial_number",
        "issuer_key_id",
        "subject_dn",
        "revocation_reason",
        "assurance_level",
    },
    "pki.TimestampRecord": {
        "serial_number",
        "message_imprint",
        "hash_algorithm",
        "policy_oid",
        "nonce",
        "tsa_certificate_serial",
    },
    "notifications.EmailDelivery": {
        "recipient",
        "subject",
        "body",
        "body_sha256",
        "purpose",
        "about_type",
        "about_id",
        "event_on_sent",
        "event_on_failure",
        "last_error",
    },
    "notifications.SmsDelivery": {
        "recipient",
        "body",
        "body_sha256",
        "purpose",
        "about_type",
        "about_id",
        "event_on_sent",
        "event_on_failure",
        "last_error",
        "gateway_id",
    },
    # composed by the platform (bilingual, like the mails) from text checked when a user gave it
    "notifications.Notice": {"kind", "title", "body", "url", "about_type", "about_id"},
    "evidence.Event": {
        "subject_type",
        "subject_id",
        "kind",
        "actor_label",
        "user_agent",
        "document_sha256",
        "previous_hash",
        "event_hash",
    },
    # the log's own text: the origin (settings), signed notes, cosignature lines a witness returned
    # (verified before storing) and the key names and salts' field names the code sets
    "evidence.LogState": {"origin"},
    "evidence.EventSecret": {"field"},
    "evidence.Checkpoint": {"note"},
    "evidence.Cosignature": {"witness", "key_id", "line"},
    "signing.Envelope": {"original_sha256", "currency"},
    "signing.DocumentRevision": {"sha256"},
    "signing.Party": {"signature_field_name", "kind", "organization_uscc"},
    "signing.SignatureField": {"kind"},
    "seals.PersonalSignature": {"kind", "sha256"},
    "seals.Seal": {"seal_type", "shape", "source", "image_sha256", "status"},
    "seals.SealGrant": {"grantee"},
    "seals.ApprovalRequest": {"document_sha256", "currency", "status"},
    "seals.SealUsage": {"document_sha256", "certificate_serial"},
    "documents.Document": {"language", "fixed_pdf_name", "fixed_pdf_sha256"},
    "documents.DocumentVersion": {"sha256"},
    "documents.Template": {"slug", "language"},
    "contracts.NumberSequence": {"scope"},
    "contracts.Contract": {"currency", "counterparty_text"},
    "contracts.ContractFile": {"content_type", "sha256"},
    # what the sandboxed extraction read from stored files, and the index text made from it
    "contracts.ExtractedText": {"sha256", "text", "detail"},
    "contracts.SearchEntry": {"text"},
    "signing.SigningLink": {"token_hash"},
    "signing.PartyAccess": {"secret_hash"},
}


def test_every_text_field_of_every_model_is_classified():
    """A new model field holding text fails here until it is named user text (guarded) or platform text."""
    unclassified = []
    for model in apps.get_models():
        if not model.__module__.startswith("econtract."):
            continue
        label = model._meta.label
        for field in model._meta.concrete_fields:
            if not isinstance(field, models.CharField | models.TextField) or field.choices:
                continue
            if field.name not in USER_TEXT.get(label, {}) and field.name not in PLATFORM_TEXT.get(
                label, set()
            ):
                unclassified.append(f"{label}.{field.name}")
    assert unclassified == []
    for label, names in USER_TEXT.items():
        model = apps.get_model(label)
        assert all(model._meta.get_field(name) for name in names)


@pytest.mark.django_db
def test_the_model_guard_checks_only_the_fields_being_saved(make_user):
    user = make_user("guard@example.test", "Guard")
    # A row stored before the guard existed must not block unrelated updates (a status, a timestamp).
    type(user).objects.filter(pk=user.pk).update(full_name="legacy\nname")
    user.refresh_from_db()
    user.save(update_fields=["last_login"])
    with pytest.raises(UnsafeText, match=r"User\.full_name: contains a line break"):
        user.save()
    user.full_name = "x" * 201
    with pytest.raises(UnsafeText, match="longer than 200"):
        user.save(update_fields=["full_name"])


@pytest.mark.django_db
def test_loaddata_restores_what_was_stored():
    from django.utils import timezone

    from econtract.accounts.models import Organization

    Organization(name="legacy\nname", created_at=timezone.now()).save_base(raw=True)
    assert Organization.objects.get().name == "legacy\nname"


@pytest.mark.django_db
def test_the_account_services_refuse_control_characters(make_user):
    from econtract.accounts.services import create_enterprise

    with pytest.raises(UnsafeText, match="full name"):
        make_user("mallory@example.test", "Mallory\u202e")
    with pytest.raises(UnsafeText, match="organisation name"):
        create_enterprise("Acme\nLtd", make_user())
    assert create_enterprise("  Acme Ltd  ", make_user()).name == "Acme Ltd"


@pytest.mark.django_db
def test_a_mail_subject_is_always_one_line():
    from econtract.notifications.services import send_email

    (delivery,) = send_email(["a@example.test"], "Please sign: a\r\nBcc: victim@example.test", "body")
    assert delivery.subject == "Please sign: a Bcc: victim@example.test"
