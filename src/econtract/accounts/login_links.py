"""One-time login links by email: the owner's way in while password attempts are throttled.

A link proves control of the account's email address; it stands in for the password only, so the
second factor (step 3) still applies after it. Tokens are 256 random bits, stored only as SHA-256,
valid LINK_LIFETIME, usable once, and bound to the account and the address they were mailed to.
Requests answer the same whether or not an account exists.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from econtract import ratelimit
from econtract.accounts.errors import LoginLinkInvalid, LoginLinkThrottled
from econtract.accounts.models import LoginLink, User
from econtract.client_address import limit_bucket
from econtract.evidence.services import RequestContext, record_event
from econtract.notifications.services import send_email

LINK_LIFETIME = timedelta(minutes=15)
# Per client address: bounds how many inboxes one client can make us write to.
LINK_REQUESTS_PER_ADDRESS = 10
# Per account, silently: past it the answer is the same but nothing is sent (no inbox flooding).
LINK_EMAILS_PER_ACCOUNT = 3
LINK_REQUEST_WINDOW = timedelta(minutes=15)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def admit_emailed_link(
    kind: str,
    email: str,
    address: str,
    *,
    throttled: type[LoginLinkThrottled] = LoginLinkThrottled,
    per_address: int = LINK_REQUESTS_PER_ADDRESS,
    per_account: int = LINK_EMAILS_PER_ACCOUNT,
    window: timedelta = LINK_REQUEST_WINDOW,
) -> User | None:
    """The active account a link of ``kind`` may be mailed to now, or None: the caller answers the same.

    Counts the request per client address (``throttled`` past it) and per account (silently).
    """
    seconds = int(window.total_seconds())
    by_address = ratelimit.hit(f"{kind}:address:{limit_bucket(address)}", per_address, seconds)
    if not by_address.allowed:
        raise throttled(f"too many {kind} requests from this address", by_address.retry_after)
    email = email.strip().lower()
    user = User.objects.filter(email__iexact=email, is_active=True).first()
    if user is None:
        return None
    account = hashlib.sha256(email.encode()).hexdigest()[:32]
    if not ratelimit.allow(f"{kind}:account:{account}", per_account, seconds):
        return None
    return user


def request_login_link(email: str, address: str, context: RequestContext) -> None:
    """Email a login link to ``email`` if it belongs to an active account; otherwise do nothing."""
    user = admit_emailed_link("login-link", email, address)
    if user is None:
        return
    token = secrets.token_urlsafe(32)
    expires_at = timezone.now() + LINK_LIFETIME
    url = f"{settings.BASE_URL}/login/link/{token}"
    with transaction.atomic():
        link = LoginLink.objects.create(
            user=user, email=user.email, token_hash=_token_hash(token), expires_at=expires_at
        )
        record_event(
            "login_link_sent",
            user,
            context,
            payload={"link": str(link.id), "expires_at": expires_at.isoformat()},
        )
        send_email(
            [user.email],
            "Your econtract login link / 登录链接",
            "Open this link to log in to econtract. It works once, within 15 minutes:\n\n"
            f"    {url}\n\n"
            "If you did not ask for it, ignore this message: nobody can use it without your mailbox.\n\n"
            "打开以上链接即可登录 econtract，15 分钟内有效，仅可使用一次。如非本人操作，请忽略此邮件。\n",
            purpose="login_link",
            expires_at=expires_at,  # a link mailed after it expired is useless: dropped instead
        )


def use_login_link(token: str, context: RequestContext) -> User:
    """The account the link logs in; the link is spent. LoginLinkInvalid when unknown, used or old."""
    now = timezone.now()
    with transaction.atomic():
        link = LoginLink.objects.select_related("user").filter(token_hash=_token_hash(token or "")).first()
        if link is None or link.used_at is not None or link.expires_at <= now:
            raise LoginLinkInvalid("this login link is not valid, was already used, or has expired")
        user = link.user
        if not user.is_active or user.email.lower() != link.email.lower():
            raise LoginLinkInvalid("this login link is not valid, was already used, or has expired")
        # The conditional update is the single-use guarantee: of two concurrent uses, one updates a row.
        if not LoginLink.objects.filter(pk=link.pk, used_at__isnull=True).update(used_at=now):
            raise LoginLinkInvalid("this login link is not valid, was already used, or has expired")
        record_event(
            "login_link_used",
            user,
            RequestContext(
                actor=user,
                ip_address=context.ip_address,
                user_agent=context.user_agent,
                label=user.email,
            ),
            payload={"link": str(link.id)},
        )
    return user
