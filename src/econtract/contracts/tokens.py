"""The archive search's tokens, made in Python so that SQLite and PostgreSQL index the same ones.

Chinese is written without spaces and most of its words have two characters, so a run of CJK
characters is indexed as its overlapping bigrams followed by its last character alone:
``年度采购框架协议`` → ``年度 度采 采购 购框 框架 架协 协议 议``. A query's run of two or more
characters is the phrase of its bigrams (``采购框架`` → ``采购 购框 框架``, adjacent and in order);
one character is a prefix (``采*`` matches ``采购`` and a run ending in ``采``). The last character
alone is what lets a prefix find a character at the end of a run, and what joins a run to the word
after it in a mixed phrase (``采购A`` → ``采购 购 a``).

Other words are lowercased, stripped of diacritics and, when they are plain ASCII letters, reduced
to their Porter stem (``agreements`` → ``agreement``), so an English query finds the word's other
forms. The same functions build the index, the query and the highlighted snippet, which therefore
marks exactly what the database matched. This module imports neither Django nor a database.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import islice

# Han (with extensions A-G and compatibility ideographs), kana and Hangul: scripts written without
# spaces between words (Korean has spaces, but bigrams do no harm there and help compounds).
_CJK = "\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
_CJK_CHAR = re.compile(f"[{_CJK}]")
_TOKEN = re.compile(f"([{_CJK}]+)|([^\\W_{_CJK}]+)")
_CJK_PAIR_GAP = re.compile(f"(?<=[{_CJK}])\\s+(?=[{_CJK}])")
# Control characters become spaces; format characters (soft hyphen, zero-width and bidirectional
# marks, BOM), surrogates left by broken text layers and noncharacters are dropped.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]+")
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb\ud800-\udfff\ufffe\uffff]"
)
_SPACE = re.compile(r"\s+")
_QUOTED = re.compile(r'"([^"]*)"?')
_CURLY_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u300c": '"', "\u300d": '"'})

MAX_QUERY_CHARS = 300
MAX_PHRASES = 16
MAX_QUERY_TOKENS = 64


def is_cjk(char: str) -> bool:
    return _CJK_CHAR.match(char) is not None


def normalize(text: str, *, join_cjk: bool = True) -> str:
    """Text as it is shown in snippets and searched: NFKC (full-width letters and digits become
    ASCII), invisible and control characters removed, whitespace collapsed to single spaces and,
    with ``join_cjk``, none left between two CJK characters (a line break in a PDF would split a
    Chinese word otherwise)."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = _CONTROL.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    return _CJK_PAIR_GAP.sub("", text) if join_cjk else text


@lru_cache(maxsize=65536)
def word_token(word: str) -> str:
    """The index token of a word that is not CJK: case-folded, without diacritics, Porter-stemmed."""
    folded = word.casefold()
    if not folded.isascii():
        decomposed = unicodedata.normalize("NFKD", folded)
        folded = "".join(char for char in decomposed if not unicodedata.combining(char))
        folded = unicodedata.normalize("NFKC", folded)
    if folded.isascii() and folded.isalpha():
        return porter_stem(folded)
    return folded


def tokens_with_offsets(text: str) -> Iterator[tuple[str, int, int]]:
    """Index tokens of normalized ``text`` in order, each with the span of text it stands for."""
    for match in _TOKEN.finditer(text):
        start, end = match.span()
        if match.group(1) is not None:
            for index in range(start, end - 1):
                yield text[index : index + 2], index, index + 2
            yield text[end - 1], end - 1, end
        else:
            token = word_token(match.group(2))
            if token:
                yield token, start, end


def index_form(text: str) -> str:
    """Normalized ``text`` as the space-separated tokens the full-text index is given."""
    return " ".join(token for token, _start, _end in tokens_with_offsets(text))


# --- queries ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryToken:
    text: str
    prefix: bool = False  # matches any index token starting with ``text`` (a single CJK character)


@dataclass(frozen=True)
class Phrase:
    """Tokens that must appear adjacent and in this order."""

    tokens: tuple[QueryToken, ...]
    # The CJK run this phrase consists of, when it is nothing else (two or more characters): on
    # PostgreSQL its bigrams are ANDed and the run is checked as a substring of the text, since
    # tsvector positions stop at 16,383 and a phrase beyond them would not be found.
    cjk_run: str = ""

    def __str__(self) -> str:
        return " ".join(token.text + ("*" if token.prefix else "") for token in self.tokens)


def parse_query(q: str) -> list[Phrase]:
    """The phrases of a query, all of which must match: each word separated by spaces is one (its
    tokens adjacent, as ``HT-2026-0001`` or ``第3条`` are written), and so is each ``"quoted text"``.

    Everything else the user typed (FTS operators, quotes, brackets, ``*``) is not syntax: it is text,
    and punctuation in it separates tokens. A query with no tokens at all has no phrases."""
    # spaces between Chinese words typed in a query separate them; inside quotes they do not
    q = normalize(q[:MAX_QUERY_CHARS].translate(_CURLY_QUOTES), join_cjk=False)
    pieces: list[str] = []
    position = 0
    for quoted in _QUOTED.finditer(q):
        pieces.extend(q[position : quoted.start()].split())
        pieces.append(quoted.group(1))
        position = quoted.end()
    pieces.extend(q[position:].split())
    phrases: list[Phrase] = []
    budget = MAX_QUERY_TOKENS
    for piece in pieces:
        phrase = _phrase(normalize(piece))
        if phrase is None or phrase in phrases:
            continue
        if len(phrase.tokens) > budget or len(phrases) == MAX_PHRASES:
            break
        budget -= len(phrase.tokens)
        phrases.append(phrase)
    return phrases


def _phrase(text: str) -> Phrase | None:
    parts = list(_TOKEN.finditer(text))
    tokens: list[QueryToken] = []
    for index, match in enumerate(parts):
        followed = index + 1 < len(parts)
        if match.group(1) is None:
            token = word_token(match.group(2))
            if token:
                tokens.append(QueryToken(token))
            continue
        run = match.group(1)
        if len(run) == 1:
            # followed by a word, the character ends its run in the text: it is indexed alone
            tokens.append(QueryToken(run, prefix=not followed))
            continue
        tokens.extend(QueryToken(run[i : i + 2]) for i in range(len(run) - 1))
        if followed:  # the run ends here in the text too, where its last character is indexed alone
            tokens.append(QueryToken(run[-1]))
    if not tokens:
        return None
    only_run = len(parts) == 1 and parts[0].group(1) is not None and len(parts[0].group(1)) > 2
    return Phrase(tuple(tokens), cjk_run=parts[0].group(1) if only_run else "")


def find_phrases(text: str, phrases: list[Phrase], start: int = 0) -> Iterator[tuple[int, int]]:
    """Spans of ``text`` (normalized) where a phrase matches, as the index matches it, in order of
    their ends; from offset ``start`` on."""
    longest = max((len(phrase.tokens) for phrase in phrases), default=0)
    if not longest:
        return
    window: list[tuple[str, int, int]] = []
    for token in tokens_with_offsets(text[start:]):
        window.append(token)
        if len(window) > longest:
            del window[0]
        for phrase in phrases:
            size = len(phrase.tokens)
            if size > len(window):
                continue
            candidate = window[-size:]
            if all(
                found.startswith(wanted.text) if wanted.prefix else found == wanted.text
                for (found, _s, _e), wanted in zip(candidate, phrase.tokens, strict=True)
            ):
                yield start + candidate[0][1], start + candidate[-1][2]


def first_match(text: str, phrases: list[Phrase]) -> tuple[int, int] | None:
    """The span of the first match of any phrase in ``text`` (normalized), or None.

    Candidates are found with plain string searches (a CJK token is itself a substring; a stemmed
    word starts with its stem, give or take a final e or i) and each is checked with the tokens
    around it, so a long text is not tokenized to its end."""
    best: tuple[int, int] | None = None
    for phrase in phrases:
        bound = len(text) if best is None else best[0] + 1
        for position in _candidates(text, phrase.tokens[0], 0, bound):
            span = _match_at(text, position, phrase)
            if span is not None:
                best = span if best is None or span[0] < best[0] else best
                break
    if best is None:  # a folding the string search does not see (ß, diacritics): the slow way
        best = next(find_phrases(text[:FALLBACK_CHARS], phrases), None)
    return best


def match_spans(text: str, phrases: list[Phrase], start: int, end: int) -> list[tuple[int, int]]:
    """Spans of every match of any phrase lying inside ``text[start:end]``, in order."""
    spans = set()
    for phrase in phrases:
        for position in _candidates(text, phrase.tokens[0], start, end):
            span = _match_at(text, position, phrase)
            if span is not None and span[1] <= end:
                spans.add(span)
    if not spans:
        spans.update(
            (span_start, span_end)
            for span_start, span_end in find_phrases(text[:end], phrases, start)
            if span_end <= end
        )
    return sorted(spans)


FALLBACK_CHARS = 20_000
_MATCH_WINDOW = 64  # characters of text read per token of the phrase to check a candidate


def _candidates(text: str, token: QueryToken, start: int, end: int) -> Iterator[int]:
    if is_cjk(token.text[0]):
        position = text.find(token.text, start, end)
        while position >= 0:
            yield position
            position = text.find(token.text, position + 1, end)
        return
    for match in _word_start(token.text).finditer(text, start, end):
        yield match.start()


@lru_cache(maxsize=256)
def _word_start(token: str) -> re.Pattern[str]:
    # Porter stems are prefixes of their words, but for y → i (happy → happi) and an e put back
    # (hoping → hope, conflating → conflate)
    prefix = token[:-1] if len(token) > 2 and token[-1] in "ei" else token
    return re.compile(f"(?<![^\\W_{_CJK}])" + re.escape(prefix), re.IGNORECASE)


def _match_at(text: str, position: int, phrase: Phrase) -> tuple[int, int] | None:
    """The phrase's span if its tokens are the index tokens that begin at ``position``."""
    size = len(phrase.tokens)
    limit = position + _MATCH_WINDOW * size + _MATCH_WINDOW
    while True:
        window = text[position:limit]
        found = list(islice(tokens_with_offsets(window), size))
        # a token cut at the window's edge is not the text's: read further
        if limit < len(text) and (len(found) < size or found[-1][2] >= len(window) - 1):
            limit = position + 2 * (limit - position)
            continue
        break
    if len(found) < size or found[0][1] != 0:
        return None
    for (token, _start, _end), wanted in zip(found, phrase.tokens, strict=True):
        if not (token.startswith(wanted.text) if wanted.prefix else token == wanted.text):
            return None
    return position, position + found[-1][2]


# --- Porter stemmer --------------------------------------------------------------------------------
# M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980, as in his reference C
# implementation (with its "bli"/"logi" departures from the paper); the stemmer SQLite's FTS5
# "porter" tokenizer implements (tests compare the two).

_STEP2 = (
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("bli", "ble"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
    ("logi", "log"),
)
_STEP3 = (
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
)
_STEP4 = (
    "al",
    "ance",
    "ence",
    "er",
    "ic",
    "able",
    "ible",
    "ant",
    "ement",
    "ment",
    "ent",
    "ion",
    "ou",
    "ism",
    "ate",
    "iti",
    "ous",
    "ive",
    "ize",
)


def _consonant(word: str, index: int) -> bool:
    char = word[index]
    if char in "aeiou":
        return False
    if char == "y":
        return index == 0 or not _consonant(word, index - 1)
    return True


def _measure(stem: str) -> int:
    """m in [C](VC)^m[V]: how many vowel-consonant sequences the stem has."""
    count, index, length = 0, 0, len(stem)
    while index < length and _consonant(stem, index):
        index += 1
    while index < length:
        while index < length and not _consonant(stem, index):
            index += 1
        if index >= length:
            break
        while index < length and _consonant(stem, index):
            index += 1
        count += 1
    return count


def _has_vowel(stem: str) -> bool:
    return any(not _consonant(stem, index) for index in range(len(stem)))


def _double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _consonant(word, len(word) - 1)


def _cvc(word: str) -> bool:
    """Ends consonant-vowel-consonant, the last not w, x or y (hop, not hoop or snow)."""
    if len(word) < 3 or word[-1] in "wxy":
        return False
    n = len(word)
    return _consonant(word, n - 3) and not _consonant(word, n - 2) and _consonant(word, n - 1)


def _replace(word: str, rules: tuple[tuple[str, str], ...], minimum: int) -> str:
    # the first suffix that fits decides, whether or not its stem is long enough
    for suffix, replacement in rules:
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            return stem + replacement if _measure(stem) > minimum else word
    return word


def porter_stem(word: str) -> str:
    """The Porter stem of a lowercase ASCII word (words of one or two letters are kept)."""
    if len(word) <= 2:
        return word
    # step 1a
    if word.endswith("sses") or word.endswith("ies"):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    # step 1b
    if word.endswith("eed"):
        if _measure(word[:-3]) > 0:
            word = word[:-1]
    else:
        for suffix in ("ed", "ing"):
            if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
                word = word[: -len(suffix)]
                if word.endswith(("at", "bl", "iz")):
                    word += "e"
                elif _double_consonant(word) and word[-1] not in "lsz":
                    word = word[:-1]
                elif _measure(word) == 1 and _cvc(word):
                    word += "e"
                break
    # step 1c
    if word.endswith("y") and _has_vowel(word[:-1]):
        word = word[:-1] + "i"
    word = _replace(word, _STEP2, 0)
    word = _replace(word, _STEP3, 0)
    # step 4
    for suffix in _STEP4:
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            if suffix == "ion" and not stem.endswith(("s", "t")):
                continue  # "ion" counts only after s or t; "ou" may still follow
            if _measure(stem) > 1:
                word = stem
            break
    # step 5
    if word.endswith("e"):
        measure = _measure(word[:-1])
        if measure > 1 or (measure == 1 and not _cvc(word[:-1])):
            word = word[:-1]
    if word.endswith("ll") and _measure(word) > 1:
        word = word[:-1]
    return word
