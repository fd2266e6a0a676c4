"""Seal and signature domain errors. Each carries a stable ``code``; api/errors.py maps it to HTTP once."""

from __future__ import annotations


class SealsError(Exception):
    code = "seals_error"


class InvalidSignatureImage(SealsError):
    """An uploaded or drawn signature image that cannot be used (not PNG/JPEG, empty, too large)."""

    code = "invalid_signature_image"


class InvalidSeal(SealsError):
    """A seal request that cannot be made: unknown type or shape, bad code, unusable scan."""

    code = "invalid_seal"


class OrganizationUnverified(SealsError):
    """Seals are made only for a verified organisation (409)."""

    code = "organization_unverified"


class SealNotActive(SealsError):
    """The seal is suspended, revoked or retired (409)."""

    code = "seal_not_active"


class SealNotAuthorized(SealsError):
    """No live grant lets this person use this seal on this document (403)."""

    code = "seal_not_authorized"


class ApprovalRequired(SealsError):
    """The grant needs an approval for this envelope and document, and none is waiting to be used (409)."""

    code = "approval_required"


class ApprovalNotPending(SealsError):
    code = "approval_not_pending"


class InvalidGrant(SealsError):
    code = "invalid_grant"


class SealRightsSeparated(SealsError):
    """The one person would hold managing, using and auditing a seal (三权分立) (409)."""

    code = "seal_rights_separated"
