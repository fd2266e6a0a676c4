"""A real OpenID Connect provider for the tests, on 127.0.0.1 and a free port, in a thread.

Built from Authlib's framework-independent server classes (no Flask): ``AuthorizationServer``, the
``AuthorizationCodeGrant`` with ``CodeChallenge(required=True)`` (RFC 7636: the token endpoint
recomputes S256 of the verifier and refuses a mismatch) and the ``OpenIDCode`` extension, which signs
the ID token with the provider's RSA key. Consent is automatic for ``provider.user``; what the tests
tamper with (the nonce put in the token, a foreign signing key, the claims) are attributes.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from authlib.common.security import generate_token
from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
    grants,
)
from authlib.oauth2.rfc6750 import BearerTokenGenerator
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc.jwk import KeySet, RSAKey

CLIENT_ID = "econtract-test"
CLIENT_SECRET = "test-client-secret"


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uris: list[str]

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uris[0] if self.redirect_uris else None

    def get_allowed_scope(self, scope):
        allowed = {"openid", "email", "profile"}
        return " ".join(s for s in (scope or "").split() if s in allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret):
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_basic" if endpoint == "token" else True

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type == "authorization_code"


@dataclass
class AuthorizationCode:
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: dict[str, Any]
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    auth_time: int = field(default_factory=lambda: int(time.time()))

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope

    def get_nonce(self):
        return self.nonce

    def get_auth_time(self):
        return self.auth_time

    def get_acr(self):
        return None

    def get_amr(self):
        return None


class _Payload(OAuth2Payload):
    def __init__(self, values: dict[str, list[str]]):
        self._values = values

    @property
    def data(self):
        return {k: v[0] for k, v in self._values.items()}

    @property
    def datalist(self):
        return defaultdict(list, self._values)


class _Request(OAuth2Request):
    def __init__(self, method: str, uri: str, headers: dict[str, str], query: str, body: str):
        super().__init__(method, uri, headers=headers)
        self._args = parse_qs(query, keep_blank_values=True)
        self._form = parse_qs(body, keep_blank_values=True)
        merged = {**self._args, **self._form}
        self.payload = _Payload(merged)

    @property
    def args(self):
        return {k: v[0] for k, v in self._args.items()}

    @property
    def form(self):
        return {k: v[0] for k, v in self._form.items()}


class OidcTestProvider:
    """The provider; ``start()`` serves it, ``stop()`` ends it. ``issuer`` is its base URL."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "provider-key", "use": "sig", "alg": "RS256"})
        self.user: dict[str, Any] = {}
        # what tests change to make a bad answer
        self.nonce_override: str | None = None
        self.forge_with: RSAKey | None = None  # sign ID tokens with this key instead (not in the JWKS)
        self.audience_override: str | None = None
        self.token_extra: dict[str, Any] = {}  # added to a successful token response (e.g. padding)
        self.discovery_extra: dict[str, Any] = {}  # added to the discovery document
        # what tests inspect
        self.authorize_requests: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.token_responses: list[tuple[int, dict[str, Any]]] = []
        self.codes: dict[str, AuthorizationCode] = {}
        self.redirect_uris: list[str] = []
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.issuer = ""
        self.authorization_server = self._build_server()

    # --- life cycle ---------------------------------------------------------------------------------

    def start(self) -> OidcTestProvider:
        class QuietHandler(WSGIRequestHandler):
            def log_message(self, format, *args):  # noqa: A002
                pass

        self._server = make_server("127.0.0.1", 0, self.wsgi, handler_class=QuietHandler)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def reset(self) -> None:
        self.user = {}
        self.nonce_override = None
        self.forge_with = None
        self.audience_override = None
        self.token_extra = {}
        self.discovery_extra = {}
        self.authorize_requests.clear()
        self.token_requests.clear()
        self.token_responses.clear()
        self.codes.clear()

    # --- Authlib server -----------------------------------------------------------------------------

    def _build_server(self) -> AuthorizationServer:
        provider = self

        class Server(AuthorizationServer):
            def query_client(self, client_id):
                if client_id == CLIENT_ID:
                    return Client(CLIENT_ID, CLIENT_SECRET, provider.redirect_uris)
                return None

            def save_token(self, token, request):
                pass

            def send_signal(self, name, *args, **kwargs):
                pass

            def create_oauth2_request(self, request):
                return request

            def create_json_request(self, request):
                return JsonRequest(request.method, request.uri, request.headers)

            def handle_response(self, status, body, headers):
                return status, body, headers

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

            def save_authorization_code(self, code, request):
                data = request.payload.data
                provider.codes[code] = AuthorizationCode(
                    code=code,
                    client_id=request.client.get_client_id(),
                    redirect_uri=data.get("redirect_uri", ""),
                    scope=request.scope,
                    user=dict(request.user),
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code, client):
                found = provider.codes.get(code)
                if found is not None and found.client_id == client.get_client_id():
                    return found
                return None

            def delete_authorization_code(self, authorization_code):
                provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return authorization_code.user

        class IdToken(OpenIDCode):
            def resolve_client_private_key(self, client):
                return provider.forge_with or provider.key

            def get_encode_header(self, client):
                key = provider.forge_with or provider.key
                return {"alg": "RS256", "kid": key.kid}

            def get_client_claims(self, client):
                return {"iss": provider.issuer, "aud": [provider.audience_override or client.get_client_id()]}

            def get_authorization_code_claims(self, authorization_code):
                claims = super().get_authorization_code_claims(authorization_code)
                if provider.nonce_override is not None:
                    claims["nonce"] = provider.nonce_override
                return claims

            def exists_nonce(self, nonce, request):
                return False

            def generate_user_info(self, user, scope):
                return UserInfo(user)

        server = Server(scopes_supported=["openid", "email", "profile"])
        server.register_token_generator(
            "default", BearerTokenGenerator(lambda *args, **kwargs: generate_token(42))
        )
        server.register_grant(CodeGrant, [CodeChallenge(required=True), IdToken(require_nonce=True)])
        return server

    # --- HTTP ---------------------------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            "scopes_supported": ["openid", "email", "profile"],
            **self.discovery_extra,
        }

    def wsgi(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        method = environ["REQUEST_METHOD"]
        query = environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode() if length else ""
        headers = {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        uri = self.issuer + path + ("?" + query if query else "")
        if path == "/.well-known/openid-configuration":
            return _json(start_response, 200, self.discovery())
        if path == "/jwks":
            return _json(start_response, 200, KeySet([self.key]).as_dict(private=False))
        if path == "/authorize" and method == "GET":
            request = _Request(method, uri, headers, query, "")
            self.authorize_requests.append(request.args)
            status, payload, response_headers = self._authorize(request)
            return _respond(start_response, status, payload, response_headers)
        if path == "/token" and method == "POST":
            request = _Request(method, uri, headers, "", body)
            self.token_requests.append(request.form)
            status, payload, response_headers = self.authorization_server.create_token_response(request)
            if status == 200 and isinstance(payload, dict) and self.token_extra:
                payload = {**payload, **self.token_extra}
            self.token_responses.append((status, payload if isinstance(payload, dict) else {}))
            return _respond(start_response, status, payload, response_headers)
        return _json(start_response, 404, {"error": "not_found"})

    def _authorize(self, request: _Request):
        server = self.authorization_server
        try:
            grant = server.get_consent_grant(request=request, end_user=self.user)
        except Exception as error:  # OAuth2Error: answered as the provider would, without a redirect
            return (
                400,
                {"error": getattr(error, "error", "invalid_request")},
                [("Content-Type", "application/json")],
            )
        return server.create_authorization_response(
            request=request, grant_user=self.user or None, grant=grant
        )

    # --- helpers for tests --------------------------------------------------------------------------

    def authorize(self, authorization_url: str) -> tuple[int, str]:
        """What a browser does at the provider: follow our redirect to /authorize, get the redirect
        back to our callback. Returns (status, Location) — Location carries code and state."""
        import requests

        response = requests.get(authorization_url, allow_redirects=False, timeout=10)
        return response.status_code, response.headers.get("Location", "")

    def token_request(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """A raw token request with our client's credentials, as an attacker with a stolen code would."""
        import requests

        response = requests.post(
            self.issuer + "/token", data=form, auth=(CLIENT_ID, CLIENT_SECRET), timeout=10
        )
        return response.status_code, response.json()


def _json(start_response, status: int, payload: dict[str, Any]):
    return _respond(start_response, status, payload, [("Content-Type", "application/json")])


def _respond(start_response, status: int, payload, headers):
    if isinstance(payload, dict):
        payload = json.dumps(payload)
        headers = [h for h in headers if h[0].lower() != "content-type"] + [
            ("Content-Type", "application/json")
        ]
    body = (payload or "").encode()
    reasons = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}
    start_response(
        f"{status} {reasons.get(status, 'Status')}", list(headers) + [("Content-Length", str(len(body)))]
    )
    return [body]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


__all__ = ["CLIENT_ID", "CLIENT_SECRET", "OidcTestProvider", "query_of", "urlencode"]
