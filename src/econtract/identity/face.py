"""The face check: a selfie compared, by the identity provider, with the holder of a name and ID number.

The platform itself compares no faces and claims no liveness: the provider does both and answers
match / mismatch / not_found like the element checks (identity.providers, ``check_face``). The
sandbox's rule is documented in ``providers.sandbox.judge_face``. A match establishes L3. The selfie
is cleaned like every identity image (identity.images) and kept sealed with the verification, as the
record of what was checked; attempts count against the same limits as the element checks.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from econtract.evidence.services import RequestContext, record_event
from econtract.identity import verification as verbs
from econtract.identity.errors import ProviderUnavailable
from econtract.identity.models import AssuranceLevel, IdentityDocumentImage, IdentityVerification
from econtract.identity.providers import FaceCheck, Outcome, get_identity_provider
from econtract.identity.review import clean_images, store_image, validated_number
from econtract.identity.vault import digest_id_number
from econtract.textinput import clean_line

SELFIE = IdentityDocumentImage.Kind.SELFIE
REASONS = {
    Outcome.MISMATCH: "the face in the photo does not match the holder of this document",
    Outcome.NOT_FOUND: "the identity provider knows no such document number",
}


def submit_face_check(
    user: Any,
    *,
    name: str,
    id_type: str,
    id_number: str,
    selfie: bytes,
    context: RequestContext,
    client: HttpRequest | str,
) -> IdentityVerification:
    """Ask the provider at once: verified (L3) or rejected; ProviderUnavailable leaves it pending."""
    name = clean_line(name, field="name", max_length=200)
    kind, number = validated_number(id_type, id_number)
    image = clean_images({SELFIE: selfie}, required=frozenset({SELFIE}))[SELFIE]
    # the same budget as the element checks: per person, per document number, per client address
    verbs.count_attempt(user, "", digest_id_number(str(kind), number), client)
    row = verbs.create_pending(
        user,
        method=IdentityVerification.Method.FACE,
        name=name,
        id_type=str(kind),
        id_number=number,
        context=context,
    )
    stored = store_image(row, SELFIE, image)
    record_event(
        "identity_images_received",
        row,
        context,
        payload={"images": [{"kind": stored.kind, "sha256": stored.sha256, "size": stored.size}]},
    )
    check = FaceCheck(
        name=name, id_type=kind, id_number=number, selfie=image.data, content_type=image.content_type
    )
    result = get_identity_provider().check_face(check)
    if result.outcome is Outcome.UNAVAILABLE:
        record_event(
            "identity_provider_unavailable", row, context, payload={"provider_name": result.provider}
        )
        raise ProviderUnavailable(
            "the identity provider could not check the photo; nothing was decided, try again later"
        )
    if result.outcome is Outcome.MATCH:
        return verbs.mark_verified(
            row,
            provider=result.provider,
            reference=result.reference,
            sandbox=result.sandbox,
            outcome=str(result.outcome),
            level=AssuranceLevel.L3,
            context=context,
        )
    IdentityVerification.objects.filter(pk=row.pk).update(
        provider=result.provider[:200], provider_reference=result.reference[:200], sandbox=result.sandbox
    )
    row.refresh_from_db()
    return verbs.mark_rejected(
        row, reason=REASONS[result.outcome], outcome=str(result.outcome), context=context
    )
