"""Creating and editing envelopes: specs, validation, stored revisions, authorisation of members and parties."""

from __future__ import annotations

import hashlib
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from econtract.accounts import permissions
from econtract.accounts.models import Membership, Organization, User
from econtract.documents.pdfsafety import inspect_pdf
from econtract.evidence.services import RequestContext, record_event
from econtract.identity.errors import InvalidUscc
from econtract.identity.idnumbers import validate_uscc
from econtract.notifications.errors import InvalidPhone
from econtract.notifications.phone import normalise_phone
from econtract.seals.models import Seal
from econtract.signing.errors import (
    EnvelopeNotEditable,
    InvalidEnvelope,
    NotThisParty,
)
from econtract.signing.models import FILLED_KINDS, DocumentRevision, Envelope, Party, SignatureField
from econtract.signing.services.seal_facts import check_automatic_parties
from econtract.signing.services.willingness import SMS_OTP, clean_min_assurance, clean_willingness
from econtract.textinput import TextKind, UnsafeText, clean_text

logger = logging.getLogger("econtract.signing")

LINK_LIFETIME = timedelta(days=30)
DASHBOARD_LINK_LIFETIME = timedelta(hours=1)
MAX_PARTIES = 50
MAX_FIELDS = 200


MAX_AMOUNT = Decimal(10) ** 18  # exclusive; Envelope.amount holds 20 digits, 2 of them decimals
_CURRENCY = re.compile(r"[A-Z]{3}")
# Smallest boxes: a signature or seal box, and the height of a cross-page seal strip.
MIN_BOX_WIDTH, MIN_BOX_HEIGHT = 20, 10
MIN_CROSS_PAGE_HEIGHT = 20


@dataclass(frozen=True)
class PartySpec:
    name: str
    email: str
    order: int = 1
    phone: str = ""
    min_assurance: str = ""  # "" = the platform's minimum (ECONTRACT_MIN_SIGNING_ASSURANCE)
    willingness: tuple[str, ...] = ()  # () = email_otp only
    kind: str = Party.Kind.PERSON
    organization_uscc: str = ""  # kind organization: the organisation that signs (its seal)
    # kind organization: signed unattended with this seal under the sender's automatic-signing grant
    automatic: bool = False
    seal_id: UUID | None = None


@dataclass(frozen=True)
class FieldSpec:
    """A box for a party. A ``cross_page_seal`` gives only ``y`` and ``height``: it becomes one row
    per page at the right edge (``page``, ``x`` and ``width`` are derived)."""

    party: int  # index into the parties list
    page: int
    x: float
    y: float
    width: float
    height: float
    kind: str = SignatureField.Kind.SIGNATURE
    # the kinds she fills (text, number, checkbox, date_signed): the PDF field name (default
    # <kind>_<party number>_<n>), what the signing page asks, and whether she must fill it
    name: str = ""
    label: str = ""
    required: bool = True


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- creating and editing -------------------------------------------------------------------------


def _store_revision(
    envelope: Envelope, data: bytes, reason: str, *, party: Party | None = None
) -> DocumentRevision:
    # Write, then commit, then sweep: the file is written inside the transaction that inserts its row
    # (holding the envelope's lock, or creating it), so a crash leaves at worst a file without a row,
    # which signing.services.storage removes; never a row without its file.
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("store a revision inside the transaction that commits its row")
    version = 0 if reason == DocumentRevision.Reason.ORIGINAL else envelope.current_version + 1
    revision = DocumentRevision(
        envelope=envelope,
        version=version,
        reason=reason,
        party=party,
        sha256=sha256_hex(data),
        size=len(data),
    )
    revision.file.save(f"v{version}.pdf", ContentFile(data), save=False)
    revision.save()
    envelope.current_version = version
    return revision


def user_text(value: str, what: str, kind: TextKind = TextKind.LINE, max_length: int | None = None) -> str:
    """User text in its accepted form (econtract.textinput), or InvalidEnvelope naming the field."""
    try:
        return clean_text(value or "", kind, field=what, max_length=max_length)
    except UnsafeText as exc:
        raise InvalidEnvelope(str(exc)) from exc


def clean_amount(amount: Decimal | int | str | None, currency: str) -> tuple[Decimal | None, str]:
    """The contract's amount and ISO 4217 currency (seal grants may cap it), or InvalidEnvelope.

    Both or neither: a grant's limit is judged in one currency, never across currencies.
    """
    currency = (currency or "").strip()
    if amount is None or amount == "":
        if currency:
            raise InvalidEnvelope("currency is given without an amount")
        return None, ""
    try:
        value = Decimal(str(amount).strip()) if not isinstance(amount, Decimal) else amount
    except InvalidOperation:
        raise InvalidEnvelope("amount must be a decimal number such as 1250.00") from None
    if not value.is_finite():
        raise InvalidEnvelope("amount must be a finite number")
    if value <= 0:
        raise InvalidEnvelope("amount must be greater than zero")
    if value >= MAX_AMOUNT:
        raise InvalidEnvelope("amount must be less than 10^18")
    if value != value.quantize(Decimal("0.01")):
        raise InvalidEnvelope("amount has at most 2 decimal places")
    if not currency:
        raise InvalidEnvelope("currency (ISO 4217, e.g. CNY) is required with an amount")
    if not _CURRENCY.fullmatch(currency):
        raise InvalidEnvelope("currency must be an ISO 4217 code of 3 upper-case letters, e.g. CNY")
    return value.quantize(Decimal("0.01")), currency


def _page_size(envelope: Envelope, page: int) -> tuple[float, float]:
    llx, lly, urx, ury = envelope.page_sizes[page - 1]
    return urx - llx, ury - lly


def _check_finite(spec: FieldSpec, number: int, names: Sequence[str]) -> None:
    for name in names:
        # NaN passes every comparison below, and PostgreSQL stores it: pades._box cannot.
        if not math.isfinite(getattr(spec, name)):
            raise InvalidEnvelope(f"field {number}: {name} must be a finite number")


def _validate_box(envelope: Envelope, spec: FieldSpec, number: int) -> None:
    _check_finite(spec, number, ("x", "y", "width", "height"))
    if not 1 <= spec.page <= envelope.page_count:
        raise InvalidEnvelope(f"field {number}: page {spec.page} is outside 1..{envelope.page_count}")
    width, height = _page_size(envelope, spec.page)
    checkbox = spec.kind == SignatureField.Kind.CHECKBOX  # its own bounds: _validate_filled
    if not checkbox and (spec.width < MIN_BOX_WIDTH or spec.height < MIN_BOX_HEIGHT):
        raise InvalidEnvelope(
            f"field {number}: a signature box must be at least {MIN_BOX_WIDTH} x {MIN_BOX_HEIGHT} points"
        )
    if spec.x < 0 or spec.y < 0 or spec.x + spec.width > width + 0.5 or spec.y + spec.height > height + 0.5:
        raise InvalidEnvelope(
            f"field {number}: the box lies outside page {spec.page} ({width:.0f} x {height:.0f})"
        )


def _validate_cross_page(envelope: Envelope, spec: FieldSpec, number: int) -> None:
    _check_finite(spec, number, ("y", "height"))
    if spec.height < MIN_CROSS_PAGE_HEIGHT:
        raise InvalidEnvelope(
            f"field {number}: a cross-page seal must be at least {MIN_CROSS_PAGE_HEIGHT} points high"
        )
    for page in range(1, envelope.page_count + 1):
        _, height = _page_size(envelope, page)
        if spec.y < 0 or spec.y + spec.height > height + 0.5:
            raise InvalidEnvelope(
                f"field {number}: the cross-page seal lies outside page {page} (height {height:.0f})"
            )


FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
RESERVED_FIELD_PREFIXES = ("Signature_", "Seal_", "Timestamp", "EvidenceService")


def _validate_kind(spec: FieldSpec, number: int, party: PartySpec) -> None:
    if spec.kind not in SignatureField.Kind.values:
        raise InvalidEnvelope(f"field {number}: kind must be one of {', '.join(SignatureField.Kind.values)}")
    organization = party.kind == Party.Kind.ORGANIZATION
    if spec.kind in FILLED_KINDS:
        if party.automatic and spec.kind != SignatureField.Kind.DATE_SIGNED:
            raise InvalidEnvelope(f"field {number}: an automatic seal fills no {spec.kind} field")
        return
    if organization and spec.kind in (SignatureField.Kind.SIGNATURE, SignatureField.Kind.INITIALS):
        raise InvalidEnvelope(
            f"field {number}: an organisation party signs with its seal: use kind seal or cross_page_seal"
        )
    if not organization and spec.kind not in (SignatureField.Kind.SIGNATURE, SignatureField.Kind.INITIALS):
        raise InvalidEnvelope(f"field {number}: only an organisation party has {spec.kind} fields")


def kinds_for_party(party: PartySpec) -> list[str]:
    """The kinds of box such a party may have, as drawn in an editor (a cross-page seal is a setting
    of the party, not a box): the answer of ``_validate_kind`` itself, so the rules live in one place."""
    allowed = []
    for kind in SignatureField.Kind.values:
        if kind == SignatureField.Kind.CROSS_PAGE_SEAL:
            continue
        try:
            _validate_kind(FieldSpec(party=0, page=1, x=0, y=0, width=0, height=0, kind=kind), 1, party)
        except InvalidEnvelope:
            continue
        allowed.append(kind)
    return allowed


def _validate_filled(spec: FieldSpec, number: int, names: set[str]) -> None:
    if not FIELD_NAME.fullmatch(spec.name) or spec.name.startswith(RESERVED_FIELD_PREFIXES):
        raise InvalidEnvelope(
            f"field {number}: name must be a letter then letters, digits or _ (at most 64), "
            "not starting with Signature_, Seal_ or Timestamp"
        )
    if spec.name in names:
        raise InvalidEnvelope(f"field {number}: the name {spec.name} is used twice")
    names.add(spec.name)
    if spec.kind == SignatureField.Kind.CHECKBOX and not (8 <= spec.width <= 40 and 8 <= spec.height <= 40):
        raise InvalidEnvelope(f"field {number}: a checkbox is 8 to 40 points wide and high")


def _validate_fields(envelope: Envelope, fields: Sequence[FieldSpec], parties: Sequence[PartySpec]) -> None:
    if len(fields) > MAX_FIELDS:
        raise InvalidEnvelope(f"at most {MAX_FIELDS} signature fields")
    cross_page_parties: set[int] = set()
    names: set[str] = set()
    for number, spec in enumerate(fields, start=1):
        if not 0 <= spec.party < len(parties):
            raise InvalidEnvelope(f"field {number}: party index {spec.party} does not exist")
        _validate_kind(spec, number, parties[spec.party])
        if spec.kind in FILLED_KINDS:
            _validate_filled(spec, number, names)
        if spec.kind == SignatureField.Kind.CROSS_PAGE_SEAL:
            # One strip per page, each a slice of one seal: a second set would split nothing.
            if spec.party in cross_page_parties:
                raise InvalidEnvelope(f"field {number}: a party has at most one cross-page seal")
            cross_page_parties.add(spec.party)
            _validate_cross_page(envelope, spec, number)
        else:
            _validate_box(envelope, spec, number)


def named_fields(fields: Sequence[FieldSpec]) -> list[FieldSpec]:
    """The specs with a default name for each filled field that has none (<kind>_<party number>_<n>)."""
    counts: dict[tuple[str, int], int] = {}
    named = []
    for spec in fields:
        if spec.kind in FILLED_KINDS and not spec.name:
            key = (spec.kind, spec.party)
            counts[key] = counts.get(key, 0) + 1
            spec = replace(spec, name=f"{spec.kind}_{spec.party + 1}_{counts[key]}")
        named.append(spec)
    return named


def _field_rows(envelope: Envelope, spec: FieldSpec) -> list[FieldSpec]:
    """The stored rows of one field: itself, or a cross-page seal's strip on every page.

    A strip's ``x`` and ``width`` are provisional, as for a round seal (its width is its height, so a
    strip is height / pages wide at the right edge); signing derives them from the seal itself.
    """
    if spec.kind != SignatureField.Kind.CROSS_PAGE_SEAL:
        return [spec]
    strip = spec.height / max(envelope.page_count, 1)
    return [
        replace(spec, page=page, x=_page_size(envelope, page)[0] - strip, width=strip)
        for page in range(1, envelope.page_count + 1)
    ]


def _clean_party_kind(given: PartySpec, number: int) -> PartySpec:
    """The kind-specific part of a party: an organisation's USCC, an automatic party's seal."""
    if given.kind == Party.Kind.PERSON:
        if given.organization_uscc or given.automatic or given.seal_id is not None:
            raise InvalidEnvelope(
                f"party {number}: organization_uscc, automatic and seal_id belong to organisation parties"
            )
        return given
    if given.kind != Party.Kind.ORGANIZATION:
        raise InvalidEnvelope(f"party {number}: kind must be person or organization")
    try:
        uscc = validate_uscc(given.organization_uscc or "")
    except InvalidUscc as exc:
        raise InvalidEnvelope(f"party {number}: organization_uscc: {exc}") from exc
    if given.automatic and given.seal_id is None:
        raise InvalidEnvelope(f"party {number}: automatic signing names its seal (seal_id)")
    if not given.automatic and given.seal_id is not None:
        raise InvalidEnvelope(
            f"party {number}: seal_id is for automatic parties; a member chooses the seal when signing"
        )
    return replace(given, organization_uscc=uscc)


def _clean_parties(parties: Sequence[PartySpec]) -> list[PartySpec]:
    """The parties with their text in its accepted form, or InvalidEnvelope for the first problem."""
    if len(parties) > MAX_PARTIES:
        raise InvalidEnvelope(f"at most {MAX_PARTIES} parties")
    seen: set[str] = set()
    cleaned = []
    for number, given in enumerate(parties, start=1):
        given = _clean_party_kind(given, number)
        phone = user_text(given.phone, f"party {number} phone", max_length=32)
        if phone:
            try:
                phone = normalise_phone(phone)
            except InvalidPhone as exc:
                raise InvalidEnvelope(f"party {number}: phone: {exc}") from exc
        spec = replace(
            given,
            name=user_text(given.name, f"party {number} name", max_length=200),
            email=user_text(given.email, f"party {number} email", max_length=254).lower(),
            phone=phone,
            min_assurance=clean_min_assurance(given.min_assurance, number=number),
            willingness=clean_willingness(given.willingness, number=number),
        )
        if SMS_OTP in spec.willingness and not spec.phone:
            raise InvalidEnvelope(f"party {number}: an SMS willingness code needs the party's phone")
        cleaned.append(spec)
        if not spec.name:
            raise InvalidEnvelope(f"party {number}: a name is required")
        # An automatic party is signed by the platform: its email, when given, only receives the result.
        if not (spec.automatic and not spec.email) and ("@" not in spec.email or len(spec.email) > 254):
            raise InvalidEnvelope(f"party {number}: a valid email is required")
        if not 1 <= spec.order <= 100:
            raise InvalidEnvelope(f"party {number}: order must be between 1 and 100")
        if spec.email and spec.email in seen:
            raise InvalidEnvelope(f"party {number}: {spec.email} is already a party")
        seen.add(spec.email)
    return cleaned


def create_envelope(
    *,
    organization: Organization,
    created_by: User,
    title: str,
    pdf: bytes,
    parties: Sequence[PartySpec] = (),
    fields: Sequence[FieldSpec] = (),
    deadline: datetime | None = None,
    amount: Decimal | int | str | None = None,
    currency: str = "",
    context: RequestContext,
) -> Envelope:
    """Check the PDF in a sandbox, then store it as revision 0 with parties and fields (a draft).

    ``amount`` and ``currency`` (ISO 4217) state what the contract is worth, so that a seal grant's
    limit can be judged. Automatic parties are checked against the sender's automatic-signing grant.
    """
    title = user_text(title, "title", max_length=300)
    cleaned_amount, currency = clean_amount(amount, currency)
    if not title:
        raise InvalidEnvelope("a title of 1 to 300 characters is required")
    if deadline is not None and deadline <= timezone.now():
        raise InvalidEnvelope("the deadline must be in the future")
    _require_member(organization, created_by)
    parties = _clean_parties(parties)
    inspection = inspect_pdf(pdf)  # raises UnsafePdf before anything is stored
    with transaction.atomic():
        envelope = Envelope(
            organization=organization,
            created_by=created_by,
            title=title,
            deadline=deadline,
            amount=cleaned_amount,
            currency=currency,
            original_sha256=inspection.sha256,
            page_count=inspection.page_count,
            page_sizes=[list(box) for box in inspection.page_boxes],
            page_rotations=list(inspection.page_rotations),
        )
        fields = named_fields(fields)
        _validate_fields(envelope, fields, parties)
        envelope.save()
        _store_revision(envelope, pdf, DocumentRevision.Reason.ORIGINAL)
        envelope.save(update_fields=["current_version"])
        created = _create_parties(envelope, parties)
        _create_fields(envelope, created, fields)
        check_automatic_parties(envelope)
        record_event(
            "created",
            envelope,
            context,
            organization=organization,
            document_sha256=inspection.sha256,
            payload={
                "title": title,
                "pages": inspection.page_count,
                "parties": len(created),
                **({"amount": str(cleaned_amount), "currency": currency} if cleaned_amount else {}),
            },
        )
    return envelope


def _create_parties(envelope: Envelope, parties: Sequence[PartySpec]) -> list[Party]:
    return [
        Party.objects.create(
            envelope=envelope,
            name=spec.name,
            email=spec.email,
            order=spec.order,
            position=position,
            phone=spec.phone,
            min_assurance=spec.min_assurance or clean_min_assurance("", number=position + 1),
            willingness=list(spec.willingness or clean_willingness(None, number=position + 1)),
            kind=spec.kind,
            organization_uscc=spec.organization_uscc,
            automatic_seal=_automatic_seal(envelope, spec, position + 1),
        )
        for position, spec in enumerate(parties)
    ]


def _automatic_seal(envelope: Envelope, spec: PartySpec, number: int) -> Seal | None:
    if not spec.automatic or spec.seal_id is None:
        return None
    seal = Seal.objects.filter(pk=spec.seal_id, organization=envelope.organization).first()
    if seal is None:
        raise InvalidEnvelope(f"party {number}: seal_id is not a seal of the sending organisation")
    return seal


def _create_fields(envelope: Envelope, parties: Sequence[Party], fields: Sequence[FieldSpec]) -> None:
    SignatureField.objects.bulk_create(
        SignatureField(
            envelope=envelope,
            party=parties[row.party],
            kind=row.kind,
            page=row.page,
            x=row.x,
            y=row.y,
            width=row.width,
            height=row.height,
            position=position,
            name=row.name if row.kind in FILLED_KINDS else "",
            label=user_text(row.label, "field label", max_length=200) if row.kind in FILLED_KINDS else "",
            required=row.required if row.kind in FILLED_KINDS else True,
        )
        for position, spec in enumerate(fields)
        for row in _field_rows(envelope, spec)
    )


def replace_recipients(
    envelope: Envelope,
    *,
    parties: Sequence[PartySpec],
    fields: Sequence[FieldSpec],
    user: User,
    context: RequestContext,
) -> Envelope:
    """Set a draft's parties and fields in one step (the web editor saves this way)."""
    permissions.require(user, envelope, permissions.Action.EDIT)
    parties = _clean_parties(parties)
    fields = named_fields(fields)
    _validate_fields(envelope, fields, parties)
    with transaction.atomic():
        envelope = _locked(envelope.pk)
        if envelope.status != Envelope.Status.DRAFT:
            raise EnvelopeNotEditable("only a draft can be edited")
        envelope.fields.all().delete()
        envelope.parties.all().delete()
        created = _create_parties(envelope, parties)
        _create_fields(envelope, created, fields)
        check_automatic_parties(envelope)
        record_event(
            "edited", envelope, context, organization=envelope.organization, payload={"parties": len(created)}
        )
    return envelope


def _locked(envelope_pk: Any) -> Envelope:
    """Re-read the envelope holding its row lock (PostgreSQL; SQLite's IMMEDIATE transaction already
    serialises writers), so concurrent signers, decliners and the sender act on the latest state."""
    return (
        # of=self: lock the envelope only, not the organisation and user rows it joins
        Envelope.objects.select_for_update(of=("self",))
        .select_related("organization", "created_by")
        .get(pk=envelope_pk)
    )


# --- authorisation --------------------------------------------------------------------------------


def _require_member(organization: Organization, user: User) -> Membership:
    membership = Membership.objects.filter(organization=organization, user=user).first()
    if membership is None:
        raise NotThisParty("you are not a member of this organisation")
    return membership


def user_may_act_as(party: Party, user: User) -> bool:
    """Only the user whose verified email is the party's email may sign or decline for her."""
    if not getattr(user, "is_authenticated", False):
        return False
    if party.user_id is not None:
        return party.user_id == user.pk
    return bool(user.email_verified and user.email.lower() == party.email.lower())


def _authorize_party(party: Party, user: User) -> None:
    if not user_may_act_as(party, user):
        raise NotThisParty("only the person this party names may act for it")


def _bind_party_user(party: Party, user: User) -> None:
    if party.user_id is None:
        Party.objects.filter(pk=party.pk, user__isnull=True).update(user=user)
        party.user = user


def _load_party(envelope_id: Any, party_id: Any) -> tuple[Envelope, Party]:
    party = (
        Party.objects.select_related("envelope", "envelope__organization")
        .filter(pk=party_id, envelope_id=envelope_id)
        .first()
    )
    if party is None:
        raise Party.DoesNotExist
    return party.envelope, party


def document_for_download(envelope: Envelope, context: RequestContext) -> DocumentRevision:
    revision = envelope.current_document()
    record_event(
        "downloaded",
        envelope,
        context,
        organization=envelope.organization,
        document_sha256=revision.sha256,
        payload={"version": revision.version},
    )
    return revision
