"""Verified identities for tests, made through the real verification verbs (no provider asked)."""

from __future__ import annotations

from itertools import count
from typing import Any

from stdnum.cn import ric

from econtract.evidence.services import RequestContext
from econtract.identity import verification
from econtract.identity.models import IdentityVerification

# A well-formed mainland ID number (GB 11643 check character) used where the number does not matter.
ANY_ID_NUMBER = "11010519491231002X"
_sequence = count(1)


def fresh_id_number() -> str:
    """Another well-formed mainland number each call: one document is verified for one account only."""
    body = f"11010119800101{next(_sequence) % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum reads the first 17 of 18 characters


def verify_identity(
    user: Any,
    *,
    name: str | None = None,
    level: str = "L2",
    id_type: str = "cn_resident",
    id_number: str | None = None,
    method: str = IdentityVerification.Method.ID_2EL,
) -> Any:
    """Record that ``user`` was verified as ``name`` (default: her full name) at ``level``."""
    pending = verification.create_pending(
        user,
        method=method,
        name=name or user.full_name,
        id_type=id_type,
        id_number=id_number or fresh_id_number(),
        context=RequestContext.system("test fixture"),
    )
    verification.mark_verified(
        pending, provider="test-fixture", level=level, context=RequestContext.system("test fixture")
    )
    user.refresh_from_db()
    return user
