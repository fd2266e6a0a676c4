"""Manual review: a person sends pictures of her identity document and of herself; an operator decides.

The verbs, called alike by the web UI and the API:

- ``submit_manual_review`` checks the document number locally (identity.idnumbers), cleans every
  image (identity.images: JPEG/PNG only, bounded, re-encoded without metadata), then opens a pending
  ``manual`` verification (identity.verification.create_pending) and seals the images to it
  (identity.vault, purpose ``identity.image``).
- An operator is an active staff user holding ``identity.change_identityverification`` (a superuser
  holds every permission). Operators list the queue, look at the pictures, and approve (L3, provider
  ``manual_review``) or reject with a reason. Nobody decides on, or opens the pictures of, her own
  verification.
- Every look at a picture is an evidence event on the verification (who, when, from where, which
  picture): the access log personal information law asks for (PIPL art. 51, 55).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet

from econtract.evidence.services import RequestContext, record_event
from econtract.identity import verification as verbs
from econtract.identity.errors import (
    ImageRefused,
    InvalidIdNumber,
    ReviewAlreadyPending,
    ReviewNotPermitted,
    ReviewReasonRequired,
    SelfReviewRefused,
)
from econtract.identity.idnumbers import IdType, validate_id_number
from econtract.identity.images import CleanImage, clean_image
from econtract.identity.models import AssuranceLevel, IdentityDocumentImage, IdentityVerification
from econtract.identity.vault import seal_bytes, unseal_bytes
from econtract.textinput import clean_line, clean_lines

IMAGE_PURPOSE = "identity.image"
REVIEW_PERMISSION = "identity.change_identityverification"
REVIEW_PROVIDER = "manual_review"
MANUAL = IdentityVerification.Method.MANUAL
PENDING = IdentityVerification.Status.PENDING
Kind = IdentityDocumentImage.Kind
# The back is optional: a passport has none worth a picture.
REQUIRED_KINDS = frozenset({Kind.FRONT, Kind.SELFIE})
MAX_REASON = 2000


def validated_number(id_type: str, id_number: str) -> tuple[IdType, str]:
    """The document type and normalised number, or InvalidIdNumber: before anything is stored."""
    try:
        kind = IdType(id_type)
    except ValueError:
        raise InvalidIdNumber(f"unknown document type {id_type!r}") from None
    return kind, validate_id_number(kind, id_number).number


def clean_images(images: Mapping[str, bytes], *, required: frozenset[str]) -> dict[str, CleanImage]:
    """Every picture checked and re-encoded (ImageRefused on the first bad one, naming it)."""
    unknown = set(images) - set(Kind.values)
    if unknown:
        raise ImageRefused(f"unknown image kind: {', '.join(sorted(unknown))}")
    missing = required - set(images)
    if missing:
        raise ImageRefused(f"missing image: {', '.join(sorted(missing))}")
    cleaned: dict[str, CleanImage] = {}
    for kind, data in images.items():
        try:
            cleaned[kind] = clean_image(data)
        except ImageRefused as exc:
            raise type(exc)(f"{kind}: {exc}") from exc
    return cleaned


def store_image(verification: IdentityVerification, kind: str, image: CleanImage) -> IdentityDocumentImage:
    return IdentityDocumentImage.objects.create(
        verification=verification,
        kind=kind,
        content_type=image.content_type,
        size=len(image.data),
        sha256=hashlib.sha256(image.data).hexdigest(),
        sealed=seal_bytes(image.data, purpose=IMAGE_PURPOSE),
    )


def submit_manual_review(
    user: Any,
    *,
    name: str,
    id_type: str,
    id_number: str,
    images: Mapping[str, bytes],
    context: RequestContext,
) -> IdentityVerification:
    """Open a pending manual verification with the person's pictures, for an operator to decide."""
    name = clean_line(name, field="name", max_length=200)
    kind, number = validated_number(id_type, id_number)
    cleaned = clean_images(images, required=REQUIRED_KINDS)
    with transaction.atomic():
        if user is not None:
            # one waiting review per person: a second upload would only queue the same work twice
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            if IdentityVerification.objects.filter(user=user, method=MANUAL, status=PENDING).exists():
                raise ReviewAlreadyPending("your documents are already waiting for review")
        row = verbs.create_pending(
            user, method=MANUAL, name=name, id_type=str(kind), id_number=number, context=context
        )
        stored = [store_image(row, image_kind, image) for image_kind, image in sorted(cleaned.items())]
        record_event(
            "identity_images_received",
            row,
            context,
            payload={"images": [{"kind": i.kind, "sha256": i.sha256, "size": i.size} for i in stored]},
        )
    return row


# --- operators --------------------------------------------------------------------------------


def is_operator(user: Any) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and user.has_perm(REVIEW_PERMISSION)
    )


def require_operator(user: Any) -> None:
    if not is_operator(user):
        raise ReviewNotPermitted("reviewing identity documents is for operators")


def _not_own(operator: Any, verification: IdentityVerification) -> None:
    if verification.user_id is not None and verification.user_id == operator.pk:
        raise SelfReviewRefused("an operator does not review her own identity documents")


def pending_reviews(operator: Any) -> QuerySet[IdentityVerification]:
    """The queue, oldest first; the operator's own submissions are not in it."""
    require_operator(operator)
    return (
        IdentityVerification.objects.filter(method=MANUAL, status=PENDING)
        .exclude(user=operator)
        .select_related("user")
        .order_by("created_at", "id")
    )


def review_for(operator: Any, verification_id: uuid.UUID | str) -> IdentityVerification:
    """One manual verification for an operator to look at (IdentityVerification.DoesNotExist if none)."""
    require_operator(operator)
    row = IdentityVerification.objects.select_related("user", "decided_by").get(
        pk=verification_id, method=MANUAL
    )
    _not_own(operator, row)
    return row


def open_image(
    operator: Any, verification: IdentityVerification, image_id: uuid.UUID | str, *, context: RequestContext
) -> tuple[IdentityDocumentImage, bytes]:
    """One picture, unsealed for an operator; the look is recorded before the bytes leave."""
    require_operator(operator)
    _not_own(operator, verification)
    image = IdentityDocumentImage.objects.get(pk=image_id, verification=verification)
    record_event(
        "identity_image_viewed",
        verification,
        context,
        payload={"image": str(image.pk), "kind": image.kind, "sha256": image.sha256},
    )
    return image, unseal_bytes(bytes(image.sealed), purpose=IMAGE_PURPOSE)


def approve(
    operator: Any, verification: IdentityVerification, *, context: RequestContext
) -> IdentityVerification:
    """The pictures show the person and her document: verified at L3 (VerificationNotPending if decided)."""
    require_operator(operator)
    _not_own(operator, verification)
    return verbs.mark_verified(
        verification,
        provider=REVIEW_PROVIDER,
        reference=f"operator:{operator.pk}",
        outcome="match",
        decided_by=operator,
        level=AssuranceLevel.L3,
        context=context,
    )


def reject(
    operator: Any, verification: IdentityVerification, *, reason: str, context: RequestContext
) -> IdentityVerification:
    """Refused, with the reason the person is shown (VerificationNotPending if decided)."""
    require_operator(operator)
    _not_own(operator, verification)
    reason = clean_lines(reason, field="reason", max_length=MAX_REASON)
    if not reason:
        raise ReviewReasonRequired("a rejection needs a reason the person can act on")
    return verbs.mark_rejected(
        verification, reason=reason, outcome="rejected", decided_by=operator, context=context
    )
