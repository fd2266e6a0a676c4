"""Contact details as shown to people who may see that they exist but not what they are.

ID numbers have their own rule (identity.idnumbers.mask_id_number).
"""

from __future__ import annotations


def mask_email(email: str) -> str:
    """``z***@example.cn``: the first character and the domain."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(phone: str) -> str:
    """``138****5678``: the first three and last four digits."""
    return f"{phone[:3]}****{phone[-4:]}" if len(phone) > 7 else "***"
