"""Domain errors of the verification app."""


class VerificationError(Exception):
    """Base class: the verifier could not produce a report."""


class UnreadablePdf(VerificationError):
    """The input is not a PDF we can parse (corrupt, truncated, not a PDF, or encrypted with a password)."""


class VerificationRateLimited(VerificationError):
    code = "rate_limited"
