class AccountError(Exception):
    code = "account_error"


class InvalidApiKey(AccountError):
    code = "invalid_api_key"
