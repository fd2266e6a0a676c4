"""The public REST API, /api/v1/…, documented at /api/docs (OpenAPI at /api/openapi.json)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from econtract.accounts.errors import AccountError
from econtract.api.auth import api_auth
from econtract.api.errors import domain_error_response, error_response, with_retry_after
from econtract.api.jsonedge import BoundedJsonParser, FiniteJSONRenderer, json_refused_response
from econtract.api.pagination import InvalidCursor
from econtract.documents.errors import UnsafePdf
from econtract.identity.errors import IdentityError
from econtract.jsoninput import JsonRefused
from econtract.notifications.errors import NotificationError
from econtract.pki.errors import PkiError
from econtract.signing.errors import SigningError
from econtract.signing.models import Envelope, Party
from econtract.textinput import UnsafeText
from econtract.verification.errors import UnreadablePdf, VerificationRateLimited

api = NinjaAPI(
    title="econtract API",
    version="1",
    description="Envelopes, signing and verification. Authenticate with `Authorization: Bearer <API key>`.",
    urls_namespace="api",
    auth=api_auth,
    docs_url="/docs",
    openapi_url="/openapi.json",
    parser=BoundedJsonParser(),
    renderer=FiniteJSONRenderer(),
)

for error_type in (
    SigningError,
    IdentityError,
    PkiError,
    AccountError,
    UnsafePdf,
    InvalidCursor,
    NotificationError,
):
    api.add_exception_handler(error_type, domain_error_response)


@api.exception_handler(VerificationRateLimited)
def rate_limited(request: HttpRequest, exc: Exception) -> HttpResponse:
    return with_retry_after(error_response("rate_limited", str(exc), 429), exc)


@api.exception_handler(UnreadablePdf)
def unreadable_pdf(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response("unreadable_pdf", f"the PDF cannot be read: {exc}", 422)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response("not_found", "no such object", 404)


for missing in (Envelope.DoesNotExist, Party.DoesNotExist):
    api.add_exception_handler(missing, not_found)


@api.exception_handler(AuthenticationError)
def unauthenticated(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response(
        "unauthenticated", "authenticate with an API key (Authorization: Bearer …) or log in", 401
    )


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    return error_response("invalid_request", "the request does not match the schema", 422, errors=exc.errors)


api.add_exception_handler(JsonRefused, json_refused_response)


@api.exception_handler(UnsafeText)
def unsafe_text(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Text that reached a model without passing a schema: refused by the model guard."""
    return error_response("invalid_text", str(exc), 400)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, JsonRefused):  # ninja wraps whatever the body parser raised
        return json_refused_response(request, exc.__cause__)
    return error_response(getattr(exc, "code", None) or "error", str(exc), exc.status_code)


from econtract.accounts.api import router as accounts_router  # noqa: E402
from econtract.signing.api import router as signing_router  # noqa: E402
from econtract.verification.api import router as verification_router  # noqa: E402

api.add_router("/v1/", signing_router)
api.add_router("/v1/", accounts_router)
api.add_router("/v1/", verification_router)
