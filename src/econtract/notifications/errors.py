"""Refusals of the notifications app that a caller answers (mapped once in api/ and web/)."""

from __future__ import annotations


class NotificationError(Exception):
    code = "notification_error"


class InvalidPhone(NotificationError):
    code = "invalid_phone"


class SmsRateLimited(NotificationError):
    """Too many SMS codes for this phone number, client address or account in the current hour."""

    code = "sms_rate_limited"

    def __init__(self, message: str, *, scope: str, retry_after: int) -> None:
        super().__init__(message)
        self.scope = scope  # "phone", "address" or "account": which limit refused
        self.retry_after = retry_after  # seconds, for Retry-After
