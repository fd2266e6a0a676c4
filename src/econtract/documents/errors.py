"""Domain errors of the documents app.

Imported by the sandboxed PDF probe as well, so this module must not import Django.
"""

from __future__ import annotations

NOT_PDF = "not_pdf"
CORRUPT = "corrupt"
ENCRYPTED = "encrypted"
TOO_LARGE = "too_large"
TOO_MANY_PAGES = "too_many_pages"
DECOMPRESSION_BOMB = "decompression_bomb"
PAGE_TREE_LOOP = "page_tree_loop"
TIMEOUT = "timeout"
RESOURCE_LIMIT = "resource_limit"
INVALID_PAGE = "invalid_page"
ACTIVE_CONTENT = "active_content"

UNSAFE_PDF_CODES: frozenset[str] = frozenset(
    {
        NOT_PDF,
        CORRUPT,
        ENCRYPTED,
        TOO_LARGE,
        TOO_MANY_PAGES,
        DECOMPRESSION_BOMB,
        PAGE_TREE_LOOP,
        TIMEOUT,
        RESOURCE_LIMIT,
        INVALID_PAGE,
        ACTIVE_CONTENT,
    }
)


class DocumentError(Exception):
    code = "document_error"


class UnsafePdf(DocumentError):
    """An uploaded PDF was refused; nothing was stored or changed.

    ``code`` is one of :data:`UNSAFE_PDF_CODES` (stable, for API clients and translations);
    ``detail`` is a short human-readable explanation.
    """

    def __init__(self, code: str, detail: str) -> None:
        if code not in UNSAFE_PDF_CODES:
            raise ValueError(f"unknown UnsafePdf code {code!r}")
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


class FontUnavailable(DocumentError):
    """No font with Simplified Chinese glyphs could be found or prepared."""

    code = "font_unavailable"


# --- documents written on the platform (documents.authoring, documents.templating) ----------------


class AuthoringError(DocumentError):
    code = "authoring_error"


class InvalidDocument(AuthoringError):
    """The HTML, a template's placeholders or a value filled into them cannot be accepted."""

    code = "invalid_document"

    def __init__(self, detail: str, *, code: str | None = None, offset: int | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code:
            self.code = code
        self.offset = offset


class VersionConflict(AuthoringError):
    """Saved over a newer version: nothing is stored; the client shows both and the person chooses."""

    code = "version_conflict"

    def __init__(self, *, base_version: int, current_version: int, current_html: str) -> None:
        super().__init__(
            f"version {base_version} is not the latest: version {current_version} was saved since"
        )
        self.base_version = base_version
        self.current_version = current_version
        self.current_html = current_html


class DocumentNotEditable(AuthoringError):
    """A final document is not changed any more (restore or reopen it as a draft first)."""

    code = "document_not_editable"


class DocumentNotFinal(AuthoringError):
    code = "document_not_final"
