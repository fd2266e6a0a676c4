"""The evidence package's container: the zip read under limits, its structure accounting for every byte,
and its manifest parsed (package_verify's first check; docs/evidence.md, "Evidence package").

Pure: no Django, no database.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import struct
import zipfile
from collections import Counter
from dataclasses import dataclass
from typing import Any

import rfc8785

FORMAT = "econtract-evidence-package/v1"
MANIFEST = "manifest.json"
MANIFEST_SIGNATURE = "manifest.p7s"

MB = 1024 * 1024
MAX_MEMBERS = 5000
MAX_MEMBER_BYTES = 200 * MB
MAX_TOTAL_BYTES = 500 * MB
MAX_RATIO = 200  # uncompressed / compressed, refused above this for members over RATIO_FLOOR
RATIO_FLOOR = 1 * MB
MAX_MANIFEST_BYTES = 16 * MB

_EOCD = struct.Struct("<4s4H2LH")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")
_EOCD_SIGNATURE = b"PK\x05\x06"
_CENTRAL_SIGNATURE = b"PK\x01\x02"
_LOCAL_SIGNATURE = b"PK\x03\x04"


class Problem(Exception):
    """What makes one check fail; its message is the check's detail."""


class Refused(Problem):
    """The container cannot be read safely: nothing else is checked."""


# --- structure --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    name: str
    offset: int
    compressed: int
    size: int
    crc: int
    method: int
    flags: int


def _find_end(data: bytes) -> int:
    """Where the end-of-central-directory record starts; BadZipFile when there is none (not a zip)."""
    if not data.startswith((_LOCAL_SIGNATURE, _EOCD_SIGNATURE)) and _EOCD_SIGNATURE not in data[-66000:]:
        raise zipfile.BadZipFile("not a zip file")
    position = data.rfind(_EOCD_SIGNATURE, max(0, len(data) - 65557))
    if position < 0:
        raise zipfile.BadZipFile("not a zip file: no end of central directory")
    return position


def _decode_name(raw: bytes, flags: int) -> str:
    return raw.decode("utf-8" if flags & 0x800 else "cp437")


def _check_name(name: str) -> None:
    if (
        not name
        or name.startswith("/")
        or name.endswith("/")
        or "\\" in name
        or ".." in name.split("/")
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in name)
    ):
        raise Problem(
            f"member name {name!r} is not allowed (absolute, directory, '..', backslash or control)"
        )


def layout(data: bytes) -> list[Entry]:
    """Parse the zip's structure and insist that it accounts for every byte: members from offset 0, one
    after the other, then the central directory, then the end record with no comment."""
    end = _find_end(data)
    if len(data) - end < _EOCD.size:
        raise Problem("the end of central directory record is cut off")
    _sig, disk, cd_disk, on_disk, count, cd_size, cd_offset, comment = _EOCD.unpack_from(data, end)
    if end + _EOCD.size != len(data):
        raise Problem("trailing data after the zip's end record" if not comment else "the zip has a comment")
    if disk or cd_disk or on_disk != count or count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        raise Problem("multi-disk or zip64 archives are not evidence packages")
    if count > MAX_MEMBERS:
        raise Refused(f"{count} members: more than {MAX_MEMBERS}")
    if cd_offset + cd_size != end:
        raise Problem(
            "bytes before or between the members: the central directory does not end at the end record"
        )
    entries: list[Entry] = []
    position = cd_offset
    for _ in range(count):
        if position + _CENTRAL.size > end:
            raise Problem("the central directory is cut off")
        fields = _CENTRAL.unpack_from(data, position)
        if fields[0] != _CENTRAL_SIGNATURE:
            raise Problem("malformed central directory")
        flags, method, crc, compressed, size = fields[3], fields[4], fields[7], fields[8], fields[9]
        name_len, extra_len, comment_len, start_disk, offset = (
            fields[10],
            fields[11],
            fields[12],
            fields[13],
            fields[16],
        )
        raw_name = data[position + _CENTRAL.size : position + _CENTRAL.size + name_len]
        position += _CENTRAL.size + name_len + extra_len + comment_len
        if comment_len or start_disk:
            raise Problem("a member has a comment or another disk")
        try:
            name = _decode_name(raw_name, flags)
        except UnicodeDecodeError as exc:
            raise Problem("a member name is not UTF-8") from exc
        entries.append(Entry(name, offset, compressed, size, crc, method, flags))
    if position != end:
        raise Problem("the central directory holds bytes that are not member entries")
    _check_limits(entries)
    for entry in entries:
        _check_name(entry.name)
        if entry.flags & 0x1:
            raise Problem(f"{entry.name} is encrypted")
        if entry.flags & 0x8:
            raise Problem(f"{entry.name} uses a data descriptor")
        if entry.method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise Problem(f"{entry.name}: compression method {entry.method} is not deflate")
    names = [entry.name for entry in entries]
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise Problem(f"duplicate member name {duplicates[0]!r}")
    expected = 0
    for entry in sorted(entries, key=lambda e: e.offset):
        if entry.offset != expected:
            raise Problem(
                "data before the first member" if expected == 0 else f"hidden bytes before {entry.name}"
            )
        local = _LOCAL.unpack_from(data, entry.offset) if entry.offset + _LOCAL.size <= end else None
        if local is None or local[0] != _LOCAL_SIGNATURE:
            raise Problem(f"{entry.name}: no local header where the central directory points")
        _sig, _version, flags, method, _t, _d, crc, compressed, size, name_len, extra_len = local
        raw_name = data[entry.offset + _LOCAL.size : entry.offset + _LOCAL.size + name_len]
        if (flags, method, crc, compressed, size) != (
            entry.flags,
            entry.method,
            entry.crc,
            entry.compressed,
            entry.size,
        ) or raw_name != entry.name.encode("utf-8" if flags & 0x800 else "cp437"):
            raise Problem(f"{entry.name}: the local header differs from the central directory")
        expected = entry.offset + _LOCAL.size + name_len + extra_len + entry.compressed
    if expected != cd_offset:
        raise Problem("hidden bytes between the last member and the central directory")
    return entries


def _check_limits(entries: list[Entry]) -> None:
    total = 0
    for entry in entries:
        if entry.size > MAX_MEMBER_BYTES:
            raise Refused(f"{entry.name!r} declares {entry.size} bytes: more than {MAX_MEMBER_BYTES}")
        if entry.size > RATIO_FLOOR and entry.size > MAX_RATIO * max(entry.compressed, 1):
            raise Refused(f"{entry.name!r} expands more than {MAX_RATIO} times")
        total += entry.size
    if total > MAX_TOTAL_BYTES:
        raise Refused(f"the members declare {total} bytes: more than {MAX_TOTAL_BYTES}")


def read_members(data: bytes, entries: list[Entry]) -> dict[str, bytes]:
    """Each member's bytes, never more than its declared size (zipfile stops there and checks the CRC)."""
    wanted = {entry.name: entry for entry in entries}
    files: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                entry = wanted.get(info.filename)
                if info.filename in files:
                    continue  # a duplicate name, already reported: only the first is read
                if entry is None or info.file_size != entry.size:
                    raise Refused(f"zip reader and structure disagree about {info.filename!r}")
                with archive.open(info) as stream:
                    content = stream.read(entry.size + 1)
                if len(content) != entry.size:
                    raise Refused(f"{info.filename!r} is not {entry.size} bytes long")
                files[info.filename] = content
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError) as exc:
        raise Refused(f"a member cannot be read: {exc}") from exc
    return files


@dataclass(frozen=True)
class Revision:
    version: int
    reason: str
    sha256: str
    size: int


@dataclass(frozen=True)
class EventEntry:
    index: int
    event: str
    kind: str
    subject: str


@dataclass(frozen=True)
class Manifest:
    envelope: str
    title: str
    created_at: str
    origin: str
    tree_size: int
    root_hash: bytes
    revisions: list[Revision]
    events: list[EventEntry]
    members: dict[str, tuple[str, int]]


def get_typed(obj: Any, key: str, kind: type) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise Problem(f"manifest.json: {key!r} is missing")
    value = obj[key]
    if type(value) is not kind:  # bool is not int here
        raise Problem(f"manifest.json: {key!r} is not a {kind.__name__}")
    return value


def parse_manifest(raw: bytes) -> Manifest:
    if len(raw) > MAX_MANIFEST_BYTES:
        raise Problem("manifest.json is too large")
    try:
        body = json.loads(raw)
        canonical = rfc8785.dumps(body) == raw
    except (ValueError, RecursionError, rfc8785.CanonicalizationError) as exc:
        raise Problem(f"manifest.json is not JSON: {exc}") from exc
    if not canonical:
        raise Problem("manifest.json is not RFC 8785 canonical JSON")
    if get_typed(body, "format", str) != FORMAT:
        raise Problem(f"manifest.json: format is not {FORMAT}")
    log_part = get_typed(body, "log", dict)
    try:
        root = base64.b64decode(get_typed(log_part, "root_hash", str), validate=True)
    except binascii.Error as exc:
        raise Problem("manifest.json: log root_hash is not base64") from exc
    members: dict[str, tuple[str, int]] = {}
    for name, described in get_typed(body, "members", dict).items():
        members[name] = (get_typed(described, "sha256", str), get_typed(described, "size", int))
    return Manifest(
        envelope=get_typed(body, "envelope", str),
        title=get_typed(body, "title", str),
        created_at=get_typed(body, "created_at", str),
        origin=get_typed(log_part, "origin", str),
        tree_size=get_typed(log_part, "tree_size", int),
        root_hash=root,
        revisions=[
            Revision(
                get_typed(r, "version", int),
                get_typed(r, "reason", str),
                get_typed(r, "sha256", str),
                get_typed(r, "size", int),
            )
            for r in get_typed(body, "revisions", list)
        ],
        events=[
            EventEntry(
                get_typed(e, "index", int),
                get_typed(e, "event", str),
                get_typed(e, "kind", str),
                get_typed(e, "subject", str),
            )
            for e in get_typed(body, "events", list)
        ],
        members=members,
    )


def check_member_set(files: dict[str, bytes], manifest: Manifest) -> str:
    if MANIFEST in manifest.members or MANIFEST_SIGNATURE in manifest.members:
        raise Problem("the manifest describes itself or its signature")
    expected = {*manifest.members, MANIFEST, MANIFEST_SIGNATURE}
    extra, missing = sorted(set(files) - expected), sorted(expected - set(files))
    if extra:
        raise Problem(f"member {extra[0]!r} is not in the manifest")
    if missing:
        raise Problem(f"member {missing[0]!r} of the manifest is missing")
    return f"{len(files)} members, exactly those of the manifest; no hidden or trailing bytes"


def lenient_entries(data: bytes) -> list[Entry]:
    """After a structural problem that is not a bomb: the entries as zipfile reads them, under the same
    limits, so the cheap checks can still say what else is wrong."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, EOFError, OSError, ValueError) as exc:
        raise zipfile.BadZipFile(str(exc)) from exc
    if len(infos) > MAX_MEMBERS:
        raise zipfile.BadZipFile("too many members")
    seen: set[str] = set()
    entries = []
    for info in infos:
        if info.filename in seen:
            continue  # a duplicate: only the first is read
        seen.add(info.filename)
        entries.append(
            Entry(
                info.filename,
                info.header_offset,
                info.compress_size,
                info.file_size,
                info.CRC,
                info.compress_type,
                info.flag_bits,
            )
        )
    _check_limits(entries)
    return entries
