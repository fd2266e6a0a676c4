"""Domain errors of the evidence app; api/ maps each code to an HTTP status once."""

from __future__ import annotations


class EvidenceError(Exception):
    code = "evidence_error"


class EvidenceRateLimited(EvidenceError):
    """Reports and packages are signed and timestamped on each request: a few a minute per person."""

    code = "evidence_rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class EvidenceUnavailable(EvidenceError):
    """The report cannot be laid out on this server (WeasyPrint or Pango missing)."""

    code = "evidence_unavailable"
