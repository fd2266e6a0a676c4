"""The bounded decoders, in process: sizes are right, bombs stop early, memory stays flat."""

from __future__ import annotations

import base64
import os
import time
import tracemalloc
import zlib

import pytest

from econtract.documents.streamfilters import DecodeBudget, DecodeLimitExceeded, measure_stream
from econtract.documents.tests.pdfbuild import double_flate_zeros

MiB = 1024 * 1024
FLATE = ("/FlateDecode", None)


def test_flate_stream_is_measured() -> None:
    text = b"BT /F1 12 Tf (hello) Tj ET\n" * 500
    result = measure_stream(zlib.compress(text), [FLATE], DecodeBudget())
    assert (result.decoded_bytes, result.fully_decoded, result.damaged) == (len(text), True, False)


def test_filter_chains_decode_in_order() -> None:
    text = os.urandom(3000)
    encoded = base64.a85encode(zlib.compress(text), adobe=True)
    result = measure_stream(encoded, [("/ASCII85Decode", None), ("/Fl", None)], DecodeBudget())
    assert result.decoded_bytes == len(text)


def test_ascii_hex() -> None:
    result = measure_stream(b"48 65 6c\n6c 6f>", [("/ASCIIHexDecode", None)], DecodeBudget())
    assert result.decoded_bytes == 5


def test_lzw_example_from_iso_32000() -> None:
    # ISO 32000-1, 7.4.4.2: "-----A---B" encodes to 80 0B 60 50 22 0C 0C 85 01.
    result = measure_stream(bytes.fromhex("800B6050220C0C8501"), [("/LZWDecode", None)], DecodeBudget())
    assert (result.decoded_bytes, result.damaged) == (10, False)


def test_run_length() -> None:
    encoded = bytes([2]) + b"abc" + bytes([254]) + b"z" + bytes([128])
    assert measure_stream(encoded, [("/RunLengthDecode", None)], DecodeBudget()).decoded_bytes == 6


def test_image_codecs_are_left_encoded() -> None:
    jpeg = b"\xff\xd8\xff" + os.urandom(500)
    result = measure_stream(jpeg, [("/DCTDecode", None)], DecodeBudget())
    assert (result.decoded_bytes, result.fully_decoded) == (len(jpeg), False)
    result = measure_stream(zlib.compress(jpeg), [FLATE, ("/DCTDecode", None)], DecodeBudget())
    assert (result.decoded_bytes, result.fully_decoded) == (len(jpeg), False)


@pytest.mark.parametrize("encoded", [zlib.compress(b"x" * 5000)[:-12], b"this is not zlib data"])
def test_damaged_flate_is_recorded_not_fatal(encoded: bytes) -> None:
    assert measure_stream(encoded, [FLATE], DecodeBudget()).damaged


def test_double_flate_bomb_stops_early_in_small_memory() -> None:
    data, decoded_size = double_flate_zeros(2.0)
    assert decoded_size >= 2 * 1024**3
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(DecodeLimitExceeded, match="1100:1"):
            measure_stream(data, [FLATE, FLATE], DecodeBudget(), "stream 7 0 R")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 1
    assert peak < 8 * MiB


def test_per_stream_cap_applies_below_the_ratio() -> None:
    data = zlib.compress(os.urandom(64) * (3 * MiB // 64))  # repetitive, but far under 1100:1
    with pytest.raises(DecodeLimitExceeded, match="more than 2 MiB"):
        measure_stream(data, [FLATE], DecodeBudget(stream_cap=2 * MiB))


def test_total_budget_covers_all_streams() -> None:
    budget = DecodeBudget(total_cap=MiB)
    stream = zlib.compress(os.urandom(600 * 1024))
    measure_stream(stream, [FLATE], budget)
    with pytest.raises(DecodeLimitExceeded, match="document's streams"):
        measure_stream(stream, [FLATE], budget)


def test_ascii85_zeros_are_bounded_before_decoding() -> None:
    with pytest.raises(DecodeLimitExceeded):
        measure_stream(b"z" * 1000 + b"~>", [("/A85", None)], DecodeBudget(max_ratio=2, ratio_floor=100))


def test_long_filter_chains_are_refused() -> None:
    with pytest.raises(DecodeLimitExceeded, match="stacks 9 filters"):
        measure_stream(b"", [FLATE] * 9, DecodeBudget())
