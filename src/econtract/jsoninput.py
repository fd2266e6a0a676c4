"""The one JSON reader for input from outside: bounded in size and depth, finite numbers only.

Python's json module accepts ``NaN``, ``Infinity`` and ``-Infinity`` (not JSON: RFC 8259 section 6),
turns ``1e999`` into infinity, and recurses once per nesting level, so a body of 100,000 brackets
raises RecursionError. Every JSON document a client sends (API bodies, the envelope ``spec`` form
field, the web editor's payload) is read here instead: its size is checked first, its depth by a
linear scan that does not recurse, and only then is it parsed.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from itertools import accumulate
from typing import Any

MAX_JSON_BYTES = 1024 * 1024  # an envelope spec at its limits (50 parties, 200 fields) is ~60 KB
MAX_JSON_DEPTH = 32  # the deepest document we accept (a spec) nests 3 levels

# A string token, through its closing quote or, unterminated, to the end (possessive: linear time).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"?', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


class JsonRefused(ValueError):
    """The document is not JSON we read; ``code`` and ``status`` say how the API answers."""

    code = "invalid_json"
    status = 400


class JsonTooLarge(JsonRefused):
    code = "too_large"
    status = 413


class JsonTooDeep(JsonRefused):
    pass


class JsonNotFinite(JsonRefused):
    """A number JSON cannot carry; ``path`` locates it (keys and list indexes from the root)."""

    def __init__(self, message: str, path: tuple[str | int, ...]) -> None:
        super().__init__(message)
        self.path = path


class _NonFinite:
    """Stands in for a non-finite number while parsing, so the walk afterwards can say where it was."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def json_depth(text: str) -> int:
    """How deeply arrays and objects nest in ``text``, without parsing it (brackets inside strings
    do not count). Linear in the length; meaningful for valid JSON, an overestimate otherwise."""
    brackets = _NOT_A_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def load_json(data: str | bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a client's JSON document, or raise a JsonRefused saying what is wrong with it."""
    size = len(data) if isinstance(data, bytes) else len(data.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise JsonTooLarge(f"the JSON document is {size} bytes; at most {max_bytes} are accepted")
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise JsonRefused("the JSON document is not UTF-8") from exc
    else:
        text = data
    depth = json_depth(text)
    if depth > max_depth:
        raise JsonTooDeep(f"the JSON document nests {depth} levels deep; at most {max_depth} are accepted")
    found: list[_NonFinite] = []

    def non_finite(token: str) -> _NonFinite:
        marker = _NonFinite(token)
        found.append(marker)
        return marker

    def parse_float(token: str) -> float | _NonFinite:
        value = float(token)
        return value if math.isfinite(value) else non_finite(token)

    try:
        document = json.loads(text, parse_constant=non_finite, parse_float=parse_float)
    except RecursionError as exc:  # the depth scan makes this unreachable; kept as the last line
        raise JsonTooDeep("the JSON document nests too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, and integers past Python's 4300-digit limit
        raise JsonRefused(f"not valid JSON: {exc}") from exc
    if found:
        path, marker = next(_markers(document))
        raise JsonNotFinite(
            f"{format_path(path) or 'the document'}: {marker.text} is not a finite number", path
        )
    return document


def _markers(document: Any) -> Iterator[tuple[tuple[str | int, ...], _NonFinite]]:
    """Every non-finite stand-in with its path, depth first, without recursion."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), document)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, _NonFinite):
            yield path, value
        elif isinstance(value, dict):
            stack.extend((path + (key,), item) for key, item in reversed(value.items()))
        elif isinstance(value, list):
            stack.extend((path + (index,), item) for index, item in reversed(list(enumerate(value))))


def format_path(path: tuple[str | int, ...]) -> str:
    """('fields', 0, 'x') -> 'fields[0].x', the way the error details name a place in a document."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def finite_only(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None, for output that must stay JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_only(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite_only(item) for item in value]
    return value
