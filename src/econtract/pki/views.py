"""Public PKI endpoints: certificates, CRLs, OCSP (RFC 6960 appendix A) and the TSA (RFC 3161 §3.4).

Thin: each view calls one service. None needs a session, so all are CSRF-exempt.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from econtract.pki import services
from econtract.pki.hierarchy import Role, platform_certificate
from econtract.pki.tsa import MAX_REQUEST_BYTES, timestamp_reply_der

CONTENT_TYPE_CERT = "application/pkix-cert"
CONTENT_TYPE_CRL = "application/pkix-crl"
CONTENT_TYPE_OCSP_REQUEST = "application/ocsp-request"
CONTENT_TYPE_OCSP_RESPONSE = "application/ocsp-response"
CONTENT_TYPE_TSQ = "application/timestamp-query"
CONTENT_TYPE_TSR = "application/timestamp-reply"
MAX_OCSP_REQUEST_BYTES = 64 * 1024


def _der(body: bytes, content_type: str, filename: str | None = None) -> HttpResponse:
    response = HttpResponse(body, content_type=content_type)
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _read_limited(request: HttpRequest, limit: int) -> bytes | None:
    """The request body, or None when it is larger than ``limit`` bytes (checked before reading it all)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


def _media_type(request: HttpRequest) -> str:
    return (request.content_type or "").split(";")[0].strip().lower()


@require_GET
def root_pem(request: HttpRequest) -> HttpResponse:
    return _der(services.root_certificate_pem(), "application/x-pem-file", "econtract-root.pem")


@require_GET
def root_der(request: HttpRequest) -> HttpResponse:
    return _der(platform_certificate(Role.ROOT).dump(), CONTENT_TYPE_CERT, "econtract-root.der")


@require_GET
def issuing_der(request: HttpRequest) -> HttpResponse:
    return _der(platform_certificate(Role.ISSUING).dump(), CONTENT_TYPE_CERT, "econtract-issuing.der")


@require_GET
def crl(request: HttpRequest) -> HttpResponse:
    response = _der(services.crl_der(), CONTENT_TYPE_CRL)
    response["Cache-Control"] = "no-cache"  # generated per request: always the current revocations
    return response


@require_GET
def root_crl(request: HttpRequest) -> HttpResponse:
    response = _der(services.arl_der(), CONTENT_TYPE_CRL)
    response["Cache-Control"] = "no-cache"
    return response


def _ocsp_reply(request_der: bytes) -> HttpResponse:
    response = HttpResponse(services.ocsp_response_der(request_der), content_type=CONTENT_TYPE_OCSP_RESPONSE)
    response["Cache-Control"] = "no-cache"
    return response


@csrf_exempt
@require_POST
def ocsp_post(request: HttpRequest) -> HttpResponse:
    body = _read_limited(request, MAX_OCSP_REQUEST_BYTES)
    if body is None:
        return HttpResponse("OCSP request too large\n", status=413, content_type="text/plain")
    # Content-Type is not enforced: a wrong body gets malformedRequest, which is the protocol's answer.
    return _ocsp_reply(body)


@require_GET
def ocsp_get(request: HttpRequest, encoded: str) -> HttpResponse:
    # RFC 6960 A.1: GET {url}/{url-encoding of base-64 encoding of the DER OCSPRequest}. The server has
    # already decoded %XX once; decode again for clients that double-encode, then accept either alphabet.
    text = unquote(encoded).strip().replace(" ", "+").replace("-", "+").replace("_", "/")
    try:
        request_der = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        request_der = b""
    return _ocsp_reply(request_der)


@csrf_exempt
@require_http_methods(["POST"])
def tsa(request: HttpRequest) -> HttpResponse:
    if _media_type(request) != CONTENT_TYPE_TSQ:
        return HttpResponse(
            f"Content-Type must be {CONTENT_TYPE_TSQ}\n", status=415, content_type="text/plain"
        )
    body = _read_limited(request, MAX_REQUEST_BYTES)
    if body is None:
        return HttpResponse("time-stamp request too large\n", status=413, content_type="text/plain")
    return HttpResponse(timestamp_reply_der(body), content_type=CONTENT_TYPE_TSR)
