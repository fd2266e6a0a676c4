"""POST /api/v1/verify: anyone may check a signed PDF; nothing is stored."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja import File, Router
from ninja.files import UploadedFile

from econtract.api.errors import error_response
from econtract.api.openapi import responses
from econtract.client_address import client_address
from econtract.verification.platform import verify_pdf_with_platform_roots

router = Router(tags=["verify"])


@router.post("/verify", auth=None, response=responses({200: dict}, 413, 415, 422, 429))
def verify(request: HttpRequest, document: File[UploadedFile]):  # type: ignore[no-untyped-def]
    """Check every signature and document timestamp in an uploaded PDF against the platform's root."""
    data = document.read(settings.ECONTRACT_MAX_UPLOAD_BYTES + 1)
    if len(data) > settings.ECONTRACT_MAX_UPLOAD_BYTES:
        return error_response("too_large", "the file is larger than the upload limit", 413)
    return verify_pdf_with_platform_roots(data, client_address=client_address(request)).to_dict()
