"""Domain errors of the contract archive; mapped to HTTP once, in api/errors.py (STATUS_BY_CODE)."""

from __future__ import annotations


class ContractError(Exception):
    code = "contract_error"

    def __init__(self, detail: str = "", *, code: str | None = None) -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code
        if code:
            self.code = code


class InvalidContract(ContractError):
    """Metadata, a number pattern, a category or a file that cannot be accepted."""

    code = "invalid_contract"


class ContractNotPermitted(ContractError):
    """She may see the contract but not do this with it (edit, delete, hold)."""

    code = "not_permitted"


class DeletionBlocked(ContractError):
    """A legal hold or the retention period forbids deleting the contract."""

    code = "deletion_blocked"


class AttachmentTooLarge(ContractError):
    code = "attachment_too_large"
