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


# --- enterprise organisations (accounts.organizations) ------------------------------------------


class OrganizationNotVerified(AccountError):
    """Seals and organisation certificates need a verified organisation (409)."""

    code = "organization_not_verified"


class OrganizationAlreadyVerified(AccountError):
    code = "organization_already_verified"


class UsccTaken(AccountError):
    """Another organisation with this unified social credit code is verified already (409)."""

    code = "uscc_taken"


class LegalRepresentativeNotVerified(AccountError):
    """No member of the organisation is the legal representative, verified at L2 or above (409)."""

    code = "legal_representative_not_verified"


class BankUnavailable(AccountError):
    code = "bank_unavailable"


class BankAccountNameMismatch(AccountError):
    code = "bank_account_name_mismatch"


class TransferMismatch(AccountError):
    """The amount or code confirmed is not the transfer's; ``remaining_attempts`` before it fails."""

    code = "transfer_mismatch"

    def __init__(self, message: str, remaining_attempts: int) -> None:
        super().__init__(message)
        self.remaining_attempts = remaining_attempts


class OrganizationVerificationNotPending(AccountError):
    code = "organization_verification_not_pending"


class InvalidLicence(AccountError):
    code = "invalid_licence"


class InvalidDepartment(AccountError):
    code = "invalid_department"


class InvitationInvalid(AccountError):
    """Unknown, expired, revoked or already accepted (404)."""

    code = "invitation_invalid"


class InvitationEmailMismatch(AccountError):
    """The invitation was sent to another address than the logged-in account's (403)."""

    code = "invitation_email_mismatch"


class LastOwner(AccountError):
    code = "last_owner"


class NotAnEnterprise(AccountError):
    code = "not_an_enterprise"


class OrganizationVerificationRateLimited(AccountError):
    """Too many verification attempts for this organisation today (429, ``retry_after``)."""

    code = "organization_verification_rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
