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
