"""The fields a signer fills (text, number, checkbox, date signed): her values checked at one place, before
any code or PIN is spent, and turned into what pades.sign_revision writes into her revision."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from econtract.signing.errors import FieldRequired, InvalidFieldValue
from econtract.signing.models import FILLED_KINDS, Party, SignatureField
from econtract.textinput import TextKind, UnsafeText, clean_text

MAX_TEXT = 200  # characters: one line in the box; the PDF field shows what fits
MAX_NUMBER_DIGITS = 30


@dataclass(frozen=True)
class FilledValues:
    text: dict[str, str] = field(default_factory=dict)  # text, number and date_signed fields
    checkboxes: dict[str, bool] = field(default_factory=dict)

    @property
    def stored(self) -> dict[str, str]:
        """As kept on the field rows and in the evidence: checkboxes as "Yes"/"Off" like the PDF."""
        return {**self.text, **{n: "Yes" if v else "Off" for n, v in self.checkboxes.items()}}


def filled_fields(party: Party) -> list[SignatureField]:
    return [f for f in party.fields.order_by("position", "page") if f.kind in FILLED_KINDS]


def _number(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise InvalidFieldValue(f"{name}: a number is given as digits (a string or an integer)", field=name)
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise InvalidFieldValue(f"{name}: not a number", field=name) from exc
    if not number.is_finite() or len(number.as_tuple().digits) > MAX_NUMBER_DIGITS:
        raise InvalidFieldValue(
            f"{name}: not a finite number of at most {MAX_NUMBER_DIGITS} digits", field=name
        )
    return format(number, "f")


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidFieldValue(f"{name}: text is a string", field=name)
    try:
        return clean_text(value, TextKind.LINE, field=name, max_length=MAX_TEXT)
    except UnsafeText as exc:
        raise InvalidFieldValue(str(exc), field=name) from exc


def date_signed_text(moment: datetime) -> str:
    """The date she signs, in the platform's time zone, ISO 8601 (readable in any language)."""
    return timezone.localtime(moment).date().isoformat()


def resolve(
    fields: Sequence[SignatureField], values: Mapping[str, Any], *, signed_at: datetime
) -> FilledValues:
    """Her values for her fields. Unknown names, other parties' fields and bad values are refused;
    a required field left empty is FieldRequired (400 ``field_required``). Date-signed fields are
    filled by the platform, never by her."""
    by_name = {f.name: f for f in fields}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise InvalidFieldValue(f"{unknown[0]}: not one of your fields", field=unknown[0])
    text: dict[str, str] = {}
    checkboxes: dict[str, bool] = {}
    for name, spec in by_name.items():
        given = values.get(name)
        if spec.kind == SignatureField.Kind.DATE_SIGNED:
            if given is not None:
                raise InvalidFieldValue(f"{name}: the date of signing is filled in for you", field=name)
            text[name] = date_signed_text(signed_at)
            continue
        if spec.kind == SignatureField.Kind.CHECKBOX:
            if given is not None and not isinstance(given, bool):
                raise InvalidFieldValue(f"{name}: a checkbox is true or false", field=name)
            if spec.required and given is not True:
                raise FieldRequired(f"{name}: tick this box to sign", field=name)
            checkboxes[name] = bool(given)
            continue
        if given is None or (isinstance(given, str) and not given.strip()):
            if spec.required:
                raise FieldRequired(f"{name}: fill this field to sign", field=name)
            continue
        text[name] = _number(name, given) if spec.kind == SignatureField.Kind.NUMBER else _text(name, given)
    return FilledValues(text=text, checkboxes=checkboxes)


def check_values(party: Party, values: Mapping[str, Any]) -> None:
    """Refuse bad values before codes and PINs are checked (nothing spent on a request that must fail)."""
    resolve(filled_fields(party), values, signed_at=timezone.now())
