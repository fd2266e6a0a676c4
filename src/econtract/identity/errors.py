class IdentityError(Exception):
    code = "identity_error"


class OtpInvalid(IdentityError):
    code = "otp_invalid"

    def __init__(self, message: str, remaining_attempts: int) -> None:
        super().__init__(message)
        self.remaining_attempts = remaining_attempts


class OtpExpired(IdentityError):
    code = "otp_expired"


class OtpMissing(IdentityError):
    code = "otp_required"


class OtpRateLimited(IdentityError):
    code = "otp_rate_limited"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds, for Retry-After


class InvalidIdNumber(IdentityError):
    """A document number that cannot be right: refused before any provider is asked."""

    code = "invalid_id_number"


class InvalidUscc(IdentityError):
    """A unified social credit code that fails GB 32100's format or check character."""

    code = "invalid_uscc"


class AssuranceRequired(IdentityError):
    """The person's identity is not established at the level this step needs (409)."""

    code = "assurance_required"

    def __init__(self, message: str, *, required: str, current: str) -> None:
        super().__init__(message)
        self.required = required
        self.current = current


class VerificationNotPending(IdentityError):
    """The verification was already decided (verified, rejected or revoked): 409."""

    code = "verification_not_pending"


class ProviderUnavailable(IdentityError):
    """The identity provider gave no verdict (unreachable, timed out, refused our key): 503."""

    code = "provider_unavailable"


class IdentityRateLimited(IdentityError):
    """Too many verification attempts for this account or document: 429."""

    code = "identity_rate_limited"

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class UnsupportedMethod(IdentityError):
    """A method this endpoint does not take (manual and face go through the upload endpoints): 400."""

    code = "unsupported_method"


class FactorError(IdentityError):
    """A second factor (TOTP app, passkey, recovery code) could not be enrolled, used or removed."""

    code = "factor_error"


class FactorMissing(FactorError):
    """The account has no confirmed factor of the kind asked for: 409."""

    code = "factor_missing"


class FactorNotFound(FactorError):
    """No such factor of this account: 404."""

    code = "factor_not_found"


class FactorRequired(FactorError):
    """The last factor of an owner or admin cannot be removed (MFA is required for the role): 409."""

    code = "factor_required"


class FactorAlreadyEnrolled(FactorError):
    """An account keeps one authenticator app; remove the old one first: 409."""

    code = "factor_already_enrolled"


class ReauthenticationRequired(FactorError):
    """Removing a factor or renewing recovery codes needs a fresh code or the password: 403."""

    code = "reauthentication_required"


class WebAuthnUnavailable(FactorError):
    """Passkeys cannot work here: the relying-party id (BASE_URL's host) is an IP address: 409."""

    code = "webauthn_unavailable"


class WebAuthnFailed(FactorError):
    """The browser's answer to a WebAuthn ceremony did not verify (challenge, origin, signature, counter): 400."""

    code = "webauthn_failed"


class WebAuthnRequired(FactorError):
    """A passkey is asked for (a party's willingness) and no assertion came with the request: 400."""

    code = "webauthn_required"


class ImageRefused(IdentityError):
    """An identity document image that is not accepted (dimensions, structure): 422."""

    code = "invalid_image"


class NotAnImage(ImageRefused):
    """Not a JPEG or PNG by its first bytes, malformed, or with another file appended (polyglot): 415."""

    code = "not_an_image"


class ImageTooLarge(ImageRefused):
    """An image larger than ECONTRACT_IDENTITY_IMAGE_MAX_BYTES: 413."""

    code = "image_too_large"


class ReviewNotPermitted(IdentityError):
    """Reviewing identity documents is for operators (staff with the permission): 403."""

    code = "review_not_permitted"


class SelfReviewRefused(IdentityError):
    """No operator decides on her own verification: 403."""

    code = "self_review_refused"


class ReviewAlreadyPending(IdentityError):
    """The person already has documents waiting for review: 409."""

    code = "review_already_pending"


class ReviewReasonRequired(IdentityError):
    """A rejection without a reason the person can act on: 400."""

    code = "review_reason_required"


class KeyRotationFailed(IdentityError):
    """A sealed value could not be re-sealed (its key is no longer configured): the rotation stops."""

    code = "key_rotation_failed"


class OidcError(IdentityError):
    """An OpenID Connect sign-in that cannot be accepted: state, code, ID token or claims refused, or
    the provider unreachable. The message says why, in words fit for the person; ``step`` names where
    it failed in fixed words (no value from the provider), for the log."""

    code = "oidc_failed"

    def __init__(self, message: str, *, step: str = "sign-in") -> None:
        super().__init__(message)
        self.step = step


class InvalidVerificationRequest(IdentityError):
    """A verification request missing an element or carrying an unusable one: 400."""

    code = "invalid_verification_request"


class IdentityInUse(IdentityError):
    """The document is verified for another active account: one document, one account (409)."""

    code = "identity_in_use"
