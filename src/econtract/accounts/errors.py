class AccountError(Exception):
    code = "account_error"


class InvalidApiKey(AccountError):
    code = "invalid_api_key"


class LoginThrottled(AccountError):
    """Too many failed passwords for this account or from this address; ``retry_after`` in seconds."""

    code = "login_throttled"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginLinkThrottled(AccountError):
    code = "login_link_throttled"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginLinkInvalid(AccountError):
    code = "login_link_invalid"


class NotPermitted(AccountError):
    """The caller's role in the organisation does not allow this action on this object."""

    code = "not_permitted"


class PasswordResetThrottled(LoginLinkThrottled):
    code = "password_reset_throttled"


class PasswordResetLinkInvalid(AccountError):
    code = "password_reset_link_invalid"
