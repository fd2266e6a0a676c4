"""Bounded decoding of PDF stream filters, used by the sandboxed probe to find decompression bombs.

The decoders only *measure*: output flows through a chain of generators in chunks and is thrown
away, so memory stays small however far a stream claims to expand, and every stage of a filter
chain is counted against the caps before the next chunk is produced. A 1 KB stream of
[/FlateDecode /FlateDecode] can decode to gigabytes; here it stops at the first cap it crosses.

Image codecs (DCT, JPX, CCITT, JBIG2) and unknown filters end the chain: their data is left encoded.
Damaged data (bad zlib input, a truncated stream) ends the chain too and is recorded, as viewers
render what they can decode.

Standard library only: this runs in the child process, which must not import Django.
"""

from __future__ import annotations

import base64
import binascii
import string
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MiB = 1024 * 1024
CHUNK = 256 * 1024

# A single Deflate layer cannot exceed ~1032:1; anything above this ratio stacks compression.
DEFAULT_MAX_RATIO = 1100.0
DEFAULT_RATIO_FLOOR = 1 * MiB
# One 600 dpi A4 greyscale scan stored as FlateDecode is ~35 MiB decoded; colour ~105 MiB.
DEFAULT_STREAM_CAP = 128 * MiB
# Total decoding work per document (every stage of every stream counts): the larger of this and
# DEFAULT_TOTAL_RATIO times the file size, so a large file of Flate-compressed scans still passes.
DEFAULT_TOTAL_CAP = 256 * MiB
DEFAULT_TOTAL_RATIO = 32
DEFAULT_MAX_FILTERS = 8

_WHITESPACE = string.whitespace.encode("ascii") + b"\x00"


class DecodeLimitExceeded(Exception):
    """A stream (or the document as a whole) decodes to more than the caps allow."""


@dataclass
class DecodeBudget:
    """Caps for one document; ``used`` accumulates the bytes produced by every filter stage."""

    stream_cap: int = DEFAULT_STREAM_CAP
    total_cap: int = DEFAULT_TOTAL_CAP
    max_ratio: float = DEFAULT_MAX_RATIO
    ratio_floor: int = DEFAULT_RATIO_FLOOR
    max_filters: int = DEFAULT_MAX_FILTERS
    used: int = 0

    @classmethod
    def for_document(cls, document_size: int) -> DecodeBudget:
        return cls(total_cap=max(DEFAULT_TOTAL_CAP, DEFAULT_TOTAL_RATIO * document_size))

    def stage_cap(self, encoded_size: int) -> int:
        """Largest output any single stage of a stream with this encoded size may produce."""
        return min(self.stream_cap, max(self.ratio_floor, int(self.max_ratio * max(encoded_size, 1))))


@dataclass
class StreamMeasurement:
    decoded_bytes: int = 0
    # False when the chain stopped at an image codec or unknown filter (left encoded).
    fully_decoded: bool = True
    damaged: bool = False


Params = Mapping[str, Any] | None
_Decoder = Callable[[Iterable[bytes], Params, int, StreamMeasurement], Iterator[bytes]]


def measure_stream(
    encoded: bytes,
    filters: Sequence[tuple[str, Params]],
    budget: DecodeBudget,
    label: str = "stream",
) -> StreamMeasurement:
    """Run ``encoded`` through ``filters`` (decoding order) under ``budget``; return what came out.

    :raises DecodeLimitExceeded: when a stage crosses the per-stream cap, the ratio cap or the
        document's total budget, or the chain is implausibly long.
    """
    result = StreamMeasurement(decoded_bytes=len(encoded))
    if len(filters) > budget.max_filters:
        raise DecodeLimitExceeded(f"{label} stacks {len(filters)} filters (at most {budget.max_filters})")
    cap = budget.stage_cap(len(encoded))
    chunks: Iterable[bytes] = _split(encoded)
    stages = 0
    for name, params in filters:
        decoder = _DECODERS.get(name)
        if decoder is None:
            result.fully_decoded = False
            break
        chunks = _counted(decoder(chunks, params, cap, result), cap, budget, label, len(encoded))
        stages += 1
    if stages == 0:
        return result
    produced = 0
    for chunk in chunks:
        produced += len(chunk)
    result.decoded_bytes = produced
    return result


def decoded_prefix(
    encoded: bytes,
    filters: Sequence[tuple[str, Params]],
    budget: DecodeBudget,
    length: int,
    label: str = "stream",
) -> bytes | None:
    """The first ``length`` decoded bytes of a stream (all of it when shorter), decoding no further.

    ``None`` when the chain holds a filter we do not decode (an image codec, an unknown name).

    :raises DecodeLimitExceeded: as :func:`measure_stream`, for the part decoded.
    """
    if len(filters) > budget.max_filters:
        raise DecodeLimitExceeded(f"{label} stacks {len(filters)} filters (at most {budget.max_filters})")
    cap = budget.stage_cap(len(encoded))
    chunks: Iterable[bytes] = _split(encoded)
    ignored = StreamMeasurement()
    for name, params in filters:
        decoder = _DECODERS.get(name)
        if decoder is None:
            return None
        chunks = _counted(decoder(chunks, params, cap, ignored), cap, budget, label, len(encoded))
    prefix = bytearray()
    for chunk in chunks:
        prefix += chunk
        if len(prefix) >= length:
            break
    return bytes(prefix[:length])


def _counted(
    chunks: Iterator[bytes], cap: int, budget: DecodeBudget, label: str, encoded_size: int
) -> Iterator[bytes]:
    produced = 0
    for chunk in chunks:
        produced += len(chunk)
        budget.used += len(chunk)
        if produced > cap:
            if cap < budget.stream_cap:
                raise DecodeLimitExceeded(
                    f"{label} expands from {encoded_size} bytes past {cap} bytes "
                    f"(more than {budget.max_ratio:g}:1)"
                )
            raise DecodeLimitExceeded(f"{label} decodes to more than {cap // MiB} MiB")
        if budget.used > budget.total_cap:
            raise DecodeLimitExceeded(
                f"the document's streams decode to more than {budget.total_cap // MiB} MiB"
            )
        yield chunk


def _split(data: bytes | bytearray) -> Iterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(view), CHUNK):
        yield bytes(view[start : start + CHUNK])


def _inflate(chunks: Iterable[bytes], params: Params, cap: int, result: StreamMeasurement) -> Iterator[bytes]:
    # Predictors (PNG/TIFF) only shrink the output, so they are irrelevant to the size bound.
    inflater = zlib.decompressobj()
    try:
        for chunk in chunks:
            pending = chunk
            while True:
                out = inflater.decompress(pending, CHUNK)
                if out:
                    yield out
                if inflater.eof:
                    return
                pending = inflater.unconsumed_tail
                # Output exactly CHUNK long may mean zlib holds more: ask again before new input.
                if not pending and len(out) < CHUNK:
                    break
    except zlib.error:
        result.damaged = True
        return
    result.damaged = True  # input ended before the end of the Deflate stream


def _lzw(chunks: Iterable[bytes], params: Params, cap: int, result: StreamMeasurement) -> Iterator[bytes]:
    early = _int_param(params, "/EarlyChange", 1)
    data = b"".join(chunks)
    table: list[bytes] = [bytes((i,)) for i in range(256)] + [b"", b""]
    code_len = 9
    previous: bytes | None = None
    out = bytearray()
    bits = 0
    bit_count = 0
    for byte in data:
        bits = (bits << 8) | byte
        bit_count += 8
        while bit_count >= code_len:
            bit_count -= code_len
            code = (bits >> bit_count) & ((1 << code_len) - 1)
            bits &= (1 << bit_count) - 1
            if code == 256:
                del table[258:]
                code_len = 9
                previous = None
                continue
            if code == 257:
                yield bytes(out)
                return
            if code < len(table):
                entry = table[code]
                if previous is not None and len(table) < 4096:
                    table.append(previous + entry[:1])
            elif code == len(table) and previous is not None:
                entry = previous + previous[:1]
                if len(table) < 4096:
                    table.append(entry)
            else:
                result.damaged = True
                yield bytes(out)
                return
            out += entry
            previous = entry
            if len(table) + early >= (1 << code_len) and code_len < 12:
                code_len += 1
            if len(out) >= CHUNK:
                yield bytes(out)
                out.clear()
    yield bytes(out)


def _run_length(
    chunks: Iterable[bytes], params: Params, cap: int, result: StreamMeasurement
) -> Iterator[bytes]:
    data = b"".join(chunks)
    out = bytearray()
    pos = 0
    while pos < len(data):
        length = data[pos]
        pos += 1
        if length == 128:
            break
        if length < 128:
            out += data[pos : pos + length + 1]
            pos += length + 1
        else:
            if pos >= len(data):
                result.damaged = True
                break
            out += data[pos : pos + 1] * (257 - length)
            pos += 1
        if len(out) >= CHUNK:
            yield bytes(out)
            out.clear()
    yield bytes(out)


def _ascii_hex(
    chunks: Iterable[bytes], params: Params, cap: int, result: StreamMeasurement
) -> Iterator[bytes]:
    data = b"".join(chunks)
    end = data.find(b">")
    if end >= 0:
        data = data[:end]
    data = data.translate(None, _WHITESPACE)
    if len(data) % 2:
        data += b"0"
    try:
        decoded = binascii.unhexlify(data)
    except (binascii.Error, ValueError):
        result.damaged = True
        return
    yield from _split(decoded)


def _ascii85(chunks: Iterable[bytes], params: Params, cap: int, result: StreamMeasurement) -> Iterator[bytes]:
    data = b"".join(chunks).translate(None, _WHITESPACE)
    if data.startswith(b"<~"):
        data = data[2:]
    end = data.find(b"~>")
    if end >= 0:
        data = data[:end]
    # Each "z" is four zero bytes: bound the output before materialising it.
    zeros = data.count(b"z")
    if 4 * zeros + (len(data) - zeros) * 4 // 5 > cap:
        raise DecodeLimitExceeded(f"ASCII85 data expands past {cap} bytes")
    try:
        decoded = base64.a85decode(data)
    except ValueError:
        result.damaged = True
        return
    yield from _split(decoded)


def _int_param(params: Params, key: str, default: int) -> int:
    if not params:
        return default
    try:
        value = params[key]
    except (KeyError, TypeError):
        return default
    return value if isinstance(value, int) and not isinstance(value, bool) else default


_DECODERS: dict[str, _Decoder] = {
    "/FlateDecode": _inflate,
    "/Fl": _inflate,
    "/LZWDecode": _lzw,
    "/LZW": _lzw,
    "/RunLengthDecode": _run_length,
    "/RL": _run_length,
    "/ASCIIHexDecode": _ascii_hex,
    "/AHx": _ascii_hex,
    "/ASCII85Decode": _ascii85,
    "/A85": _ascii85,
}
