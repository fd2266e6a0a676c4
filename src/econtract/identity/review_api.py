"""API for the methods that need pictures, for operators, and for the person's own data (PIPL).

Thin: identity.review, identity.face, identity.reauth and identity.export hold the verbs; errors are
mapped to HTTP once, in api/urls.py. Answers that carry personal data in full are never cached.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import File, Form, Router, Schema, Status
from ninja.files import UploadedFile
from pydantic import Field

from econtract.api.openapi import responses
from econtract.api.pagination import InvalidCursor, PageQuery, decode_cursor, encode_cursor
from econtract.evidence.services import RequestContext, record_event
from econtract.identity import assurance, export, reauth, review
from econtract.identity.api import VerificationOut, verification_out
from econtract.identity.errors import ImageTooLarge, ReviewNotPermitted
from econtract.identity.face import submit_face_check
from econtract.identity.images import max_image_bytes
from econtract.identity.models import IdentityDocumentImage, IdentityVerification
from econtract.identity.vault import unseal_text
from econtract.textinput import MultiLineText

router = Router(tags=["identity"])

NO_STORE = "no-store, max-age=0"
ID_NUMBER_PURPOSE = "identity.id_number"


class ReauthIn(Schema):
    password: str | None = Field(None, max_length=1024, description="the account's password")
    code: str | None = Field(
        None, max_length=64, description="or a code from the authenticator app, or a recovery code"
    )


class ReauthOut(Schema):
    valid_until: datetime = Field(description="personal data may be revealed or exported until then")


class IdNumberOut(Schema):
    id: UUID
    id_type: str
    id_number: str


class ReviewOut(Schema):
    id: UUID
    status: str
    name: str
    id_type: str
    id_number_masked: str
    created_at: datetime
    images: list[dict[str, str]] = Field(description="kind, id and content_type of each picture")


class RejectIn(Schema):
    reason: MultiLineText = Field(min_length=1, max_length=2000, description="shown to the person")


def _user(request: HttpRequest) -> Any:
    return request.user


def _read(upload: UploadedFile | None, kind: str) -> bytes | None:
    if upload is None:
        return None
    limit = max_image_bytes()
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise ImageTooLarge(f"{kind}: the image is larger than {limit // (1024 * 1024)} MB")
    return data


def _answer(request: HttpRequest, row: IdentityVerification) -> dict[str, Any]:
    user = _user(request)
    user.refresh_from_db(fields=["assurance_level"])
    return verification_out(row, assurance.level_of(user))


@router.post(
    "/me/identity-verifications/manual",
    response=responses({201: VerificationOut}, 400, 401, 409, 413, 415, 422, 429),
)
def submit_manual(
    request: HttpRequest,
    name: Form[str],
    id_type: Form[str],
    id_number: Form[str],
    front: File[UploadedFile],
    selfie: File[UploadedFile],
    back: UploadedFile | None = File(None),  # noqa: B008 (django-ninja's declaration)
) -> Status[dict[str, Any]]:
    """Send the document's front (and back) and a photo of yourself (JPEG or PNG, at most 5 MB each)
    for an operator's review: answers `pending`; an approval establishes L3. Metadata (EXIF, GPS) is
    removed before the pictures are stored, sealed."""
    images = {"front": _read(front, "front"), "selfie": _read(selfie, "selfie"), "back": _read(back, "back")}
    row = review.submit_manual_review(
        _user(request),
        name=name,
        id_type=id_type,
        id_number=id_number,
        images={kind: data for kind, data in images.items() if data is not None},
        context=RequestContext.from_request(request),
    )
    return Status(201, _answer(request, row))


@router.post(
    "/me/identity-verifications/face",
    response=responses({201: VerificationOut}, 400, 401, 409, 413, 415, 422, 429, 503),
)
def submit_face(
    request: HttpRequest,
    name: Form[str],
    id_type: Form[str],
    id_number: Form[str],
    selfie: File[UploadedFile],
) -> Status[dict[str, Any]]:
    """A face check by the identity provider: the photo against the holder of the name and number.
    Answers `verified` (L3) or `rejected`; in the sandbox, the rule of docs/identity.md applies and
    no liveness is claimed."""
    row = submit_face_check(
        _user(request),
        name=name,
        id_type=id_type,
        id_number=id_number,
        selfie=_read(selfie, "selfie") or b"",
        context=RequestContext.from_request(request),
        client=request,
    )
    return Status(201, _answer(request, row))


@router.post("/me/reauthenticate", response=responses({200: ReauthOut}, 400, 401, 403, 409, 422, 429))
def reauthenticate(request: HttpRequest, payload: ReauthIn) -> dict[str, Any]:
    """Confirm it is you (password, or an authenticator/recovery code) before revealing or exporting
    personal data; valid for a few minutes, for this API key or browser session only."""
    until = reauth.reauthenticate(
        request, password=payload.password, code=payload.code, context=RequestContext.from_request(request)
    )
    return {"valid_until": until}


@router.get(
    "/me/identity-verifications/{verification_id}/id-number",
    response=responses({200: IdNumberOut}, 401, 403, 404),
)
def reveal_id_number(request: HttpRequest, verification_id: UUID, response: HttpResponse) -> dict[str, Any]:
    """Your own full ID number, after `POST /api/v1/me/reauthenticate` (403 `reauthentication_required`
    before). Every reveal is recorded."""
    row = IdentityVerification.objects.filter(user=_user(request), pk=verification_id).first()
    if row is None or not row.id_number_sealed:
        raise Http404
    reauth.require_fresh(request)
    number = unseal_text(bytes(row.id_number_sealed), purpose=ID_NUMBER_PURPOSE)
    record_event("id_number_revealed", row, RequestContext.from_request(request), payload={"to": "holder"})
    response["Cache-Control"] = NO_STORE
    return {"id": row.pk, "id_type": row.id_type, "id_number": number}


@router.get("/me/export", response=responses({200: dict[str, Any]}, 401, 403))
def export_data(request: HttpRequest) -> HttpResponse:
    """A copy of all your data as JSON (account, identity verifications with your full ID number,
    certificates, envelopes, evidence events), after `POST /api/v1/me/reauthenticate`. Recorded."""
    reauth.require_fresh(request)
    document = export.export_personal_data(_user(request), context=RequestContext.from_request(request))
    answer = JsonResponse(document, json_dumps_params={"ensure_ascii": False, "indent": 1})
    answer["Cache-Control"] = NO_STORE
    answer["Content-Disposition"] = 'attachment; filename="econtract-my-data.json"'
    return answer


# --- operators -----------------------------------------------------------------------------------


def _review_out(row: IdentityVerification) -> dict[str, Any]:
    return {
        "id": row.pk,
        "status": row.status,
        "name": row.name,
        "id_type": row.id_type,
        "id_number_masked": row.id_number_masked,
        "created_at": row.created_at,
        "images": [
            {"id": str(image.pk), "kind": image.kind, "content_type": image.content_type}
            for image in row.images.order_by("kind")
        ],
    }


def _review(request: HttpRequest, verification_id: UUID) -> IdentityVerification:
    try:
        return review.review_for(_user(request), verification_id)
    except IdentityVerification.DoesNotExist:
        raise Http404 from None


class ReviewPage(Schema):
    items: list[ReviewOut]
    next_cursor: str | None = None


@router.get("/identity-reviews", response=responses({200: ReviewPage}, 400, 401, 403, 422))
def list_reviews(request: HttpRequest, page: PageQuery) -> dict[str, Any]:
    """Operators: manual reviews waiting for a decision, oldest first (keyset on created_at, id)."""
    query = review.pending_reviews(_user(request))
    if page.cursor:
        created, row_id = _review_cursor(page.cursor)
        query = query.filter(Q(created_at__gt=created) | Q(created_at=created, id__gt=row_id))
    rows = list(query[: page.limit + 1])
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    next_cursor = (
        encode_cursor("identity-reviews", [rows[-1].created_at.isoformat(), rows[-1].id.hex])
        if more
        else None
    )
    return {"items": [_review_out(row) for row in rows], "next_cursor": next_cursor}


def _review_cursor(cursor: str) -> tuple[datetime, UUID]:
    created, row_id = decode_cursor("identity-reviews", cursor, 2)
    try:
        parsed = datetime.fromisoformat(str(created))
        if parsed.tzinfo is None:
            raise ValueError("no offset")
        return parsed, UUID(str(row_id))
    except ValueError:
        raise InvalidCursor("the cursor is not valid; use the next_cursor of a previous page") from None


@router.get(
    "/identity-reviews/{verification_id}/images/{image_id}",
    response=responses({}, 401, 403, 404),
    openapi_extra={
        "responses": {
            200: {
                "description": "The picture as stored (re-encoded, without metadata): JPEG or PNG",
                "content": {
                    content_type: {"schema": {"type": "string", "format": "binary"}}
                    for content_type in ("image/jpeg", "image/png")
                },
            }
        }
    },
)
def review_image(request: HttpRequest, verification_id: UUID, image_id: UUID) -> HttpResponse:
    """Operators: one picture (never cached; every look is recorded)."""
    if not review.is_operator(_user(request)):
        raise ReviewNotPermitted("reviewing identity documents is for operators")
    row = _review(request, verification_id)
    try:
        image, data = review.open_image(
            _user(request), row, image_id, context=RequestContext.from_request(request)
        )
    except IdentityDocumentImage.DoesNotExist:
        raise Http404 from None
    return image_response(image.content_type, data, f"{image.kind}.{image.content_type.rsplit('/', 1)[1]}")


@router.post(
    "/identity-reviews/{verification_id}/approve",
    response=responses({200: VerificationOut}, 401, 403, 404, 409),
)
def approve_review(request: HttpRequest, verification_id: UUID) -> dict[str, Any]:
    row = review.approve(
        _user(request), _review(request, verification_id), context=RequestContext.from_request(request)
    )
    return verification_out(row, assurance.level_of(row.user))


@router.post(
    "/identity-reviews/{verification_id}/reject",
    response=responses({200: VerificationOut}, 400, 401, 403, 404, 409, 422),
)
def reject_review(request: HttpRequest, verification_id: UUID, payload: RejectIn) -> dict[str, Any]:
    row = review.reject(
        _user(request),
        _review(request, verification_id),
        reason=payload.reason,
        context=RequestContext.from_request(request),
    )
    return verification_out(row, assurance.level_of(row.user))


def image_response(content_type: str, data: bytes, filename: str) -> HttpResponse:
    """A sealed picture shown to an operator: inline, and stored by no cache or browser history."""
    answer = HttpResponse(data, content_type=content_type)
    answer["Cache-Control"] = NO_STORE
    answer["Pragma"] = "no-cache"
    answer["Content-Disposition"] = f'inline; filename="{filename}"'
    answer["X-Content-Type-Options"] = "nosniff"
    answer["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return answer
