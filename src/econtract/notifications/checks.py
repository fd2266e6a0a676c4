"""Start-up checks of the notification channels (run by every management command, `serve` included)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from econtract.notifications.smsgateway import HttpSmsGateway


def sms_gateway(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    if not settings.ECONTRACT_SMS_URL:
        return []
    try:
        HttpSmsGateway(settings.ECONTRACT_SMS_URL, settings.ECONTRACT_SMS_KEY, settings.ECONTRACT_SMS_TIMEOUT)
    except ImproperlyConfigured as exc:
        # found at start, not at the first code: every text would otherwise wait in the queue
        return [checks.Error(str(exc), id="notifications.E001")]
    if not settings.ECONTRACT_SMS_KEY:
        return [checks.Warning("ECONTRACT_SMS_URL is set without ECONTRACT_SMS_KEY", id="notifications.W001")]
    return []
