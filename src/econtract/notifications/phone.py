"""Phone numbers as the platform stores and sends them: E.164 ("+8613800138000")."""

from __future__ import annotations

import re

import phonenumbers

from econtract.notifications.errors import InvalidPhone

DEFAULT_REGION = "CN"  # a number written without a country code is a mainland China number
# The longest sensible way to write a phone number (spaces, dashes, "+86 (0)…"); longer is not parsed.
MAX_INPUT_LENGTH = 40
# Digits (any script's, as phonenumbers reads full-width ones too) and the usual separators; no
# letters, so neither vanity numbers nor an extension ("x12") nor trailing text gets through.
WRITTEN_NUMBER = re.compile(r"\+?[\d\s().\-]+")


# What can receive a text message; US and Canadian numbers do not tell a landline from a mobile.
MOBILE_TYPES = frozenset(
    {
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
        phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    }
)


def normalise_phone(text: object, region: str = DEFAULT_REGION, *, mobile: bool = True) -> str:
    """The E.164 form of ``text``, or InvalidPhone: not a number that can be dialled in its country
    (nor, with ``mobile``, one that can receive a text message: a landline, a toll-free number)."""
    if not isinstance(text, str) or len(text) > MAX_INPUT_LENGTH:
        raise InvalidPhone("not a phone number")
    if not WRITTEN_NUMBER.fullmatch(text.strip()):
        raise InvalidPhone("not a phone number")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone("not a phone number") from exc
    # is_valid_number checks the number plan of its country (length and prefixes), not only the digits
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone("not a valid phone number in its country")
    if mobile and phonenumbers.number_type(number) not in MOBILE_TYPES:
        raise InvalidPhone("not a mobile phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
