"""Sanitise the HTML the contract editor saves and the pages render, with nh3 (ammonia).

Everything authored in the editor passes :func:`clean_html` twice: when it is saved and again when it
is rendered (a stored row may predate today's allowlist). The allowlist is what the editor produces
and nothing more: headings, paragraphs, inline emphasis, lists, tables, links, images, block quotes,
rules, page breaks and signature-field placeholders.

- Tags outside the allowlist are dropped and their text kept; tags whose content is code or foreign
  markup (``script``, ``style``, ``svg``, ``math``, ``iframe``, ...) are dropped with their content.
- Attributes are listed per tag and every value is checked by :func:`_filter_attribute`: links are
  ``http``, ``https`` or ``mailto`` only; images are inline PNG/JPEG ``data:`` URLs or our own
  ``/documents/images/<uuid>`` path, never a remote URL (it would tell a third party who reads the
  contract, and when); classes come from :data:`ALLOWED_CLASSES`; ``style`` keeps only a few
  properties whose values match strict patterns, so ``url(``, ``expression(``, ``@import`` or
  ``behavior`` can never come through.
- Input is bounded before nh3 sees it: :data:`MAX_HTML_BYTES`, :data:`MAX_CHARACTER_REFERENCES`
  ampersands and :data:`MAX_DEPTH` nested elements; every pass's output is held to the same bounds.
- The result is a fixed point (``clean_html(clean_html(x)) == clean_html(x)``): removing a tag can
  leave a tree that an HTML parser would build differently, so nh3 is run until its output no
  longer changes (at most :data:`MAX_PASSES` times).

Pure: no Django, no database.
"""

from __future__ import annotations

import re
from typing import Final

import nh3

MAX_HTML_BYTES: Final = 2 * 1024 * 1024
MAX_DEPTH: Final = 200
MAX_PASSES: Final = 4
# html5ever (under nh3) copies a text node for each character reference in it, so time grows with
# references x text length; 20,000 "&" in 2 MB cost well under a second a pass.
MAX_CHARACTER_REFERENCES: Final = 20_000

HTML_TOO_LARGE: Final = "html_too_large"
HTML_TOO_DEEP: Final = "html_too_deep"
HTML_UNSTABLE: Final = "html_unstable"

FIELD_KINDS: Final = frozenset({"signature", "seal", "date_signed", "text", "number", "checkbox", "initials"})

BLOCK_TAGS: Final = frozenset({"p", "h1", "h2", "h3", "h4", "li", "blockquote", "div", "td", "th"})
INLINE_TAGS: Final = frozenset({"strong", "b", "em", "i", "u", "s", "a", "span", "br"})
STRUCTURE_TAGS: Final = frozenset({"ul", "ol", "table", "thead", "tbody", "tr", "img", "hr"})
ALLOWED_TAGS: Final = BLOCK_TAGS | INLINE_TAGS | STRUCTURE_TAGS

# Dropped together with everything inside them: code, foreign content and embedded documents.
DROPPED_WITH_CONTENT: Final = frozenset(
    {
        "script",
        "style",
        "svg",
        "math",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "template",
        "noscript",
        "noembed",
        "noframes",
        "xmp",
        "textarea",
        "select",
        "title",
        "plaintext",
    }
)

ALIGNMENT_CLASSES: Final = frozenset(f"text-align-{side}" for side in ("left", "center", "right", "justify"))
INDENT_CLASSES: Final = frozenset(f"indent-{level}" for level in range(1, 9))
PAGE_BREAK_CLASS: Final = "page-break"
FIELD_CLASSES: Final = frozenset({"ec-field"} | {f"ec-field-{kind}" for kind in FIELD_KINDS})
ALLOWED_CLASSES: Final[dict[str, frozenset[str]]] = {
    **{tag: ALIGNMENT_CLASSES | INDENT_CLASSES for tag in BLOCK_TAGS},
    "div": ALIGNMENT_CLASSES | INDENT_CLASSES | {PAGE_BREAK_CLASS},
    "span": FIELD_CLASSES,
}

ALLOWED_ATTRIBUTES: Final[dict[str, set[str]]] = {
    **{tag: {"style"} for tag in ALLOWED_TAGS - {"br", "hr"}},
    "a": {"href", "style"},
    "img": {"src", "alt", "width", "height", "style"},
    "td": {"colspan", "rowspan", "style"},
    "th": {"colspan", "rowspan", "style"},
    "span": {"data-field", "data-kind", "data-party", "id", "style"},
}
for _tag in ALLOWED_CLASSES:
    ALLOWED_ATTRIBUTES[_tag].add("class")

LINK_REL: Final = "noopener noreferrer nofollow"

ALLOWED_STYLE_PROPERTIES: Final = frozenset(
    {
        "text-align",
        "margin-left",
        "padding-left",
        "width",
        "font-weight",
        "font-style",
        "text-decoration",
    }
)
WIDTH_TAGS: Final = frozenset({"td", "th", "img", "table"})
# Indentation up to 10em; 1em = 16px = 12pt at the editor's base size.
MAX_INDENT: Final[dict[str, float]] = {"em": 10.0, "px": 160.0, "pt": 120.0}
MAX_WIDTH_PX: Final = 4000

_LENGTH = re.compile(r"(\d{1,4}(?:\.\d{1,3})?|\.\d{1,3})(px|pt|em)")
_WIDTH = re.compile(r"(\d{1,4}(?:\.\d{1,3})?)(%|px)")
_STYLE_KEYWORDS: Final[dict[str, frozenset[str]]] = {
    "text-align": frozenset({"left", "right", "center", "justify"}),
    "font-weight": frozenset({"normal", "bold", "bolder", "lighter"} | {f"{n}00" for n in range(1, 10)}),
    "font-style": frozenset({"normal", "italic", "oblique"}),
}
_TEXT_DECORATION: Final = frozenset({"none", "underline", "line-through", "overline"})

_HREF = re.compile(r"(?:https?://[A-Za-z0-9\[]|mailto:)[^\x00-\x20\x7f<>\"'`\\]*", re.IGNORECASE)
_IMAGE_DATA_URL = re.compile(r"data:image/(?:png|jpeg);base64,[A-Za-z0-9+/]+={0,2}")
_IMAGE_PATH = re.compile(
    r"/documents/images/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/?", re.IGNORECASE
)
_FIELD_ID = re.compile(r"ec-field-[A-Za-z0-9_]+-\d+")
_FIELD_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SPAN_NUMBER = re.compile(r"[1-9]\d{0,2}")
_PIXELS = re.compile(r"\d{1,4}")

# Elements that never have children, and those an HTML parser closes when a sibling of the same
# kind opens; both keep the depth estimate of an editor document honest.
_VOID_TAGS: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_SELF_CLOSING_SIBLINGS: Final = frozenset({"p", "li", "td", "th", "tr", "dt", "dd", "option"})


class UnsafeHtml(ValueError):
    """HTML was refused before sanitising; ``code`` is stable for API clients and translations."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


def clean_html(html: str) -> str:
    """Return ``html`` reduced to the editor's allowlist; raise :class:`UnsafeHtml` if unbounded."""
    _check_bounds(html)
    cleaned = _nh3_pass(html)
    for _ in range(MAX_PASSES - 1):
        # The parser may add elements (a table's implied tbody and tr) and escaping may grow the
        # text: each output is held to the same bounds, so cleaning it again cannot fail.
        _check_bounds(cleaned)
        again = _nh3_pass(cleaned)
        if again == cleaned:
            return cleaned
        cleaned = again
    raise UnsafeHtml(HTML_UNSTABLE, f"sanitised output still changed after {MAX_PASSES} passes")


def _nh3_pass(html: str) -> str:
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        strip_comments=True,
        link_rel=LINK_REL,
        # Relative URLs stay (our image path); _filter_attribute restricts href and src further.
        url_schemes={"http", "https", "mailto", "data"},
        filter_style_properties=set(ALLOWED_STYLE_PROPERTIES),
    )


def _check_bounds(html: str) -> None:
    if len(html) > MAX_HTML_BYTES or len(html.encode("utf-8", "surrogatepass")) > MAX_HTML_BYTES:
        raise UnsafeHtml(HTML_TOO_LARGE, f"HTML larger than {MAX_HTML_BYTES} bytes")
    if html.count("&") > MAX_CHARACTER_REFERENCES:
        raise UnsafeHtml(HTML_TOO_LARGE, f"more than {MAX_CHARACTER_REFERENCES} character references")
    depth = nesting_depth(html, limit=MAX_DEPTH)
    if depth > MAX_DEPTH:
        raise UnsafeHtml(HTML_TOO_DEEP, f"elements nested deeper than {MAX_DEPTH}")


_TAG_START = re.compile(r"<(/?)([A-Za-z][^\s/>]*)")


def nesting_depth(html: str, limit: int = MAX_DEPTH) -> int:
    """How deep elements nest in ``html`` (an upper bound); stops counting just past ``limit``.

    A single forward scan, not :mod:`html.parser`, which rescans unfinished tags and comments and
    so takes quadratic time on input such as ``"<a" * 100_000``. Tags inside script, style or an
    attribute value are counted too: over-counting refuses odd input, under-counting would not.
    """
    open_tags: list[str] = []
    deepest = 0
    position = 0
    while deepest <= limit:
        start = html.find("<", position)
        if start < 0:
            break
        if html.startswith("<!--", start):
            end = html.find("-->", start + 4)
            if end < 0:
                break
            position = end + 3
            continue
        match = _TAG_START.match(html, start)
        if match is None:
            position = start + 1
            continue
        position = match.end()
        closing, tag = match.group(1) == "/", match.group(2).lower()
        if closing:
            if tag in open_tags:
                while open_tags.pop() != tag:
                    pass
            continue
        if tag in _VOID_TAGS:
            continue
        if tag in _SELF_CLOSING_SIBLINGS and open_tags and open_tags[-1] == tag:
            open_tags.pop()
        open_tags.append(tag)
        deepest = max(deepest, len(open_tags))
    return deepest


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    """nh3's per-attribute callback: the value to keep (maybe normalised), or None to drop it."""
    if attribute == "class":
        return _filter_classes(tag, value)
    if attribute == "style":
        return filter_style(tag, value)
    if attribute == "rel" and tag == "a":
        return value  # set by nh3 itself (link_rel)
    if attribute == "href" and tag == "a":
        return value if _HREF.fullmatch(value.strip()) else None
    if attribute == "src" and tag == "img":
        src = value.strip()
        return src if _IMAGE_DATA_URL.fullmatch(src) or _IMAGE_PATH.fullmatch(src) else None
    if attribute == "alt" and tag == "img":
        return value
    if attribute in ("width", "height") and tag == "img":
        return value.strip() if _PIXELS.fullmatch(value.strip()) else None
    if attribute in ("colspan", "rowspan") and tag in ("td", "th"):
        return value.strip() if _SPAN_NUMBER.fullmatch(value.strip()) else None
    if tag == "span":
        return _filter_field_attribute(attribute, value)
    return None


def _filter_classes(tag: str, value: str) -> str | None:
    allowed = ALLOWED_CLASSES.get(tag, frozenset())
    kept: list[str] = []
    for name in value.split():
        if name in allowed and name not in kept:
            kept.append(name)
    return " ".join(kept) or None


def _filter_field_attribute(attribute: str, value: str) -> str | None:
    if attribute == "id":
        return value if _FIELD_ID.fullmatch(value) else None
    if attribute == "data-kind":
        return value if value in FIELD_KINDS else None
    if attribute in ("data-field", "data-party"):
        return value if _FIELD_NAME.fullmatch(value) else None
    return None


def filter_style(tag: str, style: str) -> str | None:
    """Keep only allowed declarations with values matching strict patterns; None if none is left.

    Values are matched whole against keywords and plain numbers, so no function (``url(``,
    ``expression(``), escape, comment or at-rule can survive inside a kept declaration.
    """
    kept: dict[str, str] = {}
    for declaration in style.split(";"):
        name, colon, raw_value = declaration.partition(":")
        if not colon:
            continue
        name = name.strip().lower()
        value = _style_value(tag, name, raw_value.strip().lower())
        if value is not None:
            kept[name] = value
    return ";".join(f"{name}:{value}" for name, value in kept.items()) or None


def _style_value(tag: str, name: str, value: str) -> str | None:
    if name in _STYLE_KEYWORDS:
        return value if value in _STYLE_KEYWORDS[name] else None
    if name == "text-decoration":
        words = value.split()
        if words and len(words) <= 3 and all(word in _TEXT_DECORATION for word in words):
            return " ".join(words)
        return None
    if name in ("margin-left", "padding-left"):
        if value == "0":
            return value
        match = _LENGTH.fullmatch(value)
        if match and float(match.group(1)) <= MAX_INDENT[match.group(2)]:
            return value
        return None
    if name == "width" and tag in WIDTH_TAGS:
        match = _WIDTH.fullmatch(value)
        if not match:
            return None
        limit = 100.0 if match.group(2) == "%" else float(MAX_WIDTH_PX)
        return value if float(match.group(1)) <= limit else None
    return None
