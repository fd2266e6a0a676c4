"""A person's own signatures: /api/v1/me/signatures. Thin: seals.signatures holds the verbs.

Every read goes through the caller's own live signatures (``signatures.own_signature``), so another
person's signature id, or a deleted one, is a 404. Adding takes two bodies on one operation, told
apart by Content-Type: multipart/form-data with the picture (``kind`` ``uploaded`` or ``drawn``), or
JSON ``{"kind": "typed", "text": …}``; the OpenAPI document describes both.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from ninja import Router, Schema, Status
from ninja.errors import ValidationError
from pydantic import Field
from pydantic import ValidationError as PydanticValidationError

from econtract.api.errors import error_response
from econtract.api.openapi import json_part_schema, responses
from econtract.evidence.services import RequestContext
from econtract.jsoninput import load_json
from econtract.seals import signatures
from econtract.seals.models import PersonalSignature
from econtract.seals.signature_images import MAX_BYTES, SignatureImageRefused
from econtract.seals.typed import MAX_CHARACTERS
from econtract.textinput import SingleLineText

router = Router(tags=["signatures"])

IMAGE_PATH = "/api/v1/me/signatures/{id}/image"


class SignatureOut(Schema):
    id: UUID
    kind: str = Field(description="drawn, typed or uploaded")
    image_url: str = Field(description="the picture: an RGBA PNG, transparent where there is no ink")
    is_default: bool = Field(description="used for signing unless another is chosen")
    width_px: int
    height_px: int
    sha256: str = Field(description="of the PNG; signing evidence names it")
    typed_text: str = Field(description="the text of a typed signature, else empty")
    created_at: datetime


class SignaturePage(Schema):
    items: list[SignatureOut]
    next_cursor: str | None = Field(None, description="always null: a person has at most 10 signatures")


class TypedIn(Schema):
    kind: Literal["typed"]
    text: SingleLineText = Field(
        min_length=1, max_length=MAX_CHARACTERS, description="the name to write in the handwriting font"
    )
    make_default: bool = False


def _out(signature: PersonalSignature) -> dict[str, Any]:
    return {
        "id": signature.id,
        "kind": signature.kind,
        "image_url": IMAGE_PATH.format(id=signature.id),
        "is_default": signature.is_default,
        "width_px": signature.width_px,
        "height_px": signature.height_px,
        "sha256": signature.sha256,
        "typed_text": signature.typed_text,
        "created_at": signature.created_at,
    }


def _own(request: HttpRequest, signature_id: UUID) -> PersonalSignature:
    try:
        return signatures.own_signature(request.user, signature_id)
    except PersonalSignature.DoesNotExist:
        raise Http404 from None


_MULTIPART_BODY = {
    "type": "object",
    "required": ["image"],
    "properties": {
        "image": {
            "type": "string",
            "format": "binary",
            "description": f"PNG or JPEG, at most {MAX_BYTES // (1024 * 1024)} MB and 6000 px a side",
        },
        "kind": {
            "type": "string",
            "enum": ["uploaded", "drawn"],
            "default": "uploaded",
            "description": "`uploaded`: a scan or photo of a signature on paper (the paper is made "
            "transparent); `drawn`: the signature pad's PNG (strokes on a transparent canvas)",
        },
        "make_default": {"type": "boolean", "default": False},
    },
}


@router.post(
    "/me/signatures",
    response=responses({201: SignatureOut}, 400, 401, 413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {"schema": _MULTIPART_BODY},
                "application/json": {"schema": json_part_schema(TypedIn, "a typed signature")},
            },
        }
    },
)
def add_signature(request: HttpRequest) -> Status[dict[str, Any]] | HttpResponse:
    """Add a signature: an uploaded picture or the pad's drawing (multipart, `image`), or a typed name
    (JSON `{"kind": "typed", "text"}`). The first one becomes the default. At most 10 per person:
    the 11th answers 400 `invalid_signature_image`; so does a picture with no ink in it."""
    content_type = request.content_type or ""
    context = RequestContext.from_request(request)
    if content_type == "multipart/form-data":
        upload = request.FILES.get("image")
        kind = request.POST.get("kind") or PersonalSignature.Kind.UPLOADED
        if kind not in {PersonalSignature.Kind.UPLOADED, PersonalSignature.Kind.DRAWN}:
            raise SignatureImageRefused("not_an_image", "kind must be uploaded or drawn with an image")
        if upload is None:
            raise SignatureImageRefused("not_an_image", "send the picture as the multipart part `image`")
        if upload.size is not None and upload.size > MAX_BYTES:
            return error_response(
                "too_large", f"the image is larger than {MAX_BYTES // (1024 * 1024)} MB", 413
            )
        signature = signatures.add_signature(
            request.user,
            kind=kind,
            image=upload.read(MAX_BYTES + 1),
            make_default=request.POST.get("make_default", "").lower() in {"true", "1", "on"},
            context=context,
        )
    elif content_type == "application/json":
        try:
            payload = TypedIn.model_validate(load_json(request.body))
        except PydanticValidationError as exc:
            raise ValidationError(_schema_errors(exc)) from None
        signature = signatures.add_signature(
            request.user,
            kind=PersonalSignature.Kind.TYPED,
            text=payload.text,
            make_default=payload.make_default,
            context=context,
        )
    else:
        return error_response(
            "unsupported_media_type",
            'send multipart/form-data with `image`, or application/json {"kind": "typed", "text"}',
            415,
        )
    return Status(201, _out(signature))


@router.get("/me/signatures", response=responses({200: SignaturePage}, 401))
def list_signatures(request: HttpRequest) -> dict[str, Any]:
    """The caller's live signatures, the default first, then the newest."""
    return {"items": [_out(row) for row in signatures.list_signatures(request.user)], "next_cursor": None}


@router.get(
    "/me/signatures/{signature_id}/image",
    response=responses({}, 401, 404),
    openapi_extra={
        "responses": {
            200: {
                "description": "The signature: an RGBA PNG trimmed to the ink",
                "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
            }
        }
    },
)
def signature_image(request: HttpRequest, signature_id: UUID) -> HttpResponse:
    return png_response(_own(request, signature_id))


@router.post("/me/signatures/{signature_id}/default", response=responses({200: SignatureOut}, 401, 404))
def make_default(request: HttpRequest, signature_id: UUID) -> dict[str, Any]:
    """Sign with this one unless another is chosen at signing."""
    try:
        signature = signatures.set_default(
            request.user, signature_id, context=RequestContext.from_request(request)
        )
    except PersonalSignature.DoesNotExist:
        raise Http404 from None
    return _out(signature)


@router.delete("/me/signatures/{signature_id}", response=responses({204: None}, 401, 404))
def delete_signature(request: HttpRequest, signature_id: UUID) -> Status[None]:
    """Delete it (it can no longer be chosen; documents signed with it keep it). Deleting the default
    makes the newest remaining one the default."""
    try:
        signatures.delete_signature(request.user, signature_id, context=RequestContext.from_request(request))
    except PersonalSignature.DoesNotExist:
        raise Http404 from None
    return Status(204, None)


def _schema_errors(exc: PydanticValidationError) -> list[dict[str, Any]]:
    """pydantic's errors as ninja gives them for a body it validated itself (api.urls answers 422)."""
    errors = []
    for error in exc.errors(include_url=False):
        shaped: dict[str, Any] = {key: value for key, value in error.items() if key != "input"}
        shaped["loc"] = ("body", *error["loc"])
        context = shaped.get("ctx")
        if isinstance(context, dict) and isinstance(context.get("error"), Exception):
            shaped["ctx"] = {**context, "error": str(context["error"])}
        errors.append(shaped)
    return errors


def png_response(signature: PersonalSignature) -> HttpResponse:
    """The stored PNG, private to its owner's browser: a deleted signature's picture is not served."""
    answer = HttpResponse(bytes(signature.image_png), content_type="image/png")
    answer["Cache-Control"] = "private, max-age=300"
    answer["X-Content-Type-Options"] = "nosniff"
    answer["Content-Disposition"] = f'inline; filename="signature-{signature.id}.png"'
    return answer
