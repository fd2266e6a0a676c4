"""My signatures (/me/signatures/): draw one on the pad, type one, upload one; choose the default; delete.

Thin: seals.signatures holds the verbs. The pad (static web/signature-pad.js) puts its PNG into a
hidden field as a data: URL; nothing runs inline (the CSP allows only our own scripts).
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from econtract.seals import signatures
from econtract.seals.errors import InvalidSignatureImage
from econtract.seals.models import PersonalSignature
from econtract.seals.signature_images import MAX_BYTES, SignatureImageRefused
from econtract.seals.signatures_api import png_response
from econtract.seals.typed import MAX_CHARACTERS, render_typed
from econtract.web.views.common import request_context

DATA_URL_PREFIX = "data:image/png;base64,"
KINDS = ("drawn", "typed", "uploaded")

REASONS = {
    "not_an_image": gettext_lazy("The file is not a PNG or JPEG image."),
    "too_large": gettext_lazy("The image is too large: at most 5 MB and 6000 pixels a side."),
    "too_small": gettext_lazy("The image is too small."),
    "no_ink": gettext_lazy(
        "No signature was found in the image. Sign in dark ink on light paper, or draw it again."
    ),
    "dark_background": gettext_lazy("The background is too dark: photograph the signature on light paper."),
    "limit": gettext_lazy("You have 10 signatures already: delete one before adding another."),
    "missing_glyph": gettext_lazy("Some characters of this text cannot be written in the handwriting font."),
    "empty_text": gettext_lazy("Type the name to write as your signature."),
    "invalid_text": gettext_lazy("Use a single line of plain text."),
}


def _render(request: HttpRequest, status: int = 200, **extra: Any) -> HttpResponse:
    saved = list(signatures.list_signatures(request.user))
    context: dict[str, Any] = {
        "signatures": saved,
        "max_signatures": signatures.MAX_LIVE_SIGNATURES,
        "max_characters": MAX_CHARACTERS,
        "error": None,
        "error_kind": "",
        "typed_text": "",
    }
    context.update(extra)
    context["at_limit"] = len(saved) >= signatures.MAX_LIVE_SIGNATURES
    return render(request, "web/signatures.html", context, status=status)


def refusal_message(exc: InvalidSignatureImage) -> str:
    reason = getattr(exc, "reason", "")
    if reason in REASONS:
        return str(REASONS[reason])
    return _("The signature cannot be used: %(detail)s") % {"detail": str(exc)}


@login_required
@require_GET
def signatures_page(request: HttpRequest) -> HttpResponse:
    return _render(request)


@login_required
@require_POST
def signature_add(request: HttpRequest) -> HttpResponse:
    kind = request.POST.get("kind", "")
    if kind not in KINDS:
        return _render(request, status=400, error=_("Choose how to make the signature."))
    text = request.POST.get("text", "")
    try:
        image: bytes | None = None
        if kind == "drawn":
            image = _data_url_png(request.POST.get("drawing", ""))
        elif kind == "uploaded":
            upload = request.FILES.get("image")
            if upload is None:
                raise SignatureImageRefused("not_an_image", "no file")
            if upload.size is not None and upload.size > MAX_BYTES:
                raise SignatureImageRefused("too_large", "too large")
            image = upload.read(MAX_BYTES + 1)
        signatures.add_signature(
            request.user,
            kind=kind,
            image=image,
            text=text,
            make_default=bool(request.POST.get("make_default")),
            context=request_context(request),
        )
    except InvalidSignatureImage as exc:
        return _render(request, status=400, error=refusal_message(exc), error_kind=kind, typed_text=text)
    messages.success(request, _("Your signature was saved."))
    return redirect("web:signatures")


@login_required
@require_POST
def signature_default(request: HttpRequest, pk: object) -> HttpResponse:
    try:
        signatures.set_default(request.user, str(pk), context=request_context(request))
    except PersonalSignature.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("Your default signature was changed."))
    return redirect("web:signatures")


@login_required
@require_POST
def signature_delete(request: HttpRequest, pk: object) -> HttpResponse:
    try:
        signatures.delete_signature(request.user, str(pk), context=request_context(request))
    except PersonalSignature.DoesNotExist:
        raise Http404 from None
    messages.success(request, _("The signature was deleted."))
    return redirect("web:signatures")


@login_required
@require_GET
def signature_image(request: HttpRequest, pk: object) -> HttpResponse:
    try:
        return png_response(signatures.own_signature(request.user, str(pk)))
    except PersonalSignature.DoesNotExist:
        raise Http404 from None


@login_required
@require_GET
def signature_preview(request: HttpRequest) -> HttpResponse:
    """The typed signature as it would be stored, for the preview beside the text field (not stored)."""
    try:
        png = render_typed(request.GET.get("text", "")[: MAX_CHARACTERS * 2])
    except InvalidSignatureImage as exc:
        return HttpResponse(refusal_message(exc), status=400, content_type="text/plain; charset=utf-8")
    answer = HttpResponse(png, content_type="image/png")
    answer["Cache-Control"] = "private, max-age=600"
    answer["X-Content-Type-Options"] = "nosniff"
    return answer


def _data_url_png(value: str) -> bytes:
    """The pad's ``data:image/png;base64,…`` as bytes, bounded before it is decoded."""
    if not value.startswith(DATA_URL_PREFIX):
        raise SignatureImageRefused("no_ink", "the pad sent no drawing")
    encoded = value[len(DATA_URL_PREFIX) :]
    if len(encoded) > (MAX_BYTES * 4) // 3 + 4:
        raise SignatureImageRefused("too_large", "the drawing is too large")
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise SignatureImageRefused("not_an_image", "the drawing is not base64") from None
