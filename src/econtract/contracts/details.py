"""A contract's describing data, checked in one place for every path (API, web, envelope completion).

Each function takes what a user gave (already JSON-decoded) and answers the stored form, or raises
:class:`InvalidContract` naming the field."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from econtract.contracts.errors import InvalidContract
from econtract.contracts.models import Category, Contract, CustomField, Tag
from econtract.textinput import TextKind, UnsafeText, clean_text

MAX_COUNTERPARTIES = 50
MAX_TAGS = 30
MAX_AMOUNT = Decimal("9999999999999999.99")  # 18 digits, 2 after the point
CURRENCY = re.compile(r"[A-Z]{3}")
# The fields a caller may set; anything else is refused by name, so a typo is not silently ignored.
EDITABLE = frozenset(
    {
        "title",
        "number",
        "archive_number",
        "counterparties",
        "amount",
        "currency",
        "signed_at",
        "effective_on",
        "expires_on",
        "department",
        "category",
        "tags",
        "metadata",
    }
)


def _invalid(field: str, detail: str) -> InvalidContract:
    return InvalidContract(f"{field}: {detail}", code="invalid_contract")


def line(value: Any, field: str, max_length: int, *, required: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(field, "must be text")
    try:
        cleaned = clean_text(value, TextKind.LINE, field=field, max_length=max_length)
    except UnsafeText as exc:
        raise InvalidContract(str(exc), code="invalid_text") from exc
    if required and not cleaned:
        raise _invalid(field, "must not be empty")
    return cleaned


def counterparties(value: Any) -> list[dict[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_COUNTERPARTIES:
        raise _invalid("counterparties", f"must be a list of at most {MAX_COUNTERPARTIES} parties")
    result = []
    for number, party in enumerate(value, 1):
        if isinstance(party, str):
            party = {"name": party}
        if not isinstance(party, dict) or set(party) - {"name", "email", "uscc"}:
            raise _invalid("counterparties", f"party {number} must be an object of name, email and uscc")
        entry = {"name": line(party.get("name"), f"counterparties[{number}].name", 200, required=True)}
        email = line(party.get("email"), f"counterparties[{number}].email", 254)
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise _invalid(f"counterparties[{number}].email", "is not an email address") from None
            entry["email"] = email.lower()
        uscc = line(party.get("uscc"), f"counterparties[{number}].uscc", 18).upper()
        if uscc:
            if not re.fullmatch(r"[0-9A-HJ-NP-RTUW-Y]{18}", uscc):
                raise _invalid(
                    f"counterparties[{number}].uscc", "is not an 18-character unified social credit code"
                )
            entry["uscc"] = uscc
        result.append(entry)
    return result


def amount(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise _invalid("amount", "must be a number")
    try:
        # a float arrives from JSON: its shortest repr is what the client wrote
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        raise _invalid("amount", "must be a number") from None
    if not number.is_finite() or number < 0 or number > MAX_AMOUNT:
        raise _invalid("amount", f"must be a finite number from 0 to {MAX_AMOUNT}")
    if number != number.quantize(Decimal("0.01")):
        raise _invalid("amount", "may have at most two decimal places")
    return number.quantize(Decimal("0.01"))


def currency(value: Any) -> str:
    text = line(value, "currency", 3) or "CNY"
    text = text.upper()
    if not CURRENCY.fullmatch(text):
        raise _invalid("currency", "must be a three-letter ISO 4217 code such as CNY, USD or EUR")
    return text


def day(value: Any, field: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if not isinstance(value, str):
        raise _invalid(field, "must be a date YYYY-MM-DD")
    try:
        parsed = dt.date.fromisoformat(value)
    except ValueError:
        raise _invalid(field, "must be a date YYYY-MM-DD") from None
    if not 1900 <= parsed.year <= 2999:
        raise _invalid(field, "must be between the years 1900 and 2999")
    return parsed


def moment(value: Any, field: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            raise _invalid(field, "must be a date and time in ISO 8601") from None
    else:
        raise _invalid(field, "must be a date and time in ISO 8601")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if not 1900 <= parsed.year <= 2999:
        raise _invalid(field, "must be between the years 1900 and 2999")
    return parsed


def category(organization: Any, value: Any) -> Category | None:
    if value in (None, ""):
        return None
    try:
        return Category.objects.for_org(organization).get(pk=str(value))
    except (Category.DoesNotExist, ValidationError, ValueError):
        raise _invalid("category", "no such category in this organisation") from None


def tags(organization: Any, value: Any) -> list[Tag]:
    """Tags by name; a new name makes a new tag of the organisation."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_TAGS:
        raise _invalid("tags", f"must be a list of at most {MAX_TAGS} names")
    names = []
    for item in value:
        name = line(item, "tags", 50, required=True)
        if name not in names:
            names.append(name)
    return [Tag.objects.get_or_create(organization=organization, name=name)[0] for name in names]


def custom_values(organization: Any, value: Any, current: dict[str, Any] | None = None) -> dict[str, Any]:
    """The organisation's custom fields (contracts.CustomField) by key; unknown keys are refused."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise _invalid("metadata", "must be an object of the organisation's custom fields")
    fields = {field.key: field for field in CustomField.objects.for_org(organization)}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise _invalid("metadata", f"no custom field {unknown[0]!r} in this organisation")
    result = dict(current or {})
    for key, given in value.items():
        field = fields[key]
        if given in (None, ""):
            result.pop(key, None)
            continue
        if field.type == CustomField.Type.NUMBER:
            result[key] = (
                str(amount(given)) if not isinstance(given, bool) else _fail(key, "must be a number")
            )
        elif field.type == CustomField.Type.DATE:
            parsed = day(given, f"metadata.{key}")
            result[key] = parsed.isoformat() if parsed else None
        elif field.type == CustomField.Type.CHOICE:
            if given not in field.options:
                raise _invalid(f"metadata.{key}", f"must be one of {', '.join(map(str, field.options))}")
            result[key] = given
        else:
            result[key] = line(given, f"metadata.{key}", 500)
    missing = [key for key, field in fields.items() if field.required and not result.get(key)]
    if missing:
        raise _invalid(f"metadata.{missing[0]}", "is required")
    return result


def _fail(key: str, detail: str) -> Any:
    raise _invalid(f"metadata.{key}", detail)


def check_dates(contract: Contract) -> None:
    if contract.effective_on and contract.expires_on and contract.expires_on < contract.effective_on:
        raise _invalid("expires_on", "is before effective_on")
