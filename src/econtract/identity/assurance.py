"""Assurance levels: how strongly a person's identity is established, and what a certificate may say.

L0 nothing verified; L1 contact verified (email or phone); L2 an identity document checked against a
provider (2 or 3 elements); L3 strong (bank card 4 elements, face, eID/OIDC, an operator's review).

A person's level is the highest level among her verified, unrevoked verifications of her *current*
identity (the newest verified name and document); older verifications of another name no longer
count, so a name change starts over. It is stored on ``User.assurance_level`` by ``refresh``, the
only writer, which also makes the signing certificate follow: re-issued when the verified name or
level changed, revoked when the level fell below the platform's minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings

from econtract.identity.errors import AssuranceRequired
from econtract.identity.models import ASSURANCE_ORDER, AssuranceLevel, IdentityVerification

# Verifications that establish who an account holder is (a signing party's own is bound to her party).
ACCOUNT_PURPOSES = (IdentityVerification.Purpose.IDENTITY, IdentityVerification.Purpose.PIN_RESET)


def _level(value: str) -> AssuranceLevel:
    try:
        return AssuranceLevel(value)
    except ValueError:
        return AssuranceLevel.L0


def meets(level: str, required: str) -> bool:
    return ASSURANCE_ORDER[_level(level)] >= ASSURANCE_ORDER[_level(required)]


def higher(first: str, second: str) -> AssuranceLevel:
    return _level(first) if meets(first, second) else _level(second)


def min_signing_assurance() -> AssuranceLevel:
    return _level(str(getattr(settings, "ECONTRACT_MIN_SIGNING_ASSURANCE", "L2")))


def level_of(user: Any) -> AssuranceLevel:
    if user is None or not getattr(user, "is_authenticated", False):
        return AssuranceLevel.L0
    return _level(getattr(user, "assurance_level", "") or "L0")


def current_identity(user: Any) -> IdentityVerification | None:
    """The newest verified, unrevoked verification of the account holder, if any."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return (
        IdentityVerification.objects.filter(
            user=user, status=IdentityVerification.Status.VERIFIED, purpose__in=ACCOUNT_PURPOSES
        )
        .order_by("-verified_at", "-created_at")
        .first()
    )


def same_identity(first: IdentityVerification, second: IdentityVerification) -> bool:
    """Two verifications of one identity: the same name, and the same document where both name one."""
    if first.name != second.name:
        return False
    if first.id_number_digest and second.id_number_digest:
        return first.id_number_digest == second.id_number_digest
    return True


def verified_level(verification: IdentityVerification | None) -> AssuranceLevel:
    """The level established for ``verification``'s identity by it and every agreeing verification."""
    if verification is None:
        return AssuranceLevel.L0
    level = _level(verification.assurance_level)
    if verification.user_id is None:
        return level
    for other in IdentityVerification.objects.filter(
        user_id=verification.user_id,
        status=IdentityVerification.Status.VERIFIED,
        purpose__in=ACCOUNT_PURPOSES,
    ):
        if same_identity(other, verification):
            level = higher(level, other.assurance_level)
    return level


def computed_level(user: Any) -> AssuranceLevel:
    identity = current_identity(user)
    if identity is not None:
        return verified_level(identity)
    if getattr(user, "email_verified_at", None) or getattr(user, "phone_verified_at", None):
        return AssuranceLevel.L1
    return AssuranceLevel.L0


@dataclass(frozen=True)
class CertificateSubject:
    """What a signing certificate may say about its holder, all of it verified."""

    common_name: str
    country: str  # "CN" for mainland identity documents, "" otherwise
    email: str  # only when the name is not verified (L1): the verified address
    assurance_level: AssuranceLevel


def certificate_subject(user: Any) -> CertificateSubject:
    """The subject for ``user``'s signing certificate; AssuranceRequired below the platform minimum."""
    level = level_of(user)
    minimum = min_signing_assurance()
    if not meets(level, minimum):
        raise AssuranceRequired(
            f"a signing certificate needs identity assurance {minimum}; yours is {level}: verify your "
            "identity first",
            required=str(minimum),
            current=str(level),
        )
    identity = current_identity(user)
    if identity is None:
        # L1 (the minimum lowered to it): nothing but the address was verified, so nothing else is said.
        return CertificateSubject(
            common_name=user.email[:64], country="", email=user.email, assurance_level=AssuranceLevel.L1
        )
    return CertificateSubject(
        common_name=identity.name[:64], country=identity.country, email="", assurance_level=level
    )


def refresh(user: Any) -> AssuranceLevel:
    """Recompute and store the user's level, then make her signing certificate follow it.

    Call outside ``transaction.atomic`` when the certificate may be re-issued (the custody functions
    it calls commit on their own).
    """
    level = computed_level(user)
    if user.assurance_level != level:
        type(user).objects.filter(pk=user.pk).update(assurance_level=str(level))
        user.assurance_level = str(level)
    # pki depends on identity (identity → pki); the certificate step is imported here, not at the top.
    from econtract.pki.custody import follow_identity

    follow_identity(user)
    return level


def summary(user: Any) -> dict[str, Any] | None:
    """The verified identity as shown to its holder and in the API, the ID number masked."""
    identity = current_identity(user)
    if identity is None:
        return None
    return {
        "name": identity.name,
        "id_type": identity.id_type or None,
        "id_number_masked": identity.id_number_masked or None,
        "method": identity.method,
        "verified_at": identity.verified_at,
        "assurance_level": str(level_of(user)),
    }
