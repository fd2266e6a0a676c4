from __future__ import annotations

import pytest

from econtract.notifications.delivery import outage
from econtract.notifications.tests.smtpserver import SmtpServer


@pytest.fixture(autouse=True)
def no_outage():
    """A test that takes the server down must not leave the next test's first attempts skipped."""
    outage.ended()
    yield
    outage.ended()


@pytest.fixture
def smtp(settings):
    """Mail goes over real SMTP to a local aiosmtpd server that the test scripts (running at start)."""
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.ECONTRACT_MAIL_RETRY_SECONDS = 60
    settings.ECONTRACT_MAIL_MAX_ATTEMPTS = 8
    server.start()
    yield server
    server.stop()
