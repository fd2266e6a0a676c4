"""Log in with, and verify identity through, an external OpenID Connect provider (docs/identity.md).

The relying party side of the authorization code flow with PKCE (RFC 7636, S256 only), ``state``
against cross-site request forgery and ``nonce`` against ID token replay, through Authlib's requests
client. The ID token is checked here, with joserfc: signature by a key of the provider's JWKS (an
asymmetric algorithm the provider announces), ``iss``, ``aud`` (and ``azp``), ``exp``, ``iat``, ``nonce``.

An (issuer, subject) pair belongs to one account: the link is the account's verified ``oidc``
IdentityVerification with ``provider`` = issuer and ``provider_reference`` = subject, so no table of
its own is needed and revoking that verification also cuts the login. Linking takes a lock on the
(issuer, subject) pair first (``_lock_link``), so two accounts linking it at once cannot both succeed.
An email claim alone never opens an existing account (see ``login_decision``).

What the provider sends (codes, tokens, claims, its error descriptions) is never written to the log.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils.translation import gettext as _
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from econtract.accounts.models import User
from econtract.accounts.services import create_personal_account
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import verification
from econtract.identity.errors import InvalidIdNumber, OidcError
from econtract.identity.idnumbers import IdType, validate_id_number
from econtract.identity.models import IdentityVerification
from econtract.jsoninput import JsonRefused, load_json
from econtract.textinput import UnsafeText, clean_line, one_line

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MAX_DOCUMENT_BYTES = 64 * 1024  # a discovery document, a JWKS or a token response; anything larger is not one
MAX_DOCUMENT_DEPTH = 8
DISCOVERY_CACHE_SECONDS = 300
# A flow not finished within this time is refused: the provider's login page does not take longer.
FLOW_LIFETIME_SECONDS = 600
# Asymmetric only: "none" is never accepted, and an HMAC would be keyed with our client secret.
SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
CLOCK_LEEWAY_SECONDS = 60


class Purpose(enum.StrEnum):
    LOGIN = "login"
    VERIFY = "verify"


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    name_claim: str
    email_claim: str
    id_number_claim: str
    id_type: IdType
    level: str
    login: bool
    label: str
    timeout: float


def config() -> OidcConfig | None:
    """The configured provider, or None when OIDC is off (no issuer or client id)."""
    issuer = settings.ECONTRACT_OIDC_ISSUER
    client_id = settings.ECONTRACT_OIDC_CLIENT_ID
    if not issuer or not client_id:
        return None
    _require_secure(issuer, "ECONTRACT_OIDC_ISSUER")
    try:
        id_type = IdType(settings.ECONTRACT_OIDC_ID_TYPE)
    except ValueError:
        raise ImproperlyConfigured(
            "ECONTRACT_OIDC_ID_TYPE must be one of " + ", ".join(t.value for t in IdType)
        ) from None
    return OidcConfig(
        issuer=issuer,
        client_id=client_id,
        client_secret=settings.ECONTRACT_OIDC_CLIENT_SECRET,
        scopes=settings.ECONTRACT_OIDC_SCOPES,
        name_claim=settings.ECONTRACT_OIDC_NAME_CLAIM,
        email_claim=settings.ECONTRACT_OIDC_EMAIL_CLAIM,
        id_number_claim=settings.ECONTRACT_OIDC_ID_NUMBER_CLAIM,
        id_type=id_type,
        level=settings.ECONTRACT_OIDC_ASSURANCE_LEVEL,
        login=settings.ECONTRACT_OIDC_LOGIN,
        label=settings.ECONTRACT_OIDC_LABEL,
        timeout=float(settings.ECONTRACT_OIDC_TIMEOUT),
    )


def login_enabled() -> bool:
    cfg = config()
    return cfg is not None and cfg.login


def _require_secure(url: str, what: str) -> None:
    parts = urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS):
        raise ImproperlyConfigured(f"{what} must be an https:// URL (http only to localhost): {url}")


# --- the provider's metadata ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    signing_algorithms: tuple[str, ...]
    secret_in_body: bool = False


def discover(cfg: OidcConfig) -> ProviderMetadata:
    """OpenID Connect Discovery 1.0 from ``<issuer>/.well-known/openid-configuration`` (cached briefly)."""
    cache_key = "identity:oidc:discovery:" + cfg.issuer
    document = cache.get(cache_key)
    if not isinstance(document, dict):
        # Discovery §4: the issuer without a trailing "/", then the well-known path.
        url = cfg.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = _get_json(url, cfg, "discovery document")
        cache.set(cache_key, document, DISCOVERY_CACHE_SECONDS)
    # Discovery §4.3: the document must name the issuer it was fetched from, or it is someone else's.
    if document.get("issuer") != cfg.issuer:
        raise OidcError(_("the provider's discovery document names another issuer"))
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or not value:
            raise OidcError(_("the provider's discovery document has no %(name)s") % {"name": name})
        try:
            _require_secure(value, name)
        except ImproperlyConfigured as exc:
            raise OidcError(str(exc)) from None
        endpoints[name] = value
    announced = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(a for a in announced if isinstance(a, str) and a in SIGNING_ALGORITHMS)
    if not algorithms:
        raise OidcError(_("the provider signs ID tokens with no algorithm econtract accepts"))
    methods = document.get("code_challenge_methods_supported")
    if isinstance(methods, list) and "S256" not in methods:
        raise OidcError(_("the provider does not support PKCE with S256"))
    auth_methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return ProviderMetadata(
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        signing_algorithms=algorithms,
        # RFC 8414: basic is the default; a provider that takes the secret only in the body says so
        secret_in_body="client_secret_basic" not in auth_methods and "client_secret_post" in auth_methods,
    )


def _get_json(url: str, cfg: OidcConfig, what: str) -> dict[str, Any]:
    try:
        response = requests.get(
            url,
            timeout=cfg.timeout,
            allow_redirects=False,
            headers={"Accept": "application/json"},
            stream=True,
        )
        content = _read_bounded(response, what)
    except requests.RequestException as exc:
        logger.warning("OIDC provider %s unreachable for its %s: %s", cfg.issuer, what, type(exc).__name__)
        raise OidcError(
            _("the identity provider is unreachable (%(what)s)") % {"what": what}, step=what
        ) from None
    if response.status_code != 200:
        raise OidcError(
            _("the identity provider answered %(status)s for its %(what)s")
            % {"status": response.status_code, "what": what},
            step=what,
        )
    try:
        document = load_json(content, max_bytes=MAX_DOCUMENT_BYTES, max_depth=MAX_DOCUMENT_DEPTH)
    except JsonRefused as exc:
        raise OidcError(
            _("unreadable %(what)s: %(problem)s") % {"what": what, "problem": exc}, step=what
        ) from None
    if not isinstance(document, dict):
        raise OidcError(_("unreadable %(what)s: not a JSON object") % {"what": what}, step=what)
    return document


def _read_bounded(response: requests.Response, what: str) -> bytes:
    """The body of a ``stream=True`` response, read only up to MAX_DOCUMENT_BYTES (after decoding):
    an answer larger than that is refused without being read whole, whatever Content-Length says."""
    try:
        body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
    except Exception as exc:  # urllib3's protocol and decoding errors
        raise requests.ConnectionError(type(exc).__name__) from None
    finally:
        response.close()
    if len(body) > MAX_DOCUMENT_BYTES:
        raise OidcError(
            _("the identity provider's %(what)s is larger than %(limit)s KiB")
            % {"what": what, "limit": MAX_DOCUMENT_BYTES // 1024},
            step=what,
        )
    # what requests would have read: the parsers (response.json(), Authlib's) find it there
    response._content = body
    response._content_consumed = True
    return body


class _BoundedSession(OAuth2Session):
    """Authlib's client, with every answer (the token endpoint's) read through ``_read_bounded``."""

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs["stream"] = True
        response: requests.Response = super().request(method, url, *args, **kwargs)
        _read_bounded(response, "token response")
        return response


# --- the flow ---------------------------------------------------------------------------------------


def begin(
    purpose: Purpose, *, redirect_uri: str, user_id: str = "", next_url: str = ""
) -> tuple[str, dict[str, Any]]:
    """The provider's authorization URL to send the browser to, and the flow state to keep in the
    session until the callback (state, nonce and the PKCE code verifier never leave the server,
    except the verifier's S256 hash)."""
    cfg = _config_or_fail()
    metadata = discover(cfg)
    flow: dict[str, Any] = {
        "purpose": purpose.value,
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        # RFC 7636 §4.1: 43 to 128 characters of [A-Za-z0-9-._~]; 48 random bytes give 64.
        "code_verifier": secrets.token_urlsafe(48),
        "redirect_uri": redirect_uri,
        "user_id": user_id,
        "next": next_url,
        "issuer": cfg.issuer,
        "started_at": time.time(),
    }
    client = _client(cfg, metadata, redirect_uri)
    url, _state = client.create_authorization_url(
        metadata.authorization_endpoint,
        state=flow["state"],
        code_verifier=flow["code_verifier"],
        nonce=flow["nonce"],
    )
    # Authlib adds the challenge only for S256; never send a flow without it.
    if f"code_challenge={create_s256_code_challenge(flow['code_verifier'])}" not in url:
        raise OidcError(_("PKCE code challenge missing from the authorization request"))
    return url, flow


@dataclass(frozen=True, slots=True)
class OidcIdentity:
    """What the provider said, after the ID token was verified."""

    issuer: str
    subject: str
    name: str  # "" when the token carries no (usable) name claim
    email: str
    email_verified: bool
    id_number: str  # normalised, validated; "" when no claim gives one
    problem: str = ""  # why the name or ID number cannot be used, for the person


def finish(flow: Mapping[str, Any] | None, params: Mapping[str, str]) -> OidcIdentity:
    """Check the callback against the flow, redeem the code (sending the PKCE verifier) and verify
    the ID token. ``flow`` is the session's, already removed from it: a callback is used once."""
    cfg = _config_or_fail()
    if not flow:
        raise OidcError(
            _("no sign-in with the identity provider was started from this browser"), step="no flow"
        )
    if flow.get("issuer") != cfg.issuer:
        raise OidcError(_("the sign-in was started with another identity provider"), step="issuer")
    if time.time() - float(flow.get("started_at", 0)) > FLOW_LIFETIME_SECONDS:
        raise OidcError(
            _("the sign-in with the identity provider took too long; please start again"), step="expired"
        )
    state = params.get("state", "")
    if not state or not hmac.compare_digest(state.encode(), str(flow["state"]).encode()):
        raise OidcError(
            _("the answer from the identity provider does not belong to this sign-in (state)"), step="state"
        )
    if params.get("error"):
        # the person gets the provider's error code only; its description is not logged either (it may
        # quote what it was sent)
        error = "".join(c for c in one_line(params["error"])[:64] if c.isalnum() or c in "_-.")
        logger.info("OIDC provider %s refused the authorization: %s", cfg.issuer, error)
        raise OidcError(
            _("the identity provider refused: %(error)s") % {"error": error}, step="authorization refused"
        )
    code = params.get("code", "")
    if not code:
        raise OidcError(_("the identity provider sent no authorization code"), step="no code")
    metadata = discover(cfg)
    client = _client(cfg, metadata, str(flow["redirect_uri"]))
    try:
        token = client.fetch_token(
            metadata.token_endpoint,
            grant_type="authorization_code",
            code=code,
            code_verifier=flow["code_verifier"],
        )
    except OidcError:  # the answer was too large
        raise
    except requests.RequestException as exc:
        logger.warning("OIDC token endpoint of %s unreachable: %s", cfg.issuer, type(exc).__name__)
        raise OidcError(
            _("the identity provider is unreachable (%(what)s)") % {"what": "token endpoint"},
            step="token endpoint",
        ) from None
    except Exception as exc:  # authlib's OAuthError, or a non-JSON answer
        # the error code only: the exception's text carries the provider's description, which may
        # quote the code it was sent
        raw = getattr(exc, "error", "")
        error = "".join(c for c in str(raw)[:64] if c.isalnum() or c in "_-.") or type(exc).__name__
        logger.info("OIDC token request refused by %s: %s", cfg.issuer, error)
        raise OidcError(
            _("the identity provider refused the code: %(error)s") % {"error": error}, step="token refused"
        ) from None
    if not isinstance(token, Mapping):
        raise OidcError(_("the identity provider sent no ID token"), step="token response")
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or not id_token:
        raise OidcError(_("the identity provider sent no ID token"), step="token response")
    claims = verify_id_token(id_token, cfg, metadata, nonce=str(flow["nonce"]))
    return _map_claims(claims, cfg)


def verify_id_token(
    id_token: str, cfg: OidcConfig, metadata: ProviderMetadata, *, nonce: str
) -> dict[str, Any]:
    """The claims of an ID token whose signature, issuer, audience, expiry and nonce check
    (OpenID Connect Core §3.1.3.7), or OidcError."""
    keys = KeySet.import_key_set(_get_json(metadata.jwks_uri, cfg, "key set"))  # type: ignore[arg-type]
    try:
        token = jwt.decode(id_token, keys, algorithms=list(metadata.signing_algorithms))
    except (JoseError, ValueError) as exc:
        raise OidcError(
            _("the ID token's signature does not verify (%(error)s)") % {"error": type(exc).__name__},
            step="id token signature",
        ) from None
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        leeway=CLOCK_LEEWAY_SECONDS,
        iss={"essential": True, "value": cfg.issuer},
        aud={"essential": True, "value": cfg.client_id},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise OidcError(
            _("the ID token was refused: %(error)s")
            % {"error": f"{exc.error} {exc.description or ''}".strip()},
            step="id token claims",
        ) from None
    audience = claims["aud"]
    if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != cfg.client_id:
        raise OidcError(_("the ID token was issued to another party (azp)"), step="id token claims")
    if not isinstance(claims["sub"], str) or not claims["sub"] or len(claims["sub"]) > 200:
        raise OidcError(_("the ID token has no usable subject"), step="id token claims")
    return claims


def _map_claims(claims: Mapping[str, Any], cfg: OidcConfig) -> OidcIdentity:
    problems: list[str] = []
    name = ""
    raw_name = claims.get(cfg.name_claim)
    if isinstance(raw_name, str) and raw_name.strip():
        try:
            name = clean_line(raw_name, field="name", max_length=200)
        except UnsafeText as exc:
            problems.append(
                _("the name claim “%(claim)s” is not usable: %(problem)s")
                % {"claim": cfg.name_claim, "problem": exc.problem}
            )
    else:
        problems.append(
            _("the identity provider gave no name (claim “%(claim)s”)") % {"claim": cfg.name_claim}
        )
    email = ""
    raw_email = claims.get(cfg.email_claim)
    if isinstance(raw_email, str) and len(raw_email) <= 254:
        try:
            email = clean_line(raw_email, field="email", max_length=254).lower()
            validate_email(email)
        except (UnsafeText, ValidationError):
            email = ""
    id_number = ""
    if cfg.id_number_claim and claims.get(cfg.id_number_claim) not in (None, ""):
        try:
            id_number = validate_id_number(cfg.id_type, str(claims[cfg.id_number_claim])).number
        except InvalidIdNumber as exc:
            problems.append(
                _("the ID number from the identity provider is not valid: %(problem)s") % {"problem": exc}
            )
    return OidcIdentity(
        issuer=cfg.issuer,
        subject=str(claims["sub"]),
        name=name,
        email=email,
        # OIDC Core §5.1: a boolean; the string "true" some providers send is not accepted.
        email_verified=claims.get("email_verified") is True and bool(email),
        id_number=id_number,
        problem="; ".join(problems),
    )


def _config_or_fail() -> OidcConfig:
    cfg = config()
    if cfg is None:
        raise OidcError(_("no OpenID Connect provider is configured"))
    return cfg


def _client(cfg: OidcConfig, metadata: ProviderMetadata, redirect_uri: str) -> _BoundedSession:
    if not cfg.client_secret:
        auth_method = "none"
    else:
        auth_method = "client_secret_post" if metadata.secret_in_body else "client_secret_basic"
    return _BoundedSession(
        client_id=cfg.client_id,
        client_secret=cfg.client_secret or None,
        scope=cfg.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method=auth_method,
        default_timeout=cfg.timeout,
    )


# --- what the identity means for accounts ---------------------------------------------------------


def linked_user(issuer: str, subject: str) -> User | None:
    """The account that (issuer, subject) is linked to: its verified, unrevoked oidc verification."""
    link = (
        IdentityVerification.objects.filter(
            method=IdentityVerification.Method.OIDC,
            status=IdentityVerification.Status.VERIFIED,
            provider=issuer,
            provider_reference=subject,
            user__isnull=False,
        )
        .select_related("user")
        .order_by("-verified_at")
        .first()
    )
    return link.user if link is not None else None


class Decision(enum.StrEnum):
    LOG_IN = "log_in"  # the subject is linked to an active account
    CONFIRM_LINK = "confirm_link"  # a logged-in person may link it to her account, after confirming
    CREATE = "create"  # a new account for a verified email nobody uses yet
    EMAIL_IN_USE = "email_in_use"  # refused: log in to that account first, then link
    ACCOUNT_DISABLED = "account_disabled"  # refused: the linked account is deactivated
    EMAIL_UNVERIFIED = "email_unverified"  # refused: no verified email to open an account with
    NO_NAME = "no_name"  # refused: an account needs the verified name
    LINKED_ELSEWHERE = "linked_elsewhere"  # refused: the subject belongs to another account


@dataclass(frozen=True, slots=True)
class LoginDecision:
    decision: Decision
    user: User | None = None


def login_decision(identity: OidcIdentity, current_user: User | None) -> LoginDecision:
    """What a login through the provider may do. Never opens an existing account on an email claim:
    an account is entered only through a link its holder made while logged in to it."""
    linked = linked_user(identity.issuer, identity.subject)
    if linked is not None:
        if current_user is not None and linked.pk != current_user.pk:
            return LoginDecision(Decision.LINKED_ELSEWHERE, linked)
        if not linked.is_active:
            return LoginDecision(Decision.ACCOUNT_DISABLED, linked)
        return LoginDecision(Decision.LOG_IN, linked)
    if identity.problem:
        return LoginDecision(Decision.NO_NAME)
    if current_user is not None:
        return LoginDecision(Decision.CONFIRM_LINK, current_user)
    if identity.email:
        existing = User.objects.filter(email__iexact=identity.email).first()
        if existing is not None:
            return LoginDecision(Decision.EMAIL_IN_USE, existing)
    if not identity.email_verified:
        return LoginDecision(Decision.EMAIL_UNVERIFIED)
    return LoginDecision(Decision.CREATE)


def record_login(user: User, identity: OidcIdentity, context: RequestContext) -> None:
    record_event(
        "oidc_login", user, context, payload={"issuer": identity.issuer, "subject": identity.subject}
    )


def record_refusal(
    user: User | None, reason: str, context: RequestContext, *, issuer: str = "", step: str = ""
) -> None:
    """A refused callback is an audit event on the account concerned; without one, a log line.

    The log line names the issuer and the ``step`` that failed (fixed words, OidcError.step) and never
    ``reason``: the person's message may quote what the provider sent (a claim, an error text)."""
    if user is None:
        logger.warning(
            "OIDC callback refused for an anonymous visitor (issuer %s): %s", issuer or "-", step or "refused"
        )
        return
    record_event("oidc_refused", user, context, payload={"issuer": issuer, "reason": reason[:500]})


@transaction.atomic
def create_account(identity: OidcIdentity, context: RequestContext) -> User:
    """A new account for a provider identity whose verified email no account uses (no password:
    she logs in through the provider, or sets one by the password reset link)."""
    if not identity.email_verified or identity.problem:
        raise OidcError(_("an account needs a verified email and name from the identity provider"))
    user = create_personal_account(identity.email, None, identity.name, email_verified=True, context=context)
    verify_identity(user, identity, context)
    record_event("oidc_linked", user, context, payload=_link_payload(identity, created=True))
    return user


@transaction.atomic
def link_account(user: User, identity: OidcIdentity, context: RequestContext) -> IdentityVerification:
    """Link (issuer, subject) to the logged-in user, who confirmed it; this verifies her identity."""
    record = verify_identity(user, identity, context)
    record_event("oidc_linked", user, context, payload=_link_payload(identity, created=False))
    return record


def _lock_link(issuer: str, subject: str) -> None:
    """Hold the (issuer, subject) pair until the caller's transaction ends, so that whoever links it
    second finds the first link made (no table row is needed, so no unique constraint either).

    PostgreSQL: a transaction-level advisory lock on 64 bits of a hash of the pair (two pairs sharing
    them only wait for each other). SQLite: the IMMEDIATE transaction (settings.DATABASES) holds the
    database write lock from its start already."""
    if connection.vendor != "postgresql":
        return
    digest = hashlib.blake2b(f"econtract.oidc_link\0{issuer}\0{subject}".encode(), digest_size=8).digest()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])


@transaction.atomic
def verify_identity(user: User, identity: OidcIdentity, context: RequestContext) -> IdentityVerification:
    """An ``oidc`` IdentityVerification for ``user``, verified at ECONTRACT_OIDC_ASSURANCE_LEVEL with
    the provider's name (and ID number when a claim gives one); provider = issuer, reference = subject.
    A token without a usable name (or with a malformed ID number) is refused with the reason. The
    pair is locked before it is looked up: of two accounts linking it at once, one gets it."""
    cfg = _config_or_fail()
    if identity.problem:
        raise OidcError(identity.problem, step="claims")
    _lock_link(identity.issuer, identity.subject)
    owner = linked_user(identity.issuer, identity.subject)
    if owner is not None and owner.pk != user.pk:
        raise OidcError(
            _("this identity provider account is already linked to another econtract account"),
            step="linked elsewhere",
        )
    record = verification.create_pending(
        user,
        method=IdentityVerification.Method.OIDC,
        name=identity.name,
        id_type=cfg.id_type.value if identity.id_number else "",
        id_number=identity.id_number,
        context=context,
    )
    return verification.mark_verified(
        record,
        provider=identity.issuer,
        reference=identity.subject,
        outcome="match",
        context=context,
        level=cfg.level,
    )


def _link_payload(identity: OidcIdentity, *, created: bool) -> dict[str, Any]:
    return {
        "issuer": identity.issuer,
        "subject": identity.subject,
        "email": identity.email,
        "email_verified": identity.email_verified,
        "account_created": created,
    }
