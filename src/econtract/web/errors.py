"""Domain errors as sentences a person can act on, in the user's language.

Every domain error carries a stable ``code``; the message is chosen by code, and the service's own
(English) explanation is kept as a detail where it says something the code does not.
"""

from __future__ import annotations

import math

from django.http import HttpResponse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from econtract.accounts.errors import AccountError, LoginThrottled
from econtract.documents.errors import DocumentError, UnsafePdf
from econtract.evidence.errors import EvidenceError
from econtract.identity.errors import IdentityError, OtpInvalid
from econtract.notifications.errors import NotificationError
from econtract.pki.errors import PinLocked, PkiError, WrongPin
from econtract.seals.errors import SealsError
from econtract.signing.errors import SigningError
from econtract.verification.errors import VerificationError

# The exceptions a view turns into a message instead of a server error.
DOMAIN_ERRORS: tuple[type[Exception], ...] = (
    SigningError,
    IdentityError,
    PkiError,
    AccountError,
    DocumentError,
    VerificationError,
    NotificationError,
    SealsError,
    EvidenceError,
)

MESSAGES = {
    # signing
    "invalid_envelope": gettext_lazy("The envelope is not valid."),
    "envelope_not_editable": gettext_lazy("Only a draft can be changed."),
    "envelope_closed": gettext_lazy("This envelope is closed."),
    "envelope_expired": gettext_lazy("The signing deadline has passed."),
    "not_your_turn": gettext_lazy("It is not your turn yet: earlier parties have not signed."),
    "already_signed": gettext_lazy("This party has already signed."),
    "not_this_party": gettext_lazy("You may not act for this party or envelope."),
    "link_invalid": gettext_lazy("This signing link is not valid or has expired."),
    "party_access_required": gettext_lazy(
        "Confirm your email address (and phone) with a new code first: the earlier confirmation has expired."
    ),
    # uploads
    "not_pdf": gettext_lazy("The file is not a PDF."),
    "corrupt": gettext_lazy("The PDF is damaged and cannot be read."),
    "encrypted": gettext_lazy("The PDF is encrypted or password-protected."),
    "too_large": gettext_lazy("The file is larger than the upload limit."),
    "too_many_pages": gettext_lazy("The PDF has too many pages."),
    "decompression_bomb": gettext_lazy("The PDF expands to an unreasonable size."),
    "page_tree_loop": gettext_lazy("The PDF's page tree is malformed."),
    "timeout": gettext_lazy("The PDF took too long to check."),
    "resource_limit": gettext_lazy("The PDF needs too many resources to check."),
    "invalid_page": gettext_lazy("The PDF contains a page that cannot be read."),
    "active_content": gettext_lazy(
        "The PDF contains scripts or actions that could change what it shows after signing."
    ),
    "font_unavailable": gettext_lazy("No font for Chinese text is available on the server."),
    # willingness checks and key custody
    "otp_invalid": gettext_lazy("The code is wrong."),
    "otp_expired": gettext_lazy("The code has expired or was tried too often; request a new one."),
    "otp_required": gettext_lazy("Request a code first (or the code was already used)."),
    "otp_rate_limited": gettext_lazy("A code was sent moments ago; please wait before requesting another."),
    # real-name identity
    "invalid_id_number": gettext_lazy("The document number is not valid for this document type."),
    "invalid_uscc": gettext_lazy("The unified social credit code is not valid."),
    # identity document images, operator review, re-authentication
    "not_an_image": gettext_lazy("The file is not a JPEG or PNG image, or has something else inside it."),
    "invalid_image": gettext_lazy("The image cannot be used."),
    "image_too_large": gettext_lazy("The image is larger than the upload limit."),
    "review_not_permitted": gettext_lazy("Reviewing identity documents is for operators."),
    "self_review_refused": gettext_lazy("You cannot review your own identity documents."),
    "review_already_pending": gettext_lazy("Your documents are already waiting for review."),
    "review_reason_required": gettext_lazy("Give a reason the person can act on."),
    "reauthentication_required": gettext_lazy("The password or code is wrong."),
    "assurance_required": gettext_lazy(
        "A signing certificate is issued only to a verified identity: verify your identity first."
    ),
    "provider_unavailable": gettext_lazy(
        "The identity provider could not be reached, so nothing was decided. Please try again in a few minutes."
    ),
    "identity_in_use": gettext_lazy(
        "This document is already verified for another account. Recover that account (reset its "
        "password or ask for a login link) instead of verifying it again here."
    ),
    "identity_rate_limited": gettext_lazy(
        "Too many identity checks were tried for this account, document or address; please try again later."
    ),
    "verification_not_pending": gettext_lazy(
        "This verification is already finished; start a new one if you need to."
    ),
    "unsupported_method": gettext_lazy("This verification method is not available here."),
    "invalid_verification_request": gettext_lazy("The verification request is incomplete."),
    "weak_pin": gettext_lazy(
        "The PIN must be 6 to 12 digits and hard to guess (not 123456, 111111 or 121212)."
    ),
    "identity_not_verified": gettext_lazy(
        "Verify your email address before a signing certificate can be issued."
    ),
    "current_pin_required": gettext_lazy("Enter your current PIN to change it."),
    "pin_busy": gettext_lazy("Your PIN is being checked in another request; try again in a moment."),
    "no_signing_key": gettext_lazy("You have no signing key yet: set a signing PIN first."),
    "certificate_revoked": gettext_lazy("Your signing certificate has been revoked."),
    "certificate_expired": gettext_lazy("Your signing certificate has expired."),
    "pki_not_initialised": gettext_lazy("The platform's certificate authority is not initialised."),
    # accounts
    "invalid_api_key": gettext_lazy("Unknown or revoked API key."),
    "not_permitted": gettext_lazy(
        "Only the member who created this envelope, or an owner, admin or legal of the organisation, may do this."
    ),
    "email_not_verified": gettext_lazy("Your email address is not verified."),
    "reminder_too_soon": gettext_lazy("This party was emailed less than 10 minutes ago; try again later."),
    # verification
    "rate_limited": gettext_lazy("Too many checks from your address; please wait a minute."),
    # notifications (SMS)
    "invalid_phone": gettext_lazy("This is not a valid mobile phone number."),
    "sms_rate_limited": gettext_lazy("Too many text messages were requested; please try again later."),
    # evidence
    "evidence_rate_limited": gettext_lazy(
        "Too many evidence reports or packages were requested; please wait a minute."
    ),
    "evidence_unavailable": gettext_lazy("Evidence reports cannot be made on this server right now."),
    # fields the signer fills
    "field_required": gettext_lazy("Fill in every required field (and tick every required box) to sign."),
    "invalid_field_value": gettext_lazy("A value does not fit its field."),
    # documents written on the platform
    "invalid_page_setup": gettext_lazy(
        "The page setup is not valid: margins are whole millimetres from 5 to 60, the page A4 or Letter."
    ),
    "render_invalid_setup": gettext_lazy(
        "The header or footer contains a character that cannot be printed (a control or formatting character)."
    ),
    "fixed_document": gettext_lazy(
        "This document is an imported PDF: it is signed as it is, and cannot be edited or exported to DOCX."
    ),
    "fixed_pdf_damaged": gettext_lazy(
        "The stored PDF of this document no longer matches what was imported; nothing was done."
    ),
    # the contract archive
    "invalid_contract": gettext_lazy("The contract's details are not valid."),
    "number_taken": gettext_lazy("This contract number is already used in the organisation."),
    "legal_hold": gettext_lazy(
        "The contract is under a legal hold: it cannot be deleted until the hold is lifted."
    ),
    "retention": gettext_lazy("The contract is still within its retention period and cannot be deleted yet."),
    "restore_expired": gettext_lazy("This contract was deleted too long ago to be restored."),
    "attachment_too_large": gettext_lazy("The attachment is larger than the upload limit."),
    "not_a_member": gettext_lazy("Contracts can be shared only with members of the organisation."),
    "category_exists": gettext_lazy("A category of this name already exists there."),
    "invalid_number_pattern": gettext_lazy(
        "The number pattern is not valid: it needs exactly one {seq}, and may use {yyyy}, {yy}, {mm} and {dd}."
    ),
}

# Codes whose service message names the exact problem (which field, which party, which state).
WITH_DETAIL = frozenset(
    {
        "invalid_envelope",
        "envelope_closed",
        "not_this_party",
        "envelope_not_editable",
        "invalid_id_number",
        "invalid_uscc",
        "not_an_image",
        "invalid_image",
        "image_too_large",
        "invalid_verification_request",
        "field_required",
        "invalid_field_value",
    }
)


def login_wait_message(exc: LoginThrottled) -> str:
    minutes = max(1, math.ceil(exc.retry_after / 60))
    return ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute, or log in with a link sent to your email.",
        "Too many failed attempts. Try again in %(minutes)d minutes, or log in with a link sent to your email.",
        minutes,
    ) % {"minutes": minutes}


def with_retry_after(response: HttpResponse, exc: Exception | None) -> HttpResponse:
    """A refusal by a rate limit answers 429 with the seconds left to wait (RFC 9110 Retry-After)."""
    seconds = getattr(exc, "retry_after", None)
    if seconds is not None:
        response.status_code = 429
        response["Retry-After"] = str(seconds)
    return response


def error_message(exc: Exception) -> str:
    """One sentence for the person in front of the page."""
    if isinstance(exc, WrongPin):
        return ngettext(
            "Wrong PIN. %(count)d attempt left before your signing key locks.",
            "Wrong PIN. %(count)d attempts left before your signing key locks.",
            exc.remaining_attempts,
        ) % {"count": exc.remaining_attempts}
    if isinstance(exc, PinLocked):
        until = formats.date_format(timezone.localtime(exc.locked_until), "DATETIME_FORMAT")
        return _("Too many wrong PINs: your signing key is locked until %(until)s.") % {"until": until}
    if isinstance(exc, OtpInvalid):
        if exc.remaining_attempts <= 0:
            return _("The code is wrong and no attempts are left; request a new code.")
        return ngettext(
            "The code is wrong. %(count)d attempt left.",
            "The code is wrong. %(count)d attempts left.",
            exc.remaining_attempts,
        ) % {"count": exc.remaining_attempts}
    code = getattr(exc, "code", "")
    if isinstance(exc, UnsafePdf):
        reason = MESSAGES.get(code, code)
        return _("The file was refused: %(reason)s (%(detail)s) Nothing was stored.") % {
            "reason": reason,
            "detail": exc.detail,
        }
    if isinstance(exc, VerificationError) and not code:
        return _("The file could not be read as a signed PDF: %(detail)s") % {"detail": str(exc)}
    message = MESSAGES.get(code)
    if message is None:
        return _("The action failed: %(detail)s") % {"detail": str(exc) or code or exc.__class__.__name__}
    if code in WITH_DETAIL and str(exc):
        return f"{message} ({exc})"
    return str(message)
