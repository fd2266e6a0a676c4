"""Refuse oversized request bodies before Django reads them (a signing service sees hostile uploads)."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse

from econtract.api.errors import error_response

_MULTIPART_OVERHEAD = 1024 * 1024


def body_limit() -> int:
    return int(settings.ECONTRACT_MAX_UPLOAD_BYTES) + _MULTIPART_OVERHEAD


class RequestSizeLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return error_response("bad_request", "invalid Content-Length", 400)
        if length > body_limit():
            detail = f"the request is larger than the {settings.ECONTRACT_MAX_UPLOAD_BYTES} byte limit"
            if not request.path.startswith("/api/"):
                return HttpResponse(f"413: {detail}.", status=413, content_type="text/plain; charset=utf-8")
            return error_response("too_large", detail, 413)
        request.upload_handlers.insert(0, BoundedUploadHandler(request))
        return self.get_response(request)


class BoundedUploadHandler(FileUploadHandler):
    """Stops a chunked upload (no Content-Length) as soon as it passes the limit."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > body_limit():
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None
