"""How many SMS codes may go out: per phone number, per client address and per account, each per hour.

Each limit is a shared atomic counter (`econtract.ratelimit.hit`), counted before deciding so that N
concurrent requests get N distinct counts. A request one limit refuses gives its counts under the
other limits back: someone hammering a victim's number from a throttled address must not use up the
victim's own allowance, nor the victim's account the allowance of the address.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from econtract.client_address import client_address, limit_bucket
from econtract.notifications.errors import SmsRateLimited
from econtract.notifications.phone import normalise_phone
from econtract.ratelimit import hit, release

WINDOW_SECONDS = 3600


def _key(scope: str, value: str) -> str:
    # hashed: the cache (Redis) holds no phone numbers
    return f"sms-code:{scope}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def check_sms_allowance(phone: str, request_or_address: HttpRequest | str, user: Any = None) -> str:
    """Count one SMS code to ``phone``; SmsRateLimited (with retry_after) once any limit is used up.

    Returns the phone number in E.164 (InvalidPhone when it is not one). ``user`` is the account asking
    (None or anonymous: only the phone and address limits apply).
    """
    number = normalise_phone(phone)
    address = (
        request_or_address if isinstance(request_or_address, str) else client_address(request_or_address)
    )
    limits = [
        ("phone", number, settings.ECONTRACT_SMS_CODES_PER_PHONE),
        ("address", limit_bucket(address), settings.ECONTRACT_SMS_CODES_PER_ADDRESS),
    ]
    if user is not None and getattr(user, "is_authenticated", False):
        limits.append(("account", str(user.pk), settings.ECONTRACT_SMS_CODES_PER_ACCOUNT))
    counted = [
        (scope, _key(scope, value), hit(_key(scope, value), limit, WINDOW_SECONDS))
        for scope, value, limit in limits
    ]
    refused = [(scope, result) for scope, _, result in counted if not result.allowed]
    if not refused:
        return number
    for _, key, result in counted:
        if result.allowed:
            release(key)
    scope, result = max(refused, key=lambda item: item[1].retry_after)
    raise SmsRateLimited(
        f"too many SMS codes for this {scope}; try again in {result.retry_after} s",
        scope=scope,
        retry_after=result.retry_after,
    )
