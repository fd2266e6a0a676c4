"""econtract.jsoninput: bounded size and depth, finite numbers only, in linear time."""

from __future__ import annotations

import json
import math
import time

import pytest

from econtract.jsoninput import (
    JsonNotFinite,
    JsonRefused,
    JsonTooDeep,
    JsonTooLarge,
    finite_only,
    format_path,
    json_depth,
    load_json,
)


def test_ordinary_documents_load_as_json_loads_them():
    text = '{"title": "合同 [draft] {v2} \\"quoted\\"", "n": [1, 2.5, -3e2, true, null], "o": {}}'
    assert load_json(text) == json.loads(text)
    assert load_json(text.encode()) == json.loads(text)
    assert load_json(b"\xef\xbb\xbf[1]") == [1]  # a UTF-8 byte order mark is tolerated


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ("1", 0),
        ("[]", 1),
        ('{"a": [{"b": []}]}', 4),
        ('["[[[[", "\\"[[[", {"k]": "}}}"}]', 2),  # brackets inside strings, escaped quotes
        ('"\\\\"', 0),  # an escaped backslash ends right before the closing quote
    ],
)
def test_depth_counts_only_brackets_outside_strings(text, depth):
    assert json_depth(text) == depth


@pytest.mark.parametrize("opening", ["[", '{"a":'])
def test_a_100000_deep_document_is_refused_quickly_without_recursion(opening):
    closing = "]" if opening == "[" else "}"
    text = opening * 100_000 + "1" + closing * 100_000
    start = time.monotonic()
    with pytest.raises(JsonTooDeep, match="100000 levels"):
        load_json(text, max_bytes=10_000_000)
    assert time.monotonic() - start < 2


def test_the_depth_limit_is_inclusive():
    assert load_json("[" * 32 + "]" * 32) is not None
    with pytest.raises(JsonTooDeep):
        load_json("[" * 33 + "]" * 33)


@pytest.mark.parametrize(
    "text",
    ['"' + '\\"' * 400_000, '"a' * 400_000, '["' + "[" * 800_000],
    ids=["escaped-quotes", "many-quotes", "unterminated"],
)
def test_the_depth_scan_is_linear_on_hostile_strings(text):
    start = time.monotonic()
    with pytest.raises(JsonRefused):
        load_json(text, max_bytes=10_000_000)
    assert time.monotonic() - start < 2


@pytest.mark.parametrize(
    ("text", "path", "token"),
    [
        ("NaN", (), "NaN"),
        ('{"x": Infinity}', ("x",), "Infinity"),
        ('{"fields": [{"x": 1}, {"x": -Infinity}]}', ("fields", 1, "x"), "-Infinity"),
        ('{"a": [1e999]}', ("a", 0), "1e999"),  # legal JSON text that Python reads as infinity
        ('{"a": -1E400}', ("a",), "-1E400"),
    ],
)
def test_a_non_finite_number_is_refused_with_its_place(text, path, token):
    with pytest.raises(JsonNotFinite) as caught:
        load_json(text)
    assert caught.value.path == path
    assert f"{token} is not a finite number" in str(caught.value)


def test_size_is_checked_in_bytes_before_anything_else():
    with pytest.raises(JsonTooLarge) as caught:
        load_json('"' + "合" * 400 + '"', max_bytes=1000)  # 402 characters, 1202 bytes
    assert caught.value.status == 413 and caught.value.code == "too_large"
    assert load_json('"' + "合" * 300 + '"', max_bytes=1000) == "合" * 300


@pytest.mark.parametrize(
    "data",
    ["{not json", "", "[1,]", "1" * 5000, b"\xff\xfe{}"],
    ids=["malformed", "empty", "trailing-comma", "huge-integer", "not-utf8"],
)
def test_anything_else_unreadable_is_refused_as_invalid_json(data):
    with pytest.raises(JsonRefused) as caught:
        load_json(data)
    assert type(caught.value) is JsonRefused and caught.value.code == "invalid_json"


def test_paths_read_like_the_error_details_write_them():
    assert format_path(("fields", 0, "x")) == "fields[0].x"
    assert format_path((3, "a")) == "[3].a"
    assert format_path(()) == ""


def test_finite_only_replaces_non_finite_floats_for_output():
    data = {"a": [1.5, math.nan, {"b": math.inf}], "c": (-math.inf, "NaN"), "d": 2}
    assert finite_only(data) == {"a": [1.5, None, {"b": None}], "c": [None, "NaN"], "d": 2}
