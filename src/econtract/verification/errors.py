"""Domain errors of the verification app."""


class VerificationError(Exception):
    """Base class: the verifier could not produce a report."""


class UnreadablePdf(VerificationError):
    """The input is not a PDF we can parse (corrupt, truncated, not a PDF, or encrypted with a password)."""


class VerificationLimitExceeded(UnreadablePdf):
    """Verifying the PDF ran out of time or memory in the sandbox: it cannot be judged."""


class VerificationRateLimited(VerificationError):
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, for Retry-After
