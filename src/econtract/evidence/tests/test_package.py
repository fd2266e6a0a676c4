"""The evidence package: built from a real completed envelope, verified offline, refused after any change."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import threading
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import rfc8785
from asn1crypto import pem
from django.core.management import call_command
from django.core.management.base import CommandError

from econtract.evidence import log, merkle, notes
from econtract.evidence import package_verify as pv
from econtract.evidence.envelope_evidence import collect
from econtract.evidence.package import build_package, zip_members
from econtract.evidence.witness_server import Witness, WitnessHTTPServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def report_pdf(completed_envelope) -> bytes:
    """The envelope's real evidence report (WeasyPrint, signed by the evidence service, B-LTA)."""
    from econtract.evidence.report import render_evidence_report

    return render_evidence_report(collect(completed_envelope.envelope))


@dataclass
class Built:
    data: bytes
    root_pem: bytes
    log_key: str

    @property
    def root(self):  # asn1crypto certificate
        return pv.load_pem_certificates(self.root_pem)[0]

    def members(self) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
            return {info.filename: archive.read(info) for info in archive.infolist()}


def _build(envelope, report_pdf: bytes) -> Built:
    from econtract.pki.services import root_certificate_pem

    return Built(
        build_package(collect(envelope), report_pdf=report_pdf),
        root_certificate_pem(),
        log.log_verifier_key(),
    )


_SHARED: list[Built] = []


@pytest.fixture
def built(request) -> Built:
    """One package for the tests that only verify bytes: verify_package reads no database, and each
    build signs two envelopes' worth of PDFs, a report and a manifest (about ten seconds)."""
    if not _SHARED:
        envelope = request.getfixturevalue("completed_envelope").envelope
        _SHARED.append(_build(envelope, request.getfixturevalue("report_pdf")))
    return _SHARED[0]


@pytest.fixture
def fresh_built(completed_envelope, report_pdf) -> Built:
    """A package of this test's own database (the CLI reads the installation's root and log key)."""
    return _build(completed_envelope.envelope, report_pdf)


def _failed(report: pv.PackageReport) -> pv.PackageCheck:
    check = report.first_failure
    assert check is not None and not report.ok, report.summary
    return check


def test_a_package_verifies_offline_with_given_anchors_and_with_its_own(built):
    # Given a package of a completed envelope
    # When it is verified with the platform's root and log key
    report = pv.verify_package(built.data, log_keys=[built.log_key], trust_roots=[built.root])
    # Then every check passes, in the documented order, against the given anchors
    assert report.ok, report.summary
    assert [c.name for c in report.checks] == list(pv.CHECK_ORDER)
    assert all(c.ok and c.ran for c in report.checks)
    assert report.trust_source == "given" and report.log_key_source == "given"
    assert report.root_fingerprints == [hashlib.sha256(built.root.dump()).hexdigest()]
    assert report.checks[3].detail == "unwitnessed: no witness cosigned this checkpoint"
    assert json.dumps(report.to_dict())  # --json can print it
    # When it is verified with no anchors at all
    alone = pv.verify_package(built.data)
    # Then it passes on the package's own root and log key, and says so
    assert alone.ok, alone.summary
    assert alone.trust_source == "package" and alone.log_key_source == "package"
    assert "came from the package itself" in alone.summary


def test_the_manifest_lists_every_member_and_is_canonical(built):
    # Given a package, when its members are read
    members = built.members()
    manifest = json.loads(members["manifest.json"])
    # Then the manifest is RFC 8785 and describes every other member by SHA-256 and size
    assert rfc8785.dumps(manifest) == members["manifest.json"]
    assert manifest["format"] == "econtract-evidence-package/v1"
    assert set(manifest["members"]) == set(members) - {"manifest.json", "manifest.p7s"}
    for name, described in manifest["members"].items():
        assert described == {"sha256": hashlib.sha256(members[name]).hexdigest(), "size": len(members[name])}
    # and the revisions end in the whole document, the events are the leaves
    assert manifest["revisions"][-1]["size"] == len(members["document.pdf"])
    assert {f"leaves/{e['index']}.json" for e in manifest["events"]} == {
        n for n in members if n.startswith("leaves/")
    }
    assert "checkpoint.tsr" in members and "witnesses.vkeys" not in members
    assert not any(name.endswith("/") for name in members)


def _rezip(members: dict[str, bytes]) -> bytes:
    return zip_members(members)


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1 :]


def test_a_changed_byte_in_any_member_is_found_without_running_the_pdf_checks(built):
    # Given a package and its members
    members = built.members()
    assert pv.verify_package(_rezip(members)).ok  # re-zipping unchanged members keeps it valid
    for name in members:
        # When one byte of one member is flipped and the zip rebuilt around it
        tampered = _rezip({**members, name: _flip(members[name])})
        report = pv.verify_package(tampered, log_keys=[built.log_key], trust_roots=[built.root])
        # Then the package does not check out, the manifest (or its signature) says why
        failed = _failed(report)
        assert failed.name in (pv.CHECK_CONTAINER, pv.CHECK_MANIFEST), (name, failed)
        if name not in ("manifest.json", "manifest.p7s"):
            assert failed.name == pv.CHECK_MANIFEST and name in failed.detail, (name, failed)
        # and the PDF signatures were not checked (no sandboxed child per tampered member)
        assert not report.checks[-1].ran


def test_a_manifest_rewritten_for_a_changed_member_fails_its_signature(built):
    # Given a package whose document.pdf is changed and whose manifest is updated to match
    members = built.members()
    document = members["document.pdf"] + b"%%EOF\n"
    manifest = json.loads(members["manifest.json"])
    manifest["members"]["document.pdf"] = {
        "sha256": hashlib.sha256(document).hexdigest(),
        "size": len(document),
    }
    tampered = {**members, "manifest.json": rfc8785.dumps(manifest), "document.pdf": document}
    # When it is verified
    report = pv.verify_package(_rezip(tampered), log_keys=[built.log_key], trust_roots=[built.root])
    # Then the manifest signature does not match the manifest
    failed = _failed(report)
    assert failed.name == pv.CHECK_MANIFEST and "does not match" in failed.detail
    # and the revision check, which does not rely on the manifest, also refuses the longer document
    assert not report.checks[5].ok and "longer than its last revision" in report.checks[5].detail


def _duplicate(members: dict[str, bytes], name: str) -> bytes:
    buffer = io.BytesIO(_rezip(members))
    with pytest.warns(UserWarning), zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), members[name])
    return buffer.getvalue()


def _hidden(members: dict[str, bytes]) -> bytes:
    """A zip with one more member, hidden.txt, whose local entry stays but whose central directory entry
    is removed: only a reader that accounts for every byte sees it."""
    data = _rezip({**members, "hidden.txt": b"not in the manifest"})
    end = len(data) - 22
    count = int.from_bytes(data[end + 10 : end + 12], "little")
    cd_size = int.from_bytes(data[end + 12 : end + 16], "little")
    cd_offset = int.from_bytes(data[end + 16 : end + 20], "little")
    last = data.rfind(b"PK\x01\x02", cd_offset, end)
    assert data[last + 46 : last + 56] == b"hidden.txt"
    directory = data[cd_offset:last]
    eocd = bytearray(data[end:])
    eocd[8:10] = eocd[10:12] = (count - 1).to_bytes(2, "little")
    eocd[12:16] = (cd_size - (end - last)).to_bytes(4, "little")
    hidden = data[:cd_offset] + directory + bytes(eocd)
    with zipfile.ZipFile(io.BytesIO(hidden)) as archive:  # an ordinary reader does not see it
        assert "hidden.txt" not in archive.namelist()
    return hidden


def test_added_removed_duplicated_or_surrounding_bytes_are_refused(built):
    # Given a package
    members = built.members()
    without_readme = {k: v for k, v in members.items() if k != "README.txt"}
    cases = {
        "added member": (_rezip({**members, "extra.txt": b"hello"}), "extra.txt"),
        "removed member": (_rezip(without_readme), "README.txt"),
        "trailing bytes": (built.data + b"\x00trailing", "trailing data"),
        "prepended bytes": (b"junk" + built.data, "bytes before"),
        "duplicate name": (_duplicate(members, "document.pdf"), "duplicate member name"),
        "directory entry": (_rezip({**members, "leaves/": b""}), "not allowed"),
        "comment": (built.data[:-2] + b"\x03\x00abc", "comment"),
        "member hidden from the directory": (_hidden(members), "hidden bytes"),
    }
    for case, (data, fragment) in cases.items():
        # When each is verified
        report = pv.verify_package(data, log_keys=[built.log_key], trust_roots=[built.root])
        # Then the container check fails, naming the problem, and no PDF was checked
        failed = _failed(report)
        assert failed.name == pv.CHECK_CONTAINER and fragment in failed.detail, (case, failed)
        assert not report.checks[-1].ran, case
    # and something that is not a zip at all is a BadZipFile, as the web page expects
    for junk in (b"%PDF-1.7\n", b"PK\x03\x04 cut off", b""):
        with pytest.raises(zipfile.BadZipFile):
            pv.verify_package(junk)


def test_a_zip_bomb_is_refused_quickly_with_bounded_memory(db):
    # Given a zip whose member is 300 MB of zeros, deflated to well under a megabyte
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", b"{}")
        with archive.open("document.pdf", "w") as member:
            chunk = bytes(1024 * 1024)
            for _ in range(300):
                member.write(chunk)
    bomb = buffer.getvalue()
    assert len(bomb) < 1024 * 1024
    # and one whose header lies about a member's size (300 MB inflate from a header saying 10 bytes)
    liar = _lying_size(300 * 1024 * 1024)
    for data, fragment in ((bomb, "more than"), (liar, "cannot be read")):
        # When it is verified
        tracemalloc.start()
        started = time.monotonic()
        report = pv.verify_package(data)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        # Then it is refused at once, having held no more than a few megabytes
        failed = _failed(report)
        assert failed.name == pv.CHECK_CONTAINER and fragment in failed.detail, failed
        assert elapsed < 5 and peak < 20 * 1024 * 1024, (elapsed, peak)


def _lying_size(real: int) -> bytes:
    """A one-member zip whose headers claim 10 bytes for a member that inflates to `real` bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1024 * 1024)
    body = b"".join(compressor.compress(chunk) for _ in range(real // len(chunk))) + compressor.flush()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", b"x" * 10)
    data = bytearray(buffer.getvalue())
    # swap the deflated bytes in, keeping the declared sizes and CRC: the zip stays structurally whole
    end = data.rfind(b"PK\x05\x06")
    central = data.rfind(b"PK\x01\x02", 0, end)
    local_size = int.from_bytes(data[18:22], "little")
    name_len = int.from_bytes(data[26:28], "little")
    head = bytes(data[: 30 + name_len])
    head = head[:18] + len(body).to_bytes(4, "little") + head[22:]
    directory = bytes(data[central:end])
    directory = directory[:20] + len(body).to_bytes(4, "little") + directory[24:]
    eocd = bytearray(data[end:])
    eocd[16:20] = (len(head) + len(body)).to_bytes(4, "little")
    assert local_size > 0
    return head + body + directory + bytes(eocd)


def _files_and_manifest(built: Built):
    from econtract.evidence.package_container import parse_manifest

    members = built.members()
    return members, parse_manifest(members["manifest.json"])


def test_the_deeper_checks_stand_on_their_own_when_the_manifest_is_bypassed(built):
    # Given a package's members (the manifest signature would catch these changes; the checks below
    # must catch them by themselves too)
    members, manifest = _files_and_manifest(built)
    leaf_name = next(n for n in members if n.startswith("leaves/"))
    body = json.loads(members[leaf_name])
    # When a leaf's bytes change (same meaning, other bytes: a space)
    changed = {**members, leaf_name: members[leaf_name] + b" "}
    # Then it is no longer included in the checkpoint
    with pytest.raises(pv.Problem, match="is not in the log at the checkpoint"):
        pv._check_leaves(changed, manifest)
    # When a leaf's hash is recomputed by merkle for the real bytes, the proof holds (the check can pass)
    assert "each included in the checkpoint" in pv._check_leaves(members, manifest)
    assert merkle.leaf_hash(members[leaf_name]) != merkle.leaf_hash(changed[leaf_name])
    # When the document loses its last revision, or gains bytes
    truncated = {**members, "document.pdf": members["document.pdf"][: manifest.revisions[-2].size]}
    with pytest.raises(pv.Problem, match="revision"):
        pv._check_revisions(truncated, manifest)
    # When the checkpoint's root is changed, its log signature no longer holds
    note = members["checkpoint.txt"].decode()
    text = note.split("\n\n")[0].split("\n")
    forged = "\n".join([text[0], text[1], "A" * 43 + "="]) + note[note.index("\n\n") :]
    verifier = notes.parse_verifier_key(built.log_key)
    with pytest.raises(pv.Problem, match="does not verify"):
        pv._check_checkpoint({**members, "checkpoint.txt": forged.encode()}, manifest, verifier, [built.root])
    # When the checkpoint token is missing
    without_token = {k: v for k, v in members.items() if k != "checkpoint.tsr"}
    with pytest.raises(pv.Problem, match="no timestamp on the checkpoint"):
        pv._check_checkpoint(without_token, manifest, verifier, [built.root])
    # When a 'signed' leaf names another document, the leaves no longer describe the revisions
    assert body["v"] == "econtract-event/v1"
    signed_index = next(e.index for e in manifest.events if e.kind == "signed")
    signed_leaf = json.loads(members[f"leaves/{signed_index}.json"])
    other = {**signed_leaf, "document_sha256": "0" * 64}
    with pytest.raises(pv.Problem, match="does not describe revision"):
        pv._check_revisions({**members, f"leaves/{signed_index}.json": rfc8785.dumps(other)}, manifest)
    # When a subject's chain skips a link (a leaf claims another predecessor), the chain check says so
    bodies = {e.index: json.loads(members[f"leaves/{e.index}.json"]) for e in manifest.events}
    hashes = {e.index: merkle.leaf_hash(members[f"leaves/{e.index}.json"]) for e in manifest.events}
    pv._check_chains(manifest, bodies, hashes)  # intact as built
    second = sorted(e.index for e in manifest.events if e.subject.endswith(manifest.envelope))[1]
    broken = {**bodies, second: {**bodies[second], "previous_leaf_hash": "ab" * 32}}
    with pytest.raises(pv.Problem, match="does not link"):
        pv._check_chains(manifest, broken, hashes)


def test_wrong_log_key_and_missing_witness_cosignature_fail(built):
    # Given a package and another log's key
    other_key = notes.verifier_key("other.example/log", bytes(32))
    # When it is verified with that log key
    report = pv.verify_package(built.data, log_keys=[other_key], trust_roots=[built.root])
    # Then the checkpoint check fails: the package's log key is not the given one
    failed = _failed(report)
    assert failed.name == pv.CHECK_CHECKPOINT and "not the given log key" in failed.detail
    # When it is verified requiring a witness that did not cosign
    witness_key = notes.verifier_key("witness.example", bytes(32), notes.COSIGNATURE_V1)
    report = pv.verify_package(
        built.data, log_keys=[built.log_key], witness_keys=[witness_key], trust_roots=[built.root]
    )
    # Then only the cosignature check fails
    failed = _failed(report)
    assert failed.name == pv.CHECK_COSIGNATURES and "witness.example" in failed.detail
    assert [c.name for c in report.checks if not c.ok] == [pv.CHECK_COSIGNATURES]
    # When it is verified against a root that did not issue its certificates
    from econtract.verification.tests import pki_fixtures as fx

    report = pv.verify_package(
        built.data, log_keys=[built.log_key], trust_roots=[fx.build_pki("stranger").root.asn1]
    )
    # Then the manifest signature is untrusted and the PDFs are not checked
    failed = _failed(report)
    assert failed.name == pv.CHECK_MANIFEST and "trust root" in failed.detail
    assert not report.checks[-1].ran


@pytest.fixture
def witness(tmp_path, db, settings) -> Iterator[Witness]:
    """A real witness server on a local port, configured as the platform's one witness."""
    running = Witness(tmp_path / "witness", [log.log_verifier_key()])
    server = WitnessHTTPServer(running)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.ECONTRACT_WITNESSES = f"{server.url} {running.verifier_key()}"
    yield running
    server.shutdown()
    server.server_close()


def test_a_witnessed_package_carries_the_cosignature_and_verifies_with_the_witness_key(
    witness, completed_envelope, report_pdf
):
    # Given a witness configured for the log, and a package built after it cosigned the anchor
    built = _build(completed_envelope.envelope, report_pdf)
    members = built.members()
    assert members["witnesses.vkeys"].decode().strip() == witness.verifier_key()
    assert len(members["checkpoint.txt"].decode().split("\n\n")[1].strip().splitlines()) == 2
    # When it is verified with the witness's key given
    report = pv.verify_package(
        built.data, log_keys=[built.log_key], witness_keys=[witness.verifier_key()], trust_roots=[built.root]
    )
    # Then every check passes and the cosignature check names the witness
    assert report.ok, report.summary
    assert report.checks[3].detail == f"cosigned by {notes.parse_verifier_key(witness.verifier_key()).name}"
    assert report.witness_key_source == "given"
    # When the cosignature line is removed (manifest untouched), the package no longer checks out
    note = members["checkpoint.txt"].decode()
    unwitnessed = note.rsplit("\u2014 ", 1)[0]
    tampered = _rezip({**members, "checkpoint.txt": unwitnessed.encode()})
    report = pv.verify_package(tampered, log_keys=[built.log_key], trust_roots=[built.root])
    assert not report.ok and not report.checks[3].ok  # the package's own witnesses.vkeys requires it


def _write(tmp_path, name: str, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_verify_command_checks_a_package_and_says_where_its_anchors_came_from(
    fresh_built, tmp_path, capsys
):
    built = fresh_built
    # Given a package, the platform root and the log key in files
    package = _write(tmp_path, "package.zip", built.data)
    root = _write(tmp_path, "root.pem", built.root_pem)
    vkey = _write(tmp_path, "log.vkey", built.log_key.encode() + b"\n")
    # When econtract verify runs with them (key as a file)
    call_command(
        "verify", str(package), "--log-key", str(vkey), "--trust-root", str(root), "--no-platform-root"
    )
    out = capsys.readouterr().out
    # Then it exits 0, lists every check, and does not warn about anchors from the package
    assert "Verdict: VALID" in out and "FROM THE PACKAGE" not in out
    for name in pv.CHECK_ORDER:
        assert f"[ok]      {name}:" in out
    # When it runs with no anchors at all
    call_command("verify", str(package), "--no-platform-root")
    out = capsys.readouterr().out
    # Then it still passes, and says loudly that the anchors came from the package, with fingerprints
    assert "came from the package itself" in out
    assert hashlib.sha256(built.root.dump()).hexdigest() in out
    assert hashlib.sha256(built.log_key.encode() + b"\n").hexdigest() in out
    assert "/pki/root.der" in out and "/log/vkey" in out
    # When it runs by default (this installation's database exists: its root and log key are used)
    call_command("verify", str(package), "--json")
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] and result["trust_source"] == "given" and result["log_key_source"] == "given"
    # When the package is tampered with, the exit status is 1; when it is not a zip past its header, 2
    tampered = _write(tmp_path, "tampered.zip", built.data + b"trailing")
    with pytest.raises(CommandError) as not_valid:
        call_command("verify", str(tampered), "--log-key", built.log_key)
    assert not_valid.value.returncode == 1
    assert "[FAILED]  container" in capsys.readouterr().out
    broken = _write(tmp_path, "broken.zip", b"PK\x03\x04 cut off")
    with pytest.raises(CommandError) as unusable:
        call_command("verify", str(broken))
    assert unusable.value.returncode == 2
    # and a wrong --log-key fails the checkpoint check
    with pytest.raises(CommandError) as wrong_key:
        call_command("verify", str(package), "--log-key", notes.verifier_key("other.example/log", bytes(32)))
    assert wrong_key.value.returncode == 1


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_verifies_the_manifest_signature_and_refuses_a_changed_manifest(built, tmp_path):
    # Given a package's manifest, its signature and the root certificate as files
    members = built.members()
    manifest = _write(tmp_path, "manifest.json", members["manifest.json"])
    signature = _write(tmp_path, "manifest.p7s", members["manifest.p7s"])
    root = _write(tmp_path, "root.pem", members["certificates/root.pem"])
    command = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(signature)]
    command += ["-content", str(manifest), "-CAfile", str(root), "-purpose", "any", "-out", "/dev/null"]
    # When openssl checks it, then it succeeds
    ok = subprocess.run(command, capture_output=True, check=False)
    assert ok.returncode == 0, ok.stderr
    # When the manifest changes by one byte, then openssl refuses it
    manifest.write_bytes(_flip(members["manifest.json"]))
    bad = subprocess.run(command, capture_output=True, check=False)
    assert bad.returncode != 0
    # and openssl ts checks the checkpoint's token over the log-signed note, as README.txt says
    signed_part = "".join(members["checkpoint.txt"].decode().splitlines(keepends=True)[:5])
    data = _write(tmp_path, "checkpoint-signed.txt", signed_part.encode())
    token = _write(tmp_path, "checkpoint.tsr", members["checkpoint.tsr"])
    tsa = _write(tmp_path, "tsa.pem", members["certificates/tsa.pem"])
    ts = ["openssl", "ts", "-verify", "-in", str(token), "-token_in", "-data", str(data)]
    ts += ["-CAfile", str(root), "-untrusted", str(tsa)]
    stamped = subprocess.run(ts, capture_output=True, check=False)
    assert stamped.returncode == 0, stamped.stderr
    assert "head -n 5 checkpoint.txt" in members["README.txt"].decode()
    # and the package's own root is the platform's
    assert pem.unarmor(members["certificates/root.pem"])[2] == built.root.dump()
