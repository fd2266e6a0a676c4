"""The public REST API, /api/v1/…, documented at /api/docs (OpenAPI at /api/openapi.json)."""

from __future__ import annotations

from typing import Any, cast

from django.http import Http404, HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.schema import OpenAPISchema

from econtract.accounts.errors import AccountError
from econtract.api.auth import api_auth
from econtract.api.errors import domain_error_response, error_response, with_retry_after
from econtract.api.jsonedge import BoundedJsonParser, FiniteJSONRenderer, json_refused_response
from econtract.api.openapi import document_edge_errors
from econtract.api.pagination import InvalidCursor
from econtract.contracts.api import router as contracts_router
from econtract.contracts.errors import ContractError
from econtract.contracts.models import Category, Contract, ContractFile
from econtract.documents.api import router as documents_router
from econtract.documents.errors import AuthoringError, UnsafePdf
from econtract.documents.models import Comment, Document, DocumentVersion, Template
from econtract.evidence.errors import EvidenceError
from econtract.identity.errors import AssuranceRequired, IdentityError
from econtract.jsoninput import JsonRefused
from econtract.notifications.errors import NotificationError
from econtract.pki.errors import PkiError
from econtract.seals.errors import SealsError
from econtract.seals.models import ApprovalRequest, PersonalSignature, Seal, SealGrant
from econtract.signing.errors import SigningError
from econtract.signing.models import Envelope, Party
from econtract.textinput import UnsafeText
from econtract.verification.errors import UnreadablePdf, VerificationRateLimited


class EcontractApi(NinjaAPI):
    def get_openapi_schema(self, **kwargs: Any) -> OpenAPISchema:
        """ninja's document, plus the error answers the edge gives every operation (api.openapi)."""
        return cast(OpenAPISchema, document_edge_errors(super().get_openapi_schema(**kwargs)))


api = EcontractApi(
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
    ContractError,
    IdentityError,
    PkiError,
    AccountError,
    UnsafePdf,
    InvalidCursor,
    NotificationError,
    SealsError,
    EvidenceError,
    AuthoringError,
):
    api.add_exception_handler(error_type, domain_error_response)


@api.exception_handler(VerificationRateLimited)
def rate_limited(request: HttpRequest, exc: Exception) -> HttpResponse:
    return with_retry_after(error_response("rate_limited", str(exc), 429), exc)


@api.exception_handler(AssuranceRequired)
def assurance_required(request: HttpRequest, exc: AssuranceRequired) -> HttpResponse:
    """Says which level is needed and which the person has, so a client can lead her to verification."""
    return error_response(
        exc.code, str(exc) or exc.code, 409, required=str(exc.required), current=str(exc.current)
    )


@api.exception_handler(UnreadablePdf)
def unreadable_pdf(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response("unreadable_pdf", f"the PDF cannot be read: {exc}", 422)


@api.exception_handler(Http404)
def not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return error_response("not_found", "no such object", 404)


for missing in (
    Envelope.DoesNotExist,
    Contract.DoesNotExist,
    ContractFile.DoesNotExist,
    Category.DoesNotExist,
    Document.DoesNotExist,
    DocumentVersion.DoesNotExist,
    Comment.DoesNotExist,
    Template.DoesNotExist,
    Party.DoesNotExist,
    Seal.DoesNotExist,
    SealGrant.DoesNotExist,
    ApprovalRequest.DoesNotExist,
    PersonalSignature.DoesNotExist,
):
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


@api.exception_handler(MultiPartParserError)
def invalid_multipart(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A multipart body Django cannot split (no boundary, truncated): the API's JSON 400, not Django's
    HTML page and a logged traceback."""
    return error_response("invalid_multipart", f"the multipart/form-data body cannot be read: {exc}", 400)


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
from econtract.accounts.org_api import router as organizations_router  # noqa: E402
from econtract.evidence.api import router as evidence_router  # noqa: E402
from econtract.identity.api import router as identity_router  # noqa: E402
from econtract.identity.factors_api import router as factors_router  # noqa: E402
from econtract.identity.review_api import router as identity_review_router  # noqa: E402
from econtract.notifications.inapp_api import router as notices_router  # noqa: E402
from econtract.seals.api import router as seals_router  # noqa: E402
from econtract.seals.signatures_api import router as signatures_router  # noqa: E402
from econtract.signing.api import router as signing_router  # noqa: E402
from econtract.signing.seal_api import router as seal_use_router  # noqa: E402
from econtract.verification.api import router as verification_router  # noqa: E402

api.add_router("/v1/", signing_router)
api.add_router("/v1/", accounts_router)
api.add_router("/v1/", organizations_router)
api.add_router("/v1/", identity_review_router)
api.add_router("/v1/", identity_router)
api.add_router("/v1/", factors_router)
api.add_router("/v1/", verification_router)
api.add_router("/v1/", signatures_router)
api.add_router("/v1/", seals_router)
api.add_router("/v1/", seal_use_router)
api.add_router("/v1/", evidence_router)
api.add_router("/v1/", documents_router)
api.add_router("/v1/", contracts_router)
api.add_router("/v1/", notices_router)
