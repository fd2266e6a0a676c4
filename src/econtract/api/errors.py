"""Domain errors mapped once to HTTP responses: {"error": code, "detail": text}."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger("econtract.api")

STATUS_BY_CODE: dict[str, int] = {
    # contracts (the archive)
    "invalid_contract": 400,
    "invalid_number_pattern": 400,
    "number_taken": 409,
    "numbering_busy": 409,
    "legal_hold": 409,
    "retention": 409,
    "restore_expired": 409,
    "attachment_too_large": 413,
    "category_exists": 409,
    "custom_field_exists": 409,
    "not_a_member": 400,
    # signing
    "invalid_envelope": 400,
    "invalid_signing_request": 400,
    "envelope_not_editable": 409,
    "envelope_closed": 409,
    "envelope_expired": 409,
    "not_your_turn": 409,
    "field_required": 400,
    "invalid_field_value": 400,
    "already_signed": 409,
    "not_this_party": 403,
    "link_invalid": 404,
    "reminder_too_soon": 429,
    # lists (api.pagination)
    "invalid_cursor": 400,
    # uploads
    "too_large": 413,
    # hostile input (econtract.jsoninput, econtract.textinput)
    "invalid_json": 400,
    "invalid_multipart": 400,
    "invalid_text": 400,
    "not_pdf": 415,
    "corrupt": 422,
    "encrypted": 422,
    "too_many_pages": 422,
    "decompression_bomb": 422,
    "page_tree_loop": 422,
    "timeout": 422,
    "resource_limit": 422,
    "invalid_page": 422,
    "active_content": 422,
    # willingness and key custody
    "otp_invalid": 400,
    "otp_expired": 400,
    "otp_required": 400,
    "otp_rate_limited": 429,
    # real-name identity (identity.idnumbers)
    "invalid_id_number": 400,
    "invalid_uscc": 400,
    "assurance_required": 409,
    "verification_not_pending": 409,
    "provider_unavailable": 503,
    "identity_rate_limited": 429,
    "unsupported_method": 400,
    "invalid_verification_request": 400,
    "identity_in_use": 409,
    "weak_pin": 400,
    "wrong_pin": 403,
    "pin_locked": 423,
    "pin_busy": 429,
    "no_signing_key": 409,
    "certificate_revoked": 409,
    "certificate_expired": 409,
    "current_pin_required": 400,
    "unreadable_pdf": 422,
    # second factors (identity.factors, identity.passkeys)
    "factor_missing": 409,
    "factor_not_found": 404,
    "factor_required": 409,
    "factor_already_enrolled": 409,
    "webauthn_unavailable": 409,
    "webauthn_failed": 400,
    "webauthn_required": 400,
    "mfa_enrolment_required": 403,
    # accounts
    "invalid_api_key": 401,
    "not_permitted": 403,
    "login_throttled": 429,
    "login_link_throttled": 429,
    "login_link_invalid": 404,
    "password_reset_throttled": 429,
    "password_reset_link_invalid": 404,
    "email_not_verified": 403,
    "identity_not_verified": 403,
    # enterprise organisations (accounts.organizations)
    "organization_not_verified": 409,
    "organization_already_verified": 409,
    "uscc_taken": 409,
    "legal_representative_not_verified": 409,
    "bank_unavailable": 503,
    "bank_account_name_mismatch": 400,
    "transfer_mismatch": 400,
    "organization_verification_not_pending": 409,
    "invalid_licence": 400,
    "invalid_department": 400,
    "invitation_invalid": 404,
    "invitation_email_mismatch": 403,
    "last_owner": 409,
    "not_an_enterprise": 409,
    "organization_verification_rate_limited": 429,
    # identity documents, operator review, re-authentication (identity.images, review, reauth)
    "invalid_image": 422,
    "not_an_image": 415,
    "image_too_large": 413,
    "review_not_permitted": 403,
    "self_review_refused": 403,
    "review_already_pending": 409,
    "review_reason_required": 400,
    "reauthentication_required": 403,
    # signing without an account
    "party_access_required": 403,
    # signatures and seals (econtract.seals)
    "invalid_signature_image": 400,
    "invalid_seal": 400,
    "organization_unverified": 409,
    "seal_not_active": 409,
    "seal_not_authorized": 403,
    "approval_required": 409,
    "approval_not_pending": 409,
    "invalid_grant": 400,
    "seal_rights_separated": 409,
    # notifications (SMS)
    "invalid_phone": 400,
    "sms_rate_limited": 429,
    # documents written on the platform
    "invalid_document": 400,
    "unsafe_text": 400,
    "html_too_large": 413,
    "html_too_deep": 400,
    "template_syntax": 400,
    "template_value": 400,
    "template_too_large": 413,
    "unknown_user": 400,
    "unknown_version": 404,
    "invalid_status": 409,
    "diff_too_large": 413,
    "render_too_large": 413,
    "render_too_many_pages": 413,
    "version_conflict": 409,
    "anchor_mismatch": 400,
    "docx_too_large": 413,
    "docx_bomb": 413,
    "docx_unreadable": 400,
    "unsupported_file": 415,
    "document_not_editable": 409,
    "document_not_final": 409,
    "invalid_page_setup": 400,
    "render_invalid_setup": 400,
    "fixed_document": 409,
    "fixed_pdf_damaged": 500,
    # evidence
    "evidence_rate_limited": 429,
    "evidence_unavailable": 503,
}


def error_response(code: str, detail: str, status: int | None = None, **extra: Any) -> JsonResponse:
    body: dict[str, Any] = {"error": code, "detail": detail}
    body.update(extra)
    return JsonResponse(
        body,
        status=status or STATUS_BY_CODE.get(code, 400),
        json_dumps_params={"ensure_ascii": False, "allow_nan": False},
    )


# Faults of the platform, not of the request: logged in full, answered without detail.
INTERNAL_CODES = {
    "pki_error",
    "pki_not_initialised",
    "kek_error",
    "kek_mismatch",
    "seal_error",
    "font_unavailable",
}


def domain_error_response(request: HttpRequest, exc: Exception) -> HttpResponse:
    code = getattr(exc, "code", "error")
    if code in INTERNAL_CODES:
        logger.error("internal error answering %s: %s", request.path, exc, exc_info=exc)
        return error_response(
            "internal_error", "the platform could not complete this; it has been logged", 503
        )
    extra: dict[str, Any] = {}
    for attribute in ("remaining_attempts", "locked_until", "required", "current"):
        value = getattr(exc, attribute, None)
        if value is not None:
            extra[attribute] = value.isoformat() if hasattr(value, "isoformat") else value
    detail = getattr(exc, "detail", None) or str(exc) or code
    return with_retry_after(error_response(code, detail, **extra), exc)


def with_retry_after(response: HttpResponse, exc: Exception) -> HttpResponse:
    """Every 429 says how many seconds are left before the limit lets the client in (RFC 9110)."""
    seconds = getattr(exc, "retry_after", None)
    if seconds is not None:
        response["Retry-After"] = str(seconds)
    return response
