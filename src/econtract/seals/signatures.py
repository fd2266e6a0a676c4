"""A person's own signatures: add (drawn, typed, uploaded), list, choose the default, delete; and the
one signing uses.

Every picture is made here from what the person gave (``signature_images``, ``typed``): nothing she
sent is stored as it came. The evidence chain of the person records each addition and deletion with
the picture's SHA-256, never the picture itself. A deleted signature keeps its row (``deleted_at``):
evidence and signed documents may name it, but it can no longer be chosen.
"""

from __future__ import annotations

import hashlib
from typing import Any
from uuid import UUID

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from econtract.evidence.services import RequestContext, record_event
from econtract.identity.assurance import summary
from econtract.seals import signature_images, typed
from econtract.seals.models import PersonalSignature
from econtract.seals.signature_images import SignatureImageRefused

MAX_LIVE_SIGNATURES = 10
KINDS = frozenset(PersonalSignature.Kind.values)


def add_signature(
    user: Any,
    *,
    kind: str,
    image: bytes | None = None,
    text: str = "",
    make_default: bool = False,
    context: RequestContext,
) -> PersonalSignature:
    """Store a new signature of ``user``: ``drawn`` (the pad's PNG in ``image``), ``uploaded`` (a PNG
    or JPEG scan in ``image``) or ``typed`` (``text`` written in the handwriting font). Her first
    signature becomes her default, and so does this one with ``make_default``.

    :raises SignatureImageRefused: (InvalidSignatureImage, 400) for an unusable picture or text, an
        unknown kind, or when she already has ``MAX_LIVE_SIGNATURES``.
    """
    typed_text = ""
    if kind == PersonalSignature.Kind.DRAWN:
        png = signature_images.from_pad(_required(image, kind))
    elif kind == PersonalSignature.Kind.UPLOADED:
        png = signature_images.from_upload(_required(image, kind))
    elif kind == PersonalSignature.Kind.TYPED:
        typed_text = typed.clean_typed_text(text)
        png = typed.render_typed(typed_text)
    else:
        raise SignatureImageRefused("not_an_image", f"unknown kind {kind!r}: drawn, typed or uploaded")
    width, height = signature_images.image_size(png)
    digest = hashlib.sha256(png).hexdigest()
    with transaction.atomic():
        _lock(user)
        live = PersonalSignature.objects.of(user).live()
        count = live.count()
        if count >= MAX_LIVE_SIGNATURES:
            raise SignatureImageRefused(
                "limit", f"you have {MAX_LIVE_SIGNATURES} signatures: delete one before adding another"
            )
        default = make_default or count == 0
        if default:
            live.filter(is_default=True).update(is_default=False)
        signature = PersonalSignature.objects.create(
            user=user,
            kind=kind,
            typed_text=typed_text,
            image_png=png,
            width_px=width,
            height_px=height,
            sha256=digest,
            is_default=default,
        )
        record_event(
            "signature_added",
            user,
            context,
            payload={"signature_id": str(signature.id), "kind": kind, "sha256": digest, "default": default},
        )
    return signature


def list_signatures(user: Any) -> QuerySet[PersonalSignature]:
    """Her live signatures, the default first, then the newest."""
    return PersonalSignature.objects.of(user).live().order_by("-is_default", "-created_at", "-id")


def own_signature(user: Any, signature_id: UUID | str) -> PersonalSignature:
    """One of her live signatures. :raises PersonalSignature.DoesNotExist: for anyone else's, a deleted
    one, or an id that is no signature (the API answers 404)."""
    return PersonalSignature.objects.of(user).live().get(pk=signature_id)


def set_default(
    user: Any, signature_id: UUID | str, context: RequestContext | None = None
) -> PersonalSignature:
    """Make one of her signatures the default (the one signing uses unless she picks another).

    :raises PersonalSignature.DoesNotExist: when it is not hers or was deleted.
    """
    with transaction.atomic():
        _lock(user)
        signature = own_signature(user, signature_id)
        if not signature.is_default:
            # Unset first: the database allows one live default per person (seals_one_default_signature_per_user).
            PersonalSignature.objects.of(user).live().filter(is_default=True).update(is_default=False)
            signature.is_default = True
            signature.save(update_fields=["is_default"])
            if context is not None:
                record_event(
                    "signature_default_set",
                    user,
                    context,
                    payload={"signature_id": str(signature.id), "sha256": signature.sha256},
                )
    return signature


def delete_signature(user: Any, signature_id: UUID | str, context: RequestContext) -> None:
    """Delete one of her signatures (the row stays, marked deleted). Deleting the default makes her
    newest remaining signature the default, so she keeps one as long as she has any.

    :raises PersonalSignature.DoesNotExist: when it is not hers or was deleted already.
    """
    with transaction.atomic():
        _lock(user)
        signature = own_signature(user, signature_id)
        was_default = signature.is_default
        signature.deleted_at = timezone.now()
        signature.is_default = False
        signature.save(update_fields=["deleted_at", "is_default"])
        successor = None
        if was_default:
            successor = list_signatures(user).first()
            if successor is not None:
                successor.is_default = True
                successor.save(update_fields=["is_default"])
        record_event(
            "signature_deleted",
            user,
            context,
            payload={
                "signature_id": str(signature.id),
                "sha256": signature.sha256,
                "new_default": str(successor.id) if successor is not None else None,
            },
        )


def signature_for_signing(user: Any, signature_id: UUID | None) -> tuple[bytes, str, str]:
    """(RGBA PNG, kind, sha256) of the signature she signs with: the one she chose, else her default,
    else her verified name typed in the handwriting font (made now, not stored; kind ``typed``).

    :raises SignatureImageRefused: (InvalidSignatureImage, 400) when ``signature_id`` is not one of
        her live signatures.
    """
    if signature_id is not None:
        try:
            chosen = own_signature(user, signature_id)
        except (PersonalSignature.DoesNotExist, ValueError):
            raise SignatureImageRefused(
                "not_yours", "signature_id is not one of your signatures (deleted, or never yours)"
            ) from None
        return bytes(chosen.image_png), chosen.kind, chosen.sha256
    default = list_signatures(user).filter(is_default=True).first()
    if default is not None:
        return bytes(default.image_png), default.kind, default.sha256
    png = typed.render_typed(_verified_name(user))
    return png, PersonalSignature.Kind.TYPED.value, hashlib.sha256(png).hexdigest()


def _verified_name(user: Any) -> str:
    """The name her identity verification established (her account name follows it), else the account name."""
    identity = summary(user)
    name = (identity or {}).get("name") or getattr(user, "full_name", "") or getattr(user, "email", "")
    return str(name)[: typed.MAX_CHARACTERS]


def _lock(user: Any) -> None:
    """Her row is the lock: two changes at once cannot both pass the limit, both be "first", or leave
    her with two defaults or none."""
    get_user_model().objects.select_for_update().filter(pk=user.pk).first()


def _required(image: bytes | None, kind: str) -> bytes:
    if not image:
        raise SignatureImageRefused("not_an_image", f"a {kind} signature needs its image")
    return image
