"""What an identity provider is asked and what it answers, whoever the provider is."""

from __future__ import annotations

import base64
import datetime
import enum
from dataclasses import dataclass, field
from typing import Protocol

from econtract.identity.idnumbers import IdType, validate_id_number, validate_uscc


class CheckMethod(enum.StrEnum):
    ID_2EL = "id_2el"  # name + document number
    ID_3EL = "id_3el"  # + the mobile phone registered to the holder
    BANK_4EL = "bank_4el"  # + a bank card in the holder's name and its phone


class Outcome(enum.StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"  # the number exists, but with another name, phone or card
    NOT_FOUND = "not_found"  # the provider knows no such number
    UNAVAILABLE = "unavailable"  # no verdict: unreachable, timed out, refused our key, answered nonsense


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """One question for a provider. The number is checked locally on construction (InvalidIdNumber),
    so a malformed one never costs a provider call, and is kept in its normalised form."""

    method: CheckMethod
    name: str
    id_type: IdType
    id_number: str
    phone: str | None = None  # E.164
    bank_card: str | None = None

    def __post_init__(self) -> None:
        validated = validate_id_number(self.id_type, self.id_number)
        object.__setattr__(self, "id_number", validated.number)
        object.__setattr__(self, "name", self.name.strip())
        if not self.name:
            raise ValueError("an identity check needs the holder's name")
        if self.method in {CheckMethod.ID_3EL, CheckMethod.BANK_4EL} and not self.phone:
            raise ValueError(f"a {self.method} check needs the phone number")
        if self.method is CheckMethod.BANK_4EL and not self.bank_card:
            raise ValueError("a bank_4el check needs the bank card number")

    def as_json(self) -> dict[str, str | None]:
        return {
            "method": str(self.method),
            "name": self.name,
            "id_type": str(self.id_type),
            "id_number": self.id_number,
            "phone": self.phone,
            "bank_card": self.bank_card,
        }


@dataclass(frozen=True, slots=True)
class IdentityCheckResult:
    outcome: Outcome
    provider: str  # who answered: the provider's own name, or the adapter's when it could not ask
    reference: str  # the provider's id for this check ("" when there was no answer)
    checked_at: datetime.datetime
    sandbox: bool  # answered from test identities, not a real register
    detail: str = ""  # why there is no verdict (unavailable only); never names the person


ENTERPRISE_4EL = "enterprise_4el"  # the protocol's method name for an EnterpriseCheck


@dataclass(frozen=True, slots=True)
class EnterpriseCheck:
    """The enterprise 4-element check: the organisation's name and unified social credit code, and
    its legal representative's name and document number, all four registered together. Both numbers
    are checked locally on construction (InvalidUscc, InvalidIdNumber) and kept normalised."""

    name: str
    uscc: str
    legal_rep_name: str
    legal_rep_id_type: IdType
    legal_rep_id_number: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "uscc", validate_uscc(self.uscc))
        validated = validate_id_number(self.legal_rep_id_type, self.legal_rep_id_number)
        object.__setattr__(self, "legal_rep_id_number", validated.number)
        object.__setattr__(self, "name", self.name.strip())
        object.__setattr__(self, "legal_rep_name", self.legal_rep_name.strip())
        if not self.name or not self.legal_rep_name:
            raise ValueError("an enterprise check needs the organisation's and the representative's names")

    def as_json(self) -> dict[str, str | None]:
        return {
            "method": ENTERPRISE_4EL,
            "name": self.name,
            "uscc": self.uscc,
            "legal_representative_name": self.legal_rep_name,
            "legal_representative_id_type": str(self.legal_rep_id_type),
            "legal_representative_id_number": self.legal_rep_id_number,
        }


FACE = "face"  # the protocol's method name for a FaceCheck


@dataclass(frozen=True, slots=True)
class FaceCheck:
    """A face comparison: is the person in ``selfie`` the holder of this name and document number (the
    photo on the register's record)? ``selfie`` is an image already cleaned by identity.images (JPEG or
    PNG, re-encoded, no metadata). The number is checked locally on construction (InvalidIdNumber).
    Liveness (that a living person took the selfie now) is the provider's claim, never the sandbox's."""

    name: str
    id_type: IdType
    id_number: str
    selfie: bytes = field(repr=False)
    content_type: str = "image/jpeg"

    def __post_init__(self) -> None:
        validated = validate_id_number(self.id_type, self.id_number)
        object.__setattr__(self, "id_number", validated.number)
        object.__setattr__(self, "name", self.name.strip())
        if not self.name:
            raise ValueError("a face check needs the holder's name")
        if not self.selfie:
            raise ValueError("a face check needs the selfie")
        if self.content_type not in {"image/jpeg", "image/png"}:
            raise ValueError("the selfie must be a JPEG or PNG image")

    def as_json(self) -> dict[str, str | None]:
        return {
            "method": FACE,
            "name": self.name,
            "id_type": str(self.id_type),
            "id_number": self.id_number,
            "selfie": base64.b64encode(self.selfie).decode(),
            "selfie_content_type": self.content_type,
        }


class IdentityProvider(Protocol):
    name: str

    def check_identity(self, request: IdentityCheck) -> IdentityCheckResult: ...

    def check_enterprise(self, request: EnterpriseCheck) -> IdentityCheckResult: ...

    def check_face(self, request: FaceCheck) -> IdentityCheckResult: ...
