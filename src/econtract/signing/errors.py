"""Signing domain errors; api/ maps each code to an HTTP status once."""


class SigningError(Exception):
    code = "signing_error"


class InvalidEnvelope(SigningError):
    code = "invalid_envelope"


class EnvelopeNotEditable(SigningError):
    code = "envelope_not_editable"


class EnvelopeClosed(SigningError):
    code = "envelope_closed"


class EnvelopeExpired(EnvelopeClosed):
    code = "envelope_expired"


class NotYourTurn(SigningError):
    code = "not_your_turn"


class AlreadySigned(SigningError):
    code = "already_signed"


class NotThisParty(SigningError):
    code = "not_this_party"


class LinkInvalid(SigningError):
    code = "link_invalid"


class ReminderTooSoon(SigningError):
    code = "reminder_too_soon"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, for Retry-After


class PartyAccessRequired(SigningError):
    """Signing without an account needs a fresh proof of the party's email (and phone) first."""

    code = "party_access_required"


class InvalidSigningRequest(SigningError):
    """A signing request that does not fit the party: no seal named for an organisation party, or a seal
    named for a person (400)."""

    code = "invalid_signing_request"


class FieldRequired(SigningError):
    """A field she must fill (or a box she must tick) was left empty: nothing is signed (400)."""

    code = "field_required"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidFieldValue(SigningError):
    """A value that does not fit its field, or a field that is not hers (400)."""

    code = "invalid_field_value"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
