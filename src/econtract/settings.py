"""The one settings module. Every knob is an ECONTRACT_* environment variable; none is required."""

from __future__ import annotations

import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from econtract.settings_parsers import env_bool, env_int, env_list, env_networks, env_path, env_str

BASE_DIR = Path(__file__).resolve().parent

# Embedded default: everything lives under one data directory.
DATA_DIR = env_path("ECONTRACT_DATA_DIR", "./var")
DATA_DIR.mkdir(parents=True, exist_ok=True)
FILES_DIR = DATA_DIR / "files"
OUTBOX_DIR = DATA_DIR / "outbox"

BASE_URL = env_str("ECONTRACT_BASE_URL", "http://127.0.0.1:8000").rstrip("/")


def _load_secret_key() -> str:
    configured = env_str("ECONTRACT_SECRET_KEY")
    if configured:
        return configured
    # Embedded mode: generate once and keep it beside the data (0600), so sessions survive restarts.
    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _load_secret_key()
DEBUG = env_bool("ECONTRACT_DEBUG", False)
ALLOWED_HOSTS = env_list(
    "ECONTRACT_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", urlsplit(BASE_URL).hostname or "127.0.0.1"]
)
CSRF_TRUSTED_ORIGINS = env_list("ECONTRACT_CSRF_TRUSTED_ORIGINS", [BASE_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prose_editor",  # the document editor's built ProseMirror/Tiptap assets (web/document-editor.js)
    "ninja",  # serves Swagger UI's own copy from /static/ninja/ (no CDN: /api/docs works offline)
    "econtract.accounts",
    "econtract.identity",
    "econtract.pki",
    "econtract.seals",
    "econtract.documents",
    "econtract.notifications",
    "econtract.evidence",
    "econtract.signing",
    "econtract.contracts",
    "econtract.verification",
    "econtract.api",
    "econtract.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "econtract.api.limits.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "econtract.accounts.idle.IdleSessionMiddleware",  # an idle session is logged out first
    "econtract.web.mfa.MfaEnrolmentMiddleware",  # a session that must enrol a second factor first
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "econtract.web.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "econtract.urls"
WSGI_APPLICATION = "econtract.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = env_str("ECONTRACT_DATABASE_URL")
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "econtract.sqlite3",
            # IMMEDIATE: a transaction takes the write lock when it begins, so two signers of the
            # same envelope serialise instead of both reading the same PDF revision.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

_redis_url = env_str("ECONTRACT_REDIS_URL")
if _redis_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": _redis_url}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:dashboard"
LOGOUT_REDIRECT_URL = "web:login"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["econtract.formats"]  # one date format per language
TIME_ZONE = env_str("ECONTRACT_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": FILES_DIR}},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("ECONTRACT_SESSION_SECONDS", 8 * 3600)
# A logged-in session unused this long is logged out (0: never); accounts/idle.py.
ECONTRACT_SESSION_IDLE_SECONDS = env_int("ECONTRACT_SESSION_IDLE_SECONDS", 30 * 60)
SESSION_COOKIE_SECURE = BASE_URL.startswith("https://")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# Served over https: browsers must never fall back to http (one year, the usual HSTS lifetime).
SECURE_HSTS_SECONDS = env_int("ECONTRACT_HSTS_SECONDS", 365 * 24 * 3600) if SESSION_COOKIE_SECURE else 0
# Reverse proxies whose X-Forwarded-For (and X-Forwarded-Proto) are believed; see client_address.py.
ECONTRACT_TRUSTED_PROXIES = env_networks("ECONTRACT_TRUSTED_PROXIES")
if ECONTRACT_TRUSTED_PROXIES:
    # Only a proxy that sets this header itself (overwriting the client's) may be listed as trusted.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Uploads: a signing service treats every PDF as hostile.
ECONTRACT_MAX_UPLOAD_BYTES = env_int("ECONTRACT_MAX_UPLOAD_BYTES", 25 * 1024 * 1024)
ECONTRACT_MAX_PDF_PAGES = env_int("ECONTRACT_MAX_PDF_PAGES", 2000)
# contract statuses and expiry reminders (contracts.runner); 0: off, run `econtract manage contracts_tick`
ECONTRACT_CONTRACTS_TICK_SECONDS = env_int("ECONTRACT_CONTRACTS_TICK_SECONDS", 3600)
ECONTRACT_PDF_TIMEOUT_SECONDS = env_int("ECONTRACT_PDF_TIMEOUT_SECONDS", 15)
ECONTRACT_PDF_MEMORY_BYTES = env_int("ECONTRACT_PDF_MEMORY_BYTES", 768 * 1024 * 1024)
# Verification parses PDFs nobody vetted (econtract verify, the public page and API) in a child process.
ECONTRACT_VERIFY_TIMEOUT_SECONDS = env_int("ECONTRACT_VERIFY_TIMEOUT_SECONDS", 30)
ECONTRACT_VERIFY_MEMORY_BYTES = env_int("ECONTRACT_VERIFY_MEMORY_BYTES", 2 * 1024 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = ECONTRACT_MAX_UPLOAD_BYTES + 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# Key custody: the key-encryption key. Production must point this outside the data directory.
ECONTRACT_KEK_FILE = env_str("ECONTRACT_KEK_FILE")
# Transparency log (docs/evidence.md): origin fixed when the log is created; checkpoint period in seconds.
ECONTRACT_LOG_ORIGIN = env_str("ECONTRACT_LOG_ORIGIN")
ECONTRACT_CHECKPOINT_SECONDS = env_int("ECONTRACT_CHECKPOINT_SECONDS", 300)
# Witnesses the log pushes each checkpoint to: comma-separated "URL VERIFIER-KEY" pairs (docs/evidence.md).
ECONTRACT_WITNESSES = env_str("ECONTRACT_WITNESSES")
# A directory each new checkpoint (with its cosignatures) is also written to, for anyone to archive.
ECONTRACT_CHECKPOINT_EXPORT_DIR = env_str("ECONTRACT_CHECKPOINT_EXPORT_DIR")
ECONTRACT_PIN_LOCKOUT_SECONDS = env_int("ECONTRACT_PIN_LOCKOUT_SECONDS", 1800)
ECONTRACT_TSA_URL = env_str("ECONTRACT_TSA_URL")
ECONTRACT_TSA_TRUST_ROOTS = env_list("ECONTRACT_TSA_TRUST_ROOTS")  # PEM files for an external TSA's chain
ECONTRACT_SMTP_URL = env_str("ECONTRACT_SMTP_URL")
ECONTRACT_EMAIL_FROM = env_str("ECONTRACT_EMAIL_FROM", "econtract <no-reply@econtract.local>")
# Mail that the server refuses for now (4xx, unreachable) is retried: 1, 2, 4 … minutes, at most an hour apart.
ECONTRACT_MAIL_MAX_ATTEMPTS = env_int("ECONTRACT_MAIL_MAX_ATTEMPTS", 8)
ECONTRACT_MAIL_RETRY_SECONDS = env_int("ECONTRACT_MAIL_RETRY_SECONDS", 60)
# How often `econtract serve` runs due retries; 0 leaves it to `econtract deliver` (cron).
ECONTRACT_MAIL_POLL_SECONDS = env_int("ECONTRACT_MAIL_POLL_SECONDS", 30)
EMAIL_TIMEOUT = env_int("ECONTRACT_SMTP_TIMEOUT", 15)  # seconds; the first attempt runs in the request
# SMS: unset writes one file per message to $ECONTRACT_DATA_DIR/outbox/sms/; an https URL posts JSON there.
ECONTRACT_SMS_URL = env_str("ECONTRACT_SMS_URL")
ECONTRACT_SMS_KEY = env_str("ECONTRACT_SMS_KEY")  # sent as "Authorization: Bearer <key>"
ECONTRACT_SMS_TIMEOUT = env_int("ECONTRACT_SMS_TIMEOUT", 10)  # seconds; the first attempt runs in the request
# SMS codes per hour: to one phone number, from one client address (IPv6: one /64), for one account.
ECONTRACT_SMS_CODES_PER_PHONE = env_int("ECONTRACT_SMS_CODES_PER_PHONE", 5)
ECONTRACT_SMS_CODES_PER_ADDRESS = env_int("ECONTRACT_SMS_CODES_PER_ADDRESS", 20)
ECONTRACT_SMS_CODES_PER_ACCOUNT = env_int("ECONTRACT_SMS_CODES_PER_ACCOUNT", 10)
# Identity provider (docs/identity.md): unset, the sandbox at BASE_URL/sandbox/idp/ answers from test identities.
ECONTRACT_IDP_URL = env_str("ECONTRACT_IDP_URL")
ECONTRACT_IDP_KEY = env_str("ECONTRACT_IDP_KEY")  # sent as "Authorization: Bearer <key>"
ECONTRACT_IDP_TIMEOUT = env_int("ECONTRACT_IDP_TIMEOUT", 10)  # seconds; no answer in time is "unavailable"
# Second factors (identity.factors): members with these roles in an enterprise must have a TOTP app or
# a passkey; after the password they are led to enrol one. Passkeys use BASE_URL's host as WebAuthn
# relying-party id unless ECONTRACT_WEBAUTHN_RP_ID names a parent domain; an IP address cannot serve.
ECONTRACT_MFA_REQUIRED_ROLES = env_list("ECONTRACT_MFA_REQUIRED_ROLES", ["owner", "admin"])
ECONTRACT_WEBAUTHN_RP_ID = env_str("ECONTRACT_WEBAUTHN_RP_ID")
ECONTRACT_IDP_SANDBOX = env_bool("ECONTRACT_IDP_SANDBOX", not ECONTRACT_IDP_URL)  # serve /sandbox/idp/


def _load_idp_sandbox_key() -> str:
    # Embedded mode: the server's sandbox and its own client share a key generated once (0600).
    path = DATA_DIR / "idp_sandbox_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


ECONTRACT_IDP_SANDBOX_KEY = _load_idp_sandbox_key() if ECONTRACT_IDP_SANDBOX else ""
# Bank for organisation verification by a small transfer: unset writes one JSON file per transfer to
# $ECONTRACT_DATA_DIR/outbox/bank/ (sandbox); an https URL receives the transfer as JSON (accounts.bank).
ECONTRACT_BANK_URL = env_str("ECONTRACT_BANK_URL")
ECONTRACT_BANK_KEY = env_str("ECONTRACT_BANK_KEY")  # sent as "Authorization: Bearer <key>"
ECONTRACT_BANK_TIMEOUT = env_int("ECONTRACT_BANK_TIMEOUT", 10)  # seconds
# Real-name identity (docs/identity.md). No signing certificate below this level: L1 contact, L2 ID
# document checked by a provider, L3 strong. Lowered to L1, certificates name the verified email only.
ECONTRACT_MIN_SIGNING_ASSURANCE = env_str("ECONTRACT_MIN_SIGNING_ASSURANCE", "L2").upper()
if ECONTRACT_MIN_SIGNING_ASSURANCE not in {"L1", "L2", "L3"}:
    raise ImproperlyConfigured("ECONTRACT_MIN_SIGNING_ASSURANCE must be L1, L2 or L3")
# Certificate policy OIDs, one per level: <arc>.1 (L1), <arc>.2 (L2), <arc>.3 (L3). Certificates made
# before levels existed carry <arc>.1 of the default arc: they were issued on a verified email (L1).
ECONTRACT_POLICY_OID_ARC = env_str("ECONTRACT_POLICY_OID_ARC", "1.3.6.1.4.1.55555.1.1")
# Personal data at rest (identity.vault): 32-byte keys, hex or base64, the first seals; unset: from the KEK.
ECONTRACT_PERSONAL_DATA_KEYS = env_str("ECONTRACT_PERSONAL_DATA_KEYS")
ECONTRACT_PERSONAL_DATA_DIGEST_KEY = env_str("ECONTRACT_PERSONAL_DATA_DIGEST_KEY")
# Identity document images (manual review, face check): JPEG/PNG up to this size each, re-encoded.
ECONTRACT_IDENTITY_IMAGE_MAX_BYTES = env_int("ECONTRACT_IDENTITY_IMAGE_MAX_BYTES", 5 * 1024 * 1024)
# After re-entering the password, full ID numbers and the data export are open this long (seconds).
ECONTRACT_REAUTH_SECONDS = env_int("ECONTRACT_REAUTH_SECONDS", 300)
# OpenID Connect provider for login and identity verification (docs/identity.md, "OpenID Connect"):
# off unless ISSUER and CLIENT_ID are set. Code flow with PKCE (S256); redirect URI BASE_URL/oidc/callback/.
ECONTRACT_OIDC_ISSUER = env_str("ECONTRACT_OIDC_ISSUER")  # exactly as the provider spells it; https
ECONTRACT_OIDC_CLIENT_ID = env_str("ECONTRACT_OIDC_CLIENT_ID")
ECONTRACT_OIDC_CLIENT_SECRET = env_str("ECONTRACT_OIDC_CLIENT_SECRET")
ECONTRACT_OIDC_SCOPES = env_str("ECONTRACT_OIDC_SCOPES", "openid email profile")
ECONTRACT_OIDC_NAME_CLAIM = env_str("ECONTRACT_OIDC_NAME_CLAIM", "name")  # the verified name
ECONTRACT_OIDC_EMAIL_CLAIM = env_str("ECONTRACT_OIDC_EMAIL_CLAIM", "email")
ECONTRACT_OIDC_ID_NUMBER_CLAIM = env_str("ECONTRACT_OIDC_ID_NUMBER_CLAIM")  # unset: no ID number is taken
ECONTRACT_OIDC_ID_TYPE = env_str("ECONTRACT_OIDC_ID_TYPE", "cn_resident")  # document type of that number
# The level an identity from this provider establishes: L3 (an eID provider) or L2.
ECONTRACT_OIDC_ASSURANCE_LEVEL = env_str("ECONTRACT_OIDC_ASSURANCE_LEVEL", "L3").upper()
if ECONTRACT_OIDC_ASSURANCE_LEVEL not in {"L2", "L3"}:
    raise ImproperlyConfigured("ECONTRACT_OIDC_ASSURANCE_LEVEL must be L2 or L3")
ECONTRACT_OIDC_LOGIN = env_bool("ECONTRACT_OIDC_LOGIN", True)  # offer "Log in with <label>" when configured
ECONTRACT_OIDC_LABEL = env_str("ECONTRACT_OIDC_LABEL", "OpenID Connect")
ECONTRACT_OIDC_TIMEOUT = env_int("ECONTRACT_OIDC_TIMEOUT", 10)  # seconds, per request to the provider
ECONTRACT_CJK_FONT = env_str("ECONTRACT_CJK_FONT")
# RFC 9106 second recommended option: 64 MiB, 3 passes, 4 lanes. Tests may lower it explicitly.
ECONTRACT_PIN_KDF_MEMORY_KIB = env_int("ECONTRACT_PIN_KDF_MEMORY_KIB", 64 * 1024)
ECONTRACT_PIN_KDF_PASSES = env_int("ECONTRACT_PIN_KDF_PASSES", 3)

if ECONTRACT_SMTP_URL:
    _smtp = urlsplit(ECONTRACT_SMTP_URL)
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _smtp.hostname or "localhost"
    EMAIL_PORT = _smtp.port or (465 if _smtp.scheme == "smtps" else 25)
    EMAIL_HOST_USER = _smtp.username or ""
    EMAIL_HOST_PASSWORD = _smtp.password or ""
    EMAIL_USE_SSL = _smtp.scheme == "smtps"
    EMAIL_USE_TLS = _smtp.scheme == "smtp+starttls"
else:
    EMAIL_BACKEND = "econtract.notifications.outbox.OutboxEmailBackend"
DEFAULT_FROM_EMAIL = ECONTRACT_EMAIL_FROM

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("ECONTRACT_LOG_LEVEL", "WARNING")},
    "loggers": {"econtract": {"level": env_str("ECONTRACT_LOG_LEVEL", "INFO")}},
}
