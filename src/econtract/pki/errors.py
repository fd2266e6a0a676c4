"""PKI domain errors. Each carries a stable ``code`` for the API layer to map once."""

from __future__ import annotations

from datetime import datetime


class PkiError(Exception):
    code = "pki_error"


class PkiNotInitialised(PkiError):
    code = "pki_not_initialised"


class KekError(PkiError):
    """The key-encryption key is missing, unreadable or malformed (a configuration error)."""

    code = "kek_error"


class KekMismatch(PkiError):
    """A sealed value was made under a different key-encryption key than the one configured."""

    code = "kek_mismatch"


class SealError(PkiError):
    """A sealed value failed authentication: corrupted, truncated, or bound to other data."""

    code = "seal_error"


class WeakPin(PkiError):
    code = "weak_pin"


class CurrentPinRequired(PkiError):
    code = "current_pin_required"


class NoSigningKey(PkiError):
    code = "no_signing_key"


class IdentityNotVerified(PkiError):
    """Certificates are issued only to verified identities (DESIGN §3.1)."""

    code = "identity_not_verified"


class WrongPin(PkiError):
    code = "wrong_pin"

    def __init__(self, remaining_attempts: int) -> None:
        super().__init__(f"wrong PIN; {remaining_attempts} attempt(s) left before the key locks")
        self.remaining_attempts = remaining_attempts


class PinLocked(PkiError):
    code = "pin_locked"

    def __init__(self, locked_until: datetime) -> None:
        super().__init__(f"signing key locked until {locked_until.isoformat()}")
        self.locked_until = locked_until


class PinBusy(PkiError):
    """The PIN was not checked: every attempt left is taken by checks still in flight, or this check
    outlived its lease (see ``custody``). Nothing was counted; try again after ``retry_after``."""

    code = "pin_busy"

    def __init__(self, retry_after: int) -> None:
        super().__init__("the PIN cannot be checked right now; try again in a moment")
        self.retry_after = retry_after  # seconds, for Retry-After


class CertificateRevoked(PkiError):
    code = "certificate_revoked"


class CertificateExpired(PkiError):
    code = "certificate_expired"


class UnknownCertificate(PkiError):
    code = "unknown_certificate"


class InvalidRevocationReason(PkiError):
    code = "invalid_revocation_reason"
