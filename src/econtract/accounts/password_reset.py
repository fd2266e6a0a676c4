"""Password reset by an emailed one-time link: account recovery for an owner who forgot her password.

The token is Django's PasswordResetTokenGenerator HMAC, so nothing about it is stored at all. Its
hash value binds the password hash (any password change, this reset included, spends every link),
last_login (logging in after asking spends it too), the email, and the newest
``password_reset_link_sent`` event of the account (so a newer link voids the older ones). It is
valid RESET_LIFETIME. A reset changes the password only: it does not touch a second factor or the
signing PIN and key, which are recovered only after identity is verified again.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import base36_to_int, urlsafe_base64_decode, urlsafe_base64_encode

from econtract.accounts.errors import PasswordResetLinkInvalid, PasswordResetThrottled
from econtract.accounts.login_links import admit_emailed_link
from econtract.accounts.models import User
from econtract.evidence.models import Event
from econtract.evidence.services import RequestContext, record_event
from econtract.notifications.services import send_email

RESET_LIFETIME = timedelta(minutes=30)
RESET_REQUESTS_PER_ADDRESS = 10
RESET_EMAILS_PER_ACCOUNT = 3
RESET_REQUEST_WINDOW = timedelta(minutes=15)
LINK_SENT = "password_reset_link_sent"


class _ResetTokens(PasswordResetTokenGenerator):
    key_salt = "econtract.accounts.password_reset"

    def _make_hash_value(self, user: User, timestamp: int) -> str:
        newest = Event.objects.for_subject(user).filter(kind=LINK_SENT).values_list("id", flat=True).last()
        return super()._make_hash_value(user, timestamp) + str(newest)

    def check_token(self, user: User | None, token: str | None) -> bool:
        if user is None or not token or not super().check_token(user, token):
            return False
        # Django's own lifetime is the global PASSWORD_RESET_TIMEOUT (days); ours is shorter.
        issued = base36_to_int(token.split("-")[0])
        return self._num_seconds(self._now()) - issued <= RESET_LIFETIME.total_seconds()


tokens = _ResetTokens()


def request_password_reset(email: str, address: str, context: RequestContext) -> None:
    """Email a reset link to ``email`` if it belongs to an active account; otherwise do nothing."""
    user = admit_emailed_link(
        "password-reset",
        email,
        address,
        throttled=PasswordResetThrottled,
        per_address=RESET_REQUESTS_PER_ADDRESS,
        per_account=RESET_EMAILS_PER_ACCOUNT,
        window=RESET_REQUEST_WINDOW,
    )
    if user is None:
        return
    expires_at = timezone.now() + RESET_LIFETIME
    with transaction.atomic():
        # The event first: the token is bound to it, which is what voids the links mailed before.
        record_event(LINK_SENT, user, context, payload={"expires_at": expires_at.isoformat()})
        uid = urlsafe_base64_encode(force_bytes(user.pk))
        url = f"{settings.BASE_URL}/password/reset/{uid}/{tokens.make_token(user)}"
        send_email(
            [user.email],
            "Reset your econtract password / 重置密码",
            "Open this link to choose a new econtract password. It works once, within 30 minutes:\n\n"
            f"    {url}\n\n"
            "If you did not ask for it, ignore this message: your password stays as it is.\n\n"
            "打开以上链接即可设置新的 econtract 密码，30 分钟内有效，仅可使用一次。"
            "如非本人操作，请忽略此邮件，您的密码不会改变。\n",
            purpose="password_reset",
            expires_at=expires_at,
        )


def reset_link_user(uidb64: str, token: str) -> User:
    """The account a valid link resets, without spending it; PasswordResetLinkInvalid otherwise."""
    try:
        pk = force_str(urlsafe_base64_decode(uidb64))
        user = User.objects.filter(pk=pk, is_active=True).first()
    except (ValueError, TypeError, OverflowError, ValidationError):  # a mangled uid or not a UUID
        user = None
    if user is None or not tokens.check_token(user, token):
        raise PasswordResetLinkInvalid("this reset link is not valid, was already used, or has expired")
    return user


def reset_password(uidb64: str, token: str, new_password: str, context: RequestContext) -> User:
    """Set the new password with a valid link, which is spent; every session of the account ends."""
    with transaction.atomic():
        user = reset_link_user(uidb64, token)
        # Lock the row and check again: of two concurrent uses only the first sees the old password hash.
        user = User.objects.select_for_update().get(pk=user.pk)
        if not tokens.check_token(user, token):
            raise PasswordResetLinkInvalid("this reset link is not valid, was already used, or has expired")
        password_validation.validate_password(new_password, user)
        # A new hash changes the session auth hash: every session logged in before is logged out.
        user.set_password(new_password)
        user.save(update_fields=["password"])
        record_event(
            "password_reset",
            user,
            RequestContext(
                actor=user, ip_address=context.ip_address, user_agent=context.user_agent, label=user.email
            ),
        )
        send_email(
            [user.email],
            "Your econtract password was changed / 密码已更改",
            "The password of your econtract account was just changed with a reset link, and every "
            "session logged in before was logged out. Your signing PIN and signing key are unchanged.\n\n"
            "If this was not you, reset your password again at once and tell us.\n\n"
            "您的 econtract 账户密码刚刚通过重置链接更改，此前登录的会话均已退出。签名 PIN 和签名密钥未改变。"
            "如非本人操作，请立即再次重置密码并联系我们。\n",
            purpose="password_changed",
        )
    return user
