"""What text a user may give us, decided once for every schema, form and model.

Two kinds of user text:

- a **line** (titles, names, email addresses, phone numbers, key names): no control character at
  all, C0 (including TAB, CR and LF), DEL or C1, no U+2028/U+2029 line or paragraph separator.
  Titles and names end up in mail subjects and PDF signature appearances, where a line break is a
  header injection or a forged second line.
- **lines** (decline and void reasons): the same, except that LF and TAB are allowed; CRLF and a
  lone CR are first normalised to LF.

Both refuse, in addition, the bidirectional embedding, override and isolate controls (U+202A-202E,
U+2066-2069: "Trojan Source" text that displays differently from what it says, e.g. a signer's name
shown reversed) and unpaired surrogates (which no database can store as UTF-8). The marks LRM, RLM
and ALM stay allowed: they are how Arabic and Hebrew text is written. Accepted text is NFC-normalised
and trimmed. Text is refused, never silently cleaned: the client learns which field and which code
point; only ``one_line`` flattens, for output we build ourselves (mail subjects).

Adapters: ``SingleLineText``/``MultiLineText`` for pydantic (django-ninja) schemas,
``SingleLineField``/``MultiLineField`` for Django forms, and a pre_save guard (``USER_TEXT`` names
every model field that holds user text) as the last line for code that writes models directly.
"""

from __future__ import annotations

import re
import unicodedata
from enum import StrEnum
from typing import Annotated, Any

from django import forms
from django.db.models import Model
from django.db.models.signals import pre_save
from django.utils.translation import gettext_lazy as _
from pydantic import BeforeValidator


class TextKind(StrEnum):
    LINE = "line"
    LINES = "lines"


BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
# U+FFFE and U+FFFF are not characters (XML 1.0 refuses them: a DOCX, an XMP packet, an SVG would break)
NONCHARACTERS = "\ufffe\uffff"
_ALWAYS_REFUSED = "\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029" + BIDI_CONTROLS + "\ud800-\udfff" + NONCHARACTERS
_REFUSED = {
    TextKind.LINE: re.compile(f"[\t\n{_ALWAYS_REFUSED}]"),
    TextKind.LINES: re.compile(f"[{_ALWAYS_REFUSED}]"),
}
_LINE_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"  # what str.splitlines() splits on


class UnsafeText(ValueError):
    """User text with a character we do not accept; ``field`` names where, ``char`` what."""

    code = "invalid_text"

    def __init__(self, field: str, problem: str, char: str = "") -> None:
        super().__init__(f"{field}: {problem}" if field else problem)
        self.field = field
        self.problem = problem
        self.char = char


def _describe(char: str, kind: TextKind) -> str:
    point = f"U+{ord(char):04X}"
    if char in _LINE_BREAKS:
        if kind is TextKind.LINE:
            return f"contains a line break ({point}); it must be a single line"
        return f"contains a line or paragraph separator ({point}); use a line feed"
    if char in BIDI_CONTROLS:
        return f"contains a bidirectional override ({point}), which makes text display differently"
    if "\ud800" <= char <= "\udfff":
        return f"contains an unpaired surrogate ({point})"
    if char in NONCHARACTERS:
        return f"contains a noncharacter ({point})"
    return f"contains a control character ({point})"


def text_problem(value: str, kind: TextKind) -> tuple[str, str] | None:
    """(why, the offending character) when ``value`` is not acceptable text of ``kind``, else None.
    For LINES, call it after CR/CRLF have been normalised (``clean_lines`` does)."""
    found = _REFUSED[kind].search(value)
    return None if found is None else (_describe(found.group(), kind), found.group())


def clean_text(value: str, kind: TextKind, *, field: str = "", max_length: int | None = None) -> str:
    """The accepted form of ``value`` (line endings normalised, NFC, trimmed), or UnsafeText."""
    if kind is TextKind.LINES:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
    problem = text_problem(value, kind)  # before trimming: strip() would hide a trailing control
    if problem is not None:
        raise UnsafeText(field, *problem)
    value = unicodedata.normalize("NFC", value).strip()
    if max_length is not None and len(value) > max_length:
        raise UnsafeText(field, f"is longer than {max_length} characters")
    return value


def clean_line(value: str, *, field: str = "", max_length: int | None = None) -> str:
    return clean_text(value, TextKind.LINE, field=field, max_length=max_length)


def clean_lines(value: str, *, field: str = "", max_length: int | None = None) -> str:
    return clean_text(value, TextKind.LINES, field=field, max_length=max_length)


def one_line(value: str) -> str:
    """Text we compose ourselves made safe for a single-line slot (a mail subject): every refused
    character, line breaks included, becomes a space. Input is refused instead, never flattened."""
    return " ".join(_REFUSED[TextKind.LINE].sub(" ", value).split())


# --- pydantic (django-ninja schemas) --------------------------------------------------------------


def _before(kind: TextKind) -> BeforeValidator:
    # Runs before the str schema, so min_length/max_length constraints see the cleaned text; a
    # non-string passes through for the str schema to refuse with its own error.
    def validate(value: Any) -> Any:
        return clean_text(value, kind) if isinstance(value, str) else value

    return BeforeValidator(validate)


SingleLineText = Annotated[str, _before(TextKind.LINE)]
MultiLineText = Annotated[str, _before(TextKind.LINES)]


# --- Django forms -----------------------------------------------------------------------------------

_FORM_MESSAGES = {
    TextKind.LINE: _("Use a single line of plain text: %(char)s is not allowed here."),
    TextKind.LINES: _("Use plain text: %(char)s is not allowed here."),
}


class _TextField(forms.CharField):
    kind = TextKind.LINE

    def __init__(self, **kwargs: Any) -> None:
        kwargs["strip"] = False  # clean_text trims, after it has looked at the ends
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        try:
            return clean_text(text, self.kind)
        except UnsafeText as exc:
            char = f"U+{ord(exc.char):04X}" if exc.char else "?"
            raise forms.ValidationError(
                _FORM_MESSAGES[self.kind], code="invalid_text", params={"char": char}
            ) from exc


class SingleLineField(_TextField):
    kind = TextKind.LINE


class MultiLineField(_TextField):
    kind = TextKind.LINES


# --- models -------------------------------------------------------------------------------------

# Every model field that stores text a user typed (directly or through the API). A new such field
# is added here; econtract/tests/test_textinput.py fails until every text field is classified.
USER_TEXT: dict[str, dict[str, TextKind]] = {
    "accounts.User": {
        "full_name": TextKind.LINE,
        "email": TextKind.LINE,
        "username": TextKind.LINE,
        "first_name": TextKind.LINE,
        "last_name": TextKind.LINE,
        "phone": TextKind.LINE,
    },
    "accounts.Organization": {"name": TextKind.LINE, "legal_rep_name": TextKind.LINE},
    "accounts.OrganizationVerification": {
        "bank_account_name": TextKind.LINE,
        "bank_name": TextKind.LINE,
        "reason": TextKind.LINES,
    },
    "accounts.Department": {"name": TextKind.LINE},
    "accounts.Invitation": {"email": TextKind.LINE},
    "accounts.ApiKey": {"name": TextKind.LINE},
    "identity.IdentityVerification": {"name": TextKind.LINE, "reason": TextKind.LINES},
    "identity.TotpDevice": {"name": TextKind.LINE},
    "identity.WebAuthnCredential": {"name": TextKind.LINE},
    "signing.Envelope": {"title": TextKind.LINE, "end_reason": TextKind.LINES},
    "signing.Party": {
        "name": TextKind.LINE,
        "email": TextKind.LINE,
        "phone": TextKind.LINE,
        "decline_reason": TextKind.LINES,
    },
    # a field a signer fills: its PDF name and label from the sender, her value (signing.services.filling)
    "signing.SignatureField": {"name": TextKind.LINE, "label": TextKind.LINE, "value": TextKind.LINE},
    "seals.PersonalSignature": {"typed_text": TextKind.LINE},
    "seals.Seal": {
        "name": TextKind.LINE,
        "type_text": TextKind.LINE,
        "code": TextKind.LINE,
        "status_reason": TextKind.LINE,
    },
    "seals.SealGrant": {"note": TextKind.LINE, "revoke_reason": TextKind.LINE},
    "seals.ApprovalRequest": {
        "envelope_title": TextKind.LINE,
        "request_note": TextKind.LINE,
        "decision_reason": TextKind.LINE,
    },
    "seals.SealUsage": {"envelope_title": TextKind.LINE},
    "documents.Document": {"title": TextKind.LINE, "header": TextKind.LINE, "footer": TextKind.LINE},
    # HTML passes documents.sanitizing (nh3) before it is stored; this guard adds the control characters
    "documents.DocumentVersion": {"html": TextKind.LINES},
    "documents.Comment": {"quote": TextKind.LINES, "body": TextKind.LINES},
    "documents.Template": {"title": TextKind.LINE, "description": TextKind.LINES, "html": TextKind.LINES},
    "contracts.ArchiveSettings": {"number_pattern": TextKind.LINE},
    "contracts.Category": {"name": TextKind.LINE},
    "contracts.Tag": {"name": TextKind.LINE},
    "contracts.CustomField": {"key": TextKind.LINE, "label": TextKind.LINE},
    "contracts.Contract": {
        "title": TextKind.LINE,
        "number": TextKind.LINE,
        "archive_number": TextKind.LINE,
        "legal_hold_reason": TextKind.LINE,
    },
    "contracts.ContractFile": {"name": TextKind.LINE, "description": TextKind.LINE},
    "contracts.SavedView": {"name": TextKind.LINE},
}


def guard_user_text(
    sender: type[Model],
    instance: Model,
    raw: bool = False,
    update_fields: frozenset[str] | None = None,
    **kwargs: Any,
) -> None:
    """pre_save: refuse to store user text that no schema or form would have accepted."""
    if raw:  # loaddata restores what was stored, it does not take new input
        return
    for name, kind in USER_TEXT[sender._meta.label].items():
        if update_fields is not None and name not in update_fields:
            continue
        value = getattr(instance, name)
        if not isinstance(value, str) or not value:
            continue
        where = f"{sender.__name__}.{name}"
        problem = text_problem(value, kind)  # stored text is normalised: a CR is refused too
        if problem is not None:
            raise UnsafeText(where, *problem)
        max_length = getattr(sender._meta.get_field(name), "max_length", None)
        if max_length is not None and len(value) > max_length:
            raise UnsafeText(where, f"is longer than {max_length} characters")


def connect_model_guard() -> None:
    """Called once, from AccountsConfig.ready(): accounts is the app every other one builds on."""
    for label in USER_TEXT:
        pre_save.connect(guard_user_text, sender=label, dispatch_uid=f"econtract-user-text-{label}")
