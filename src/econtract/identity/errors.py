class IdentityError(Exception):
    code = "identity_error"


class OtpInvalid(IdentityError):
    code = "otp_invalid"

    def __init__(self, message: str, remaining_attempts: int) -> None:
        super().__init__(message)
        self.remaining_attempts = remaining_attempts


class OtpExpired(IdentityError):
    code = "otp_expired"


class OtpMissing(IdentityError):
    code = "otp_required"


class OtpRateLimited(IdentityError):
    code = "otp_rate_limited"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, for Retry-After


class InvalidIdNumber(IdentityError):
    """A document number that cannot be right: refused before any provider is asked."""

    code = "invalid_id_number"


class InvalidUscc(IdentityError):
    """A unified social credit code that fails GB 32100's format or check character."""

    code = "invalid_uscc"
