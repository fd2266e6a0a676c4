"""A readable diff between two versions of an editor document: by word for Latin, by character for CJK.

:func:`diff_html` sanitises both versions (:func:`~econtract.documents.sanitizing.clean_html`, so
the diff shows what readers are shown), reads their text with :mod:`html.parser` (never rendering
their markup), cuts it into blocks (paragraphs, headings, list items, table rows, quotes), aligns
the blocks, then diffs the tokens of each aligned pair:

- A token is a word (letters, digits, ``'``, ``’``, ``-``), a run of whitespace, one punctuation
  character, or one CJK character (ideographs incl. extension A and beyond, CJK and full-width
  punctuation, kana, Hangul), so English diffs by word and Chinese by character.
- Blocks are aligned first (:class:`difflib.SequenceMatcher` over block texts), and changed blocks
  are paired by similarity, so a paragraph inserted in the middle is one inserted block instead of a
  cascade of edits in every block after it.
- Signature-field placeholders show as one token such as ``[signature: buyer]``; images as
  ``[image: alt]``; their markup is ignored.
- The rendering (:attr:`DiffResult.html`) is built from escaped text and a few fixed tags (``p``,
  ``h1``–``h4``, ``ul``/``li``, ``blockquote``, ``ins``, ``del``); nothing of either version's markup
  or attributes is carried over, so the diff page is safe to show without sanitising.

Bounded: :data:`MAX_HTML_BYTES` per version (and the sanitiser's own bounds), :data:`MAX_TOKENS`
tokens per version; a pair of blocks too large to diff token by token within :data:`MAX_PAIR_WORK`
is shown as replaced (after trimming the tokens they share at both ends), and large changed regions
are paired by position or not at all. Pure: no Django, no database.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from html import escape
from html.parser import HTMLParser
from typing import Final, Literal

from econtract.documents.sanitizing import UnsafeHtml, clean_html

MAX_HTML_BYTES: Final = 2 * 1024 * 1024
MAX_TOKENS: Final = 200_000
# Token comparisons allowed for one pair of blocks (len(old) * len(new) after trimming).
MAX_PAIR_WORK: Final = 4_000_000
# Block comparisons allowed when pairing the blocks of one changed region by similarity.
MAX_PAIRING_WORK: Final = 2_500
MAX_BLOCK_ALIGN_WORK: Final = 25_000_000
# Largest pair of blocks (tokens * tokens) whose similarity is computed exactly when pairing.
MAX_EXACT_SIMILARITY_WORK: Final = 62_500
# ... and for all pairs of one changed region together.
MAX_EXACT_SIMILARITY_BUDGET: Final = 10_000_000
PAIRING_CUTOFF: Final = 0.5

DIFF_TOO_LARGE: Final = "diff_too_large"

OpKind = Literal["equal", "insert", "delete"]
ChangeKind = Literal["insert", "delete"]

_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3000-\u303f"  # CJK symbols and punctuation: 。、《》【】「」
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u3100-\u31ff"  # Bopomofo, Hangul compatibility Jamo, Katakana extensions
    "\u3400-\u4dbf"  # CJK Unified Ideographs Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\uac00-\ud7af"  # Hangul syllables
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\ufe30-\ufe4f"  # CJK compatibility forms
    "\uff00-\uffef"  # half-width and full-width forms: ，；：？！（）
    "\U00020000-\U0003134f"  # Extensions B to G
)
_TOKEN = re.compile(
    rf"[{_CJK}]"  # one CJK character
    rf"|(?:(?![{_CJK}])[\w'’\-])+"  # a word: letters, digits, apostrophes, hyphens
    r"|\s+"  # a whitespace run
    r"|.",  # any other character: punctuation, symbols
    re.DOTALL,
)
_WHITESPACE = re.compile(r"\s+")

_HEADINGS: Final = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
_BLOCK_BOUNDARIES: Final = frozenset(
    {"p", "li", "div", "blockquote", "hr", "br", "ul", "ol", "table", "thead", "tbody", "tfoot", "caption"}
    | _HEADINGS
)
_CELLS: Final = frozenset({"td", "th"})
_VOID_TAGS: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)
_SELF_CLOSING_SIBLINGS: Final = frozenset({"p", "li", "td", "th", "tr"})
CELL_SEPARATOR: Final = " | "
# Elements whose content is code or metadata, not document text.
_NOT_TEXT: Final = frozenset({"script", "style", "template", "noscript", "title", "textarea", "xmp"})


class DiffTooLarge(ValueError):
    """A version is too large to diff; ``code`` is stable for API clients and translations."""

    code = DIFF_TOO_LARGE

    def __init__(self, detail: str) -> None:
        super().__init__(f"{DIFF_TOO_LARGE}: {detail}")
        self.detail = detail


@dataclass(frozen=True)
class Block:
    """One paragraph, heading, list item, table row or quote: its kind and its tokens."""

    kind: str  # "p", "h1".."h4", "li", "row", "quote"
    tokens: tuple[str, ...]
    level: int = 0  # list nesting, 1 for a top-level list item

    @property
    def text(self) -> str:
        return "".join(self.tokens)


@dataclass(frozen=True)
class Opcode:
    """A run of tokens that is the same in both versions, only in the new one, or only in the old."""

    kind: OpKind
    text: str
    block: int  # index into DiffResult.blocks
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True)
class Change:
    kind: ChangeKind
    text: str
    block: int  # index into DiffResult.blocks


@dataclass(frozen=True)
class DiffBlock:
    """One block of the rendering: from the old version, the new one, or both (aligned)."""

    kind: str
    level: int
    old_index: int | None
    new_index: int | None


@dataclass
class DiffResult:
    html: str
    insertions: int  # inserted tokens, whitespace not counted
    deletions: int  # deleted tokens, whitespace not counted
    changes: list[Change]
    opcodes: list[Opcode]
    blocks: list[DiffBlock] = field(default_factory=list)

    def old_texts(self) -> list[str]:
        """The old version's block texts, rebuilt from the equal and deleted runs."""
        return self._texts("delete", lambda block: block.old_index is not None)

    def new_texts(self) -> list[str]:
        """The new version's block texts, rebuilt from the equal and inserted runs."""
        return self._texts("insert", lambda block: block.new_index is not None)

    def _texts(self, side: OpKind, present: Callable[[DiffBlock], bool]) -> list[str]:
        texts = ["" for _ in self.blocks]
        for opcode in self.opcodes:
            if opcode.kind in ("equal", side):
                texts[opcode.block] += opcode.text
        return [text for text, block in zip(texts, self.blocks, strict=True) if present(block)]


def tokenize(text: str) -> list[str]:
    """Split text into diff tokens: words, whitespace runs, punctuation, single CJK characters."""
    return _TOKEN.findall(text)


def extract_blocks(html: str) -> list[Block]:
    """The text blocks of an editor document, in order; empty blocks are left out.

    Expects sanitised HTML (:func:`diff_html` and :func:`block_texts` clean it first).
    """
    reader = _BlockReader()
    reader.feed(html)
    reader.close()
    reader.flush()
    return reader.blocks


def block_texts(html: str) -> list[str]:
    """The block texts of a document as :func:`diff_html` compares them (sanitised first)."""
    return [block.text for block in extract_blocks(clean_html(html))]


def diff_html(old_html: str, new_html: str) -> DiffResult:
    """Diff two versions of an editor document; raise :class:`DiffTooLarge` past the bounds."""
    old_blocks = _bounded_blocks(old_html, "old")
    new_blocks = _bounded_blocks(new_html, "new")
    builder = _DiffBuilder(old_blocks, new_blocks)
    for old_index, new_index in align_blocks(old_blocks, new_blocks):
        builder.add(old_index, new_index)
    return builder.result()


def _bounded_blocks(html: str, which: str) -> list[Block]:
    if len(html) > MAX_HTML_BYTES or len(html.encode("utf-8", "surrogatepass")) > MAX_HTML_BYTES:
        raise DiffTooLarge(f"the {which} version is larger than {MAX_HTML_BYTES} bytes")
    try:
        # What the reader is shown, and well-formed: html.parser rescans unfinished tags and
        # comments and would take quadratic time on raw input such as "<a" * 100_000.
        cleaned = clean_html(html)
    except UnsafeHtml as refused:
        raise DiffTooLarge(f"the {which} version was refused ({refused.code})") from refused
    blocks = extract_blocks(cleaned)
    if sum(len(block.tokens) for block in blocks) > MAX_TOKENS:
        raise DiffTooLarge(f"the {which} version has more than {MAX_TOKENS} tokens")
    return blocks


class _BlockReader(HTMLParser):
    """Collects block texts from HTML; the markup itself is never kept."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[Block] = []
        self.open: list[str] = []
        self.pieces: list[tuple[bool, str]] = []  # (atomic token?, text)
        self.kind = "p"
        self.level = 0
        self.in_row = False
        self.cells = 0
        self.field_spans = 0  # > 0 while inside a signature-field span (its text is a placeholder)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.field_spans:
            if tag == "span":
                self.field_spans += 1
            return
        if tag in _SELF_CLOSING_SIBLINGS and self.open and self.open[-1] == tag:
            self.open.pop()
        if tag not in _VOID_TAGS:
            self.open.append(tag)
        attributes = {name: value or "" for name, value in attrs}
        if tag == "tr":
            self.flush()
            self.in_row = True
            self.kind, self.level = "row", 0
        elif tag in _CELLS and self.in_row:
            if self.cells:
                self.pieces.append((False, CELL_SEPARATOR))
            self.cells += 1
        elif tag in _BLOCK_BOUNDARIES or tag in _CELLS:
            self._boundary()
        elif tag == "span" and _is_field(attributes):
            self._add_atom(_field_label(attributes))
            self.field_spans = 1
        elif tag == "img":
            alt = _WHITESPACE.sub(" ", attributes.get("alt", "")).strip()
            self._add_atom(f"[image: {alt}]" if alt else "[image]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.field_spans:
            if tag == "span":
                self.field_spans -= 1
                if not self.field_spans and "span" in self.open:
                    self._close(tag)
            return
        self._close(tag)
        if tag in ("tr", "table") and self.in_row:
            self.flush()
        elif tag in _BLOCK_BOUNDARIES or (tag in _CELLS and not self.in_row):
            self._boundary()

    def handle_data(self, data: str) -> None:
        if self.field_spans or not data or not _NOT_TEXT.isdisjoint(self.open):
            return
        if not self.pieces:
            self._start_block()
        self.pieces.append((False, data))

    def _close(self, tag: str) -> None:
        if tag in self.open:
            while self.open.pop() != tag:
                pass

    def _boundary(self) -> None:
        if self.in_row:
            self.pieces.append((False, " "))  # a paragraph or line break inside a cell
        else:
            self.flush()

    def _add_atom(self, label: str) -> None:
        if not self.pieces:
            self._start_block()
        self.pieces.append((True, label))

    def _start_block(self) -> None:
        self.level = sum(1 for tag in self.open if tag in ("ul", "ol"))
        if self.in_row:
            self.kind = "row"
            return
        self.kind = "p"
        for tag in reversed(self.open):
            if tag in _HEADINGS:
                self.kind = "h" + str(min(int(tag[1]), 4))
                break
            if tag == "li":
                self.kind = "li"
                break
            if tag == "blockquote":
                self.kind = "quote"
                break

    def flush(self) -> None:
        tokens = _block_tokens(self.pieces)
        if tokens:
            self.blocks.append(Block(self.kind, tuple(tokens), self.level if self.kind == "li" else 0))
        self.pieces = []
        self.in_row = False
        self.cells = 0


def _is_field(attributes: dict[str, str]) -> bool:
    classes = attributes.get("class", "").split()
    return "ec-field" in classes or "data-kind" in attributes


def _field_label(attributes: dict[str, str]) -> str:
    kind = attributes.get("data-kind", "")
    if not kind:
        kinds = [
            name[len("ec-field-") :]
            for name in attributes.get("class", "").split()
            if name.startswith("ec-field-")
        ]
        kind = kinds[0] if kinds else "field"
    party = attributes.get("data-party", "")
    label = f"{kind}: {party}" if party else kind
    return "[" + _WHITESPACE.sub(" ", label).strip() + "]"


def _block_tokens(pieces: list[tuple[bool, str]]) -> list[str]:
    """Tokens of a block, whitespace collapsed as a browser would and trimmed at both ends."""
    tokens: list[str] = []
    for atomic, text in pieces:
        for token in [text] if atomic else tokenize(_WHITESPACE.sub(" ", text)):
            if token.isspace():
                if tokens and not tokens[-1].isspace():
                    tokens.append(" ")
            else:
                tokens.append(token)
    if tokens and tokens[-1].isspace():
        tokens.pop()
    return tokens


def align_blocks(old: list[Block], new: list[Block]) -> list[tuple[int | None, int | None]]:
    """Pairs (old index, new index) in document order; None where a block is only on one side."""
    old_texts = [block.text for block in old]
    new_texts = [block.text for block in new]
    # Many repeated blocks make SequenceMatcher quadratic; past this size popular blocks are junk.
    autojunk = len(old_texts) * len(new_texts) > MAX_BLOCK_ALIGN_WORK
    matcher = SequenceMatcher(None, old_texts, new_texts, autojunk=autojunk)
    pairs: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend(zip(range(i1, i2), range(j1, j2), strict=True))
        elif i1 == i2 or j1 == j2 or (i2 - i1) * (j2 - j1) > MAX_PAIRING_WORK:
            pairs.extend(_pair_in_order(i1, i2, j1, j2, positional=i2 - i1 == j2 - j1))
        else:
            scores = _similarities(old[i1:i2], new[j1:j2])
            pairs.extend(_pair_similar(old, new, scores, i1, i2, j1, j2, i1, j1))
    return pairs


def _pair_in_order(
    i1: int, i2: int, j1: int, j2: int, positional: bool
) -> list[tuple[int | None, int | None]]:
    if positional:
        return list(zip(range(i1, i2), range(j1, j2), strict=True))
    return [(i, None) for i in range(i1, i2)] + [(None, j) for j in range(j1, j2)]


def _pair_similar(
    old: list[Block],
    new: list[Block],
    scores: list[list[float]],
    i1: int,
    i2: int,
    j1: int,
    j2: int,
    i0: int,
    j0: int,
) -> list[tuple[int | None, int | None]]:
    """Pair the most similar blocks of a changed region, then recurse on both sides of the pair
    (as difflib.Differ does for lines); ``scores`` is indexed from the region's start (i0, j0)."""
    if i1 == i2 or j1 == j2:
        return _pair_in_order(i1, i2, j1, j2, positional=False)
    best, best_i, best_j = PAIRING_CUTOFF, -1, -1
    for j in range(j1, j2):
        for i in range(i1, i2):
            if scores[i - i0][j - j0] > best:
                best, best_i, best_j = scores[i - i0][j - j0], i, j
    if best_i < 0:
        if i2 - i1 == j2 - j1 == 1 and old[i1].kind == new[j1].kind:
            # One block rewritten in place: shown as one edited block rather than two.
            return [(i1, j1)]
        return _pair_in_order(i1, i2, j1, j2, positional=False)
    return (
        _pair_similar(old, new, scores, i1, best_i, j1, best_j, i0, j0)
        + [(best_i, best_j)]
        + _pair_similar(old, new, scores, best_i + 1, i2, best_j + 1, j2, i0, j0)
    )


def _similarities(old: list[Block], new: list[Block]) -> list[list[float]]:
    """Similarity in [0, 1] of every old block to every new block, whitespace left out.

    Exact (SequenceMatcher.ratio) for paragraph-sized blocks while the region's budget lasts;
    otherwise the bag-of-tokens bound (as quick_ratio), which is linear, so a region of many or
    long blocks cannot stall the diff.
    """
    old_words = [[token for token in block.tokens if not token.isspace()] for block in old]
    new_words = [[token for token in block.tokens if not token.isspace()] for block in new]
    old_bags = [Counter(words) for words in old_words]
    new_bags = [Counter(words) for words in new_words]
    scores: list[list[float]] = []
    budget = MAX_EXACT_SIMILARITY_BUDGET
    for a, bag_a in zip(old_words, old_bags, strict=True):
        row: list[float] = []
        for b, bag_b in zip(new_words, new_bags, strict=True):
            total = len(a) + len(b)
            bound = 2.0 * sum((bag_a & bag_b).values()) / total if total else 1.0
            work = len(a) * len(b)
            if bound > PAIRING_CUTOFF and work <= min(MAX_EXACT_SIMILARITY_WORK, budget):
                budget -= work
                bound = SequenceMatcher(None, a, b, autojunk=False).ratio()
            row.append(bound)
        scores.append(row)
    return scores


Segment = tuple[OpKind, tuple[str, ...]]


def diff_tokens(old: tuple[str, ...], new: tuple[str, ...]) -> list[Segment]:
    """Equal, deleted and inserted token runs turning ``old`` into ``new``, readable and bounded."""
    prefix = 0
    while prefix < min(len(old), len(new)) and old[prefix] == new[prefix]:
        prefix += 1
    suffix = 0
    while suffix < min(len(old), len(new)) - prefix and old[-1 - suffix] == new[-1 - suffix]:
        suffix += 1
    old_middle = old[prefix : len(old) - suffix]
    new_middle = new[prefix : len(new) - suffix]
    segments: list[Segment] = [("equal", old[:prefix])]
    if len(old_middle) * len(new_middle) > MAX_PAIR_WORK:
        segments += [("delete", old_middle), ("insert", new_middle)]
    else:
        matcher = SequenceMatcher(None, old_middle, new_middle, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                segments.append(("equal", old_middle[i1:i2]))
            else:
                segments += [("delete", old_middle[i1:i2]), ("insert", new_middle[j1:j2])]
    segments.append(("equal", old[len(old) - suffix :]))
    return _merge_runs(_absorb_lone_spaces([segment for segment in segments if segment[1]]))


def _absorb_lone_spaces(segments: list[Segment]) -> list[Segment]:
    """A space alone between two edits becomes part of them: "<del>a b</del>", not "<del>a</del> <del>b</del>"."""
    result: list[Segment] = []
    for index, (kind, tokens) in enumerate(segments):
        between_edits = 0 < index < len(segments) - 1 and all(token.isspace() for token in tokens)
        if (
            kind == "equal"
            and between_edits
            and segments[index - 1][0] != "equal"
            and segments[index + 1][0] != "equal"
        ):
            result += [("delete", tokens), ("insert", tokens)]
        else:
            result.append((kind, tokens))
    return result


def _merge_runs(segments: list[Segment]) -> list[Segment]:
    """Within each run of edits, all deletions first, then all insertions, each as one segment."""
    merged: list[Segment] = []
    deleted: list[str] = []
    inserted: list[str] = []

    def close_run() -> None:
        if deleted:
            merged.append(("delete", tuple(deleted)))
        if inserted:
            merged.append(("insert", tuple(inserted)))
        deleted.clear()
        inserted.clear()

    for kind, tokens in segments:
        if kind == "delete":
            deleted.extend(tokens)
        elif kind == "insert":
            inserted.extend(tokens)
        else:
            close_run()
            merged.append((kind, tokens))
    close_run()
    return merged


class _DiffBuilder:
    def __init__(self, old: list[Block], new: list[Block]) -> None:
        self.old = old
        self.new = new
        self.blocks: list[DiffBlock] = []
        self.opcodes: list[Opcode] = []
        self.rendered: list[tuple[DiffBlock, str]] = []

    def add(self, old_index: int | None, new_index: int | None) -> None:
        old_block = self.old[old_index] if old_index is not None else None
        new_block = self.new[new_index] if new_index is not None else None
        shown = new_block or old_block
        assert shown is not None, "an aligned pair has at least one side"
        block = DiffBlock(shown.kind, shown.level, old_index, new_index)
        old_tokens = old_block.tokens if old_block else ()
        new_tokens = new_block.tokens if new_block else ()
        number = len(self.blocks)
        self.blocks.append(block)
        parts: list[str] = []
        for kind, tokens in diff_tokens(old_tokens, new_tokens):
            text = "".join(tokens)
            self.opcodes.append(Opcode(kind, text, number, tokens))
            escaped = escape(text, quote=True)
            parts.append(
                {"equal": escaped, "insert": f"<ins>{escaped}</ins>", "delete": f"<del>{escaped}</del>"}[kind]
            )
        self.rendered.append((block, "".join(parts)))

    def result(self) -> DiffResult:
        changes = [Change(op.kind, op.text, op.block) for op in self.opcodes if op.kind != "equal"]
        return DiffResult(
            html=_render(self.rendered),
            insertions=_count_words(self.opcodes, "insert"),
            deletions=_count_words(self.opcodes, "delete"),
            changes=changes,
            opcodes=self.opcodes,
            blocks=self.blocks,
        )


def _count_words(opcodes: list[Opcode], kind: OpKind) -> int:
    return sum(1 for op in opcodes if op.kind == kind for token in op.tokens if not token.isspace())


def _render(rendered: list[tuple[DiffBlock, str]]) -> str:
    lines: list[str] = []
    in_list = False
    for block, content in rendered:
        if block.kind == "li" and not in_list:
            lines.append('<ul class="diff-list">')
        elif block.kind != "li" and in_list:
            lines.append("</ul>")
        in_list = block.kind == "li"
        classes = ["diff-block"]
        if block.old_index is None:
            classes.append("diff-inserted")
        elif block.new_index is None:
            classes.append("diff-deleted")
        if block.kind == "li":
            classes.append(f"diff-level-{min(block.level, 8)}")
        tag = {"row": "p", "quote": "blockquote", "li": "li"}.get(block.kind, block.kind)
        if block.kind == "row":
            classes.append("diff-row")
        lines.append(f'<{tag} class="{" ".join(classes)}">{content}</{tag}>')
    if in_list:
        lines.append("</ul>")
    return "\n".join(lines)
