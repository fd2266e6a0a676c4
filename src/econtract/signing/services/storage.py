"""Crash consistency of stored revisions: write the file, then commit its row, then sweep.

A revision's file is written inside the transaction that inserts its ``DocumentRevision`` row, so a
row never exists without its file. A crash (kill -9, OOM, power cut) between the write and the commit
leaves a file with no row, possibly half written, possibly a complete and valid signature that the
platform never recorded. ``sweep_revision_files`` (``econtract fsck``, also run by ``econtract serve``
at start) lists those orphans and removes them, and reports the opposite, a row whose file is missing
or has another size, without touching the row.

A file written by a signing still in flight has no committed row yet and must not be taken for an
orphan. Every write into an existing envelope holds that envelope's row lock (``_locked``), so the
sweep takes the same lock before it lists the envelope's files: it waits for the signer to commit (or
die, which releases the lock) and then sees the row. Files under an envelope that does not exist
belong either to a crashed create or to one still in flight (its envelope row is not committed yet):
on SQLite, whose IMMEDIATE transactions serialise all writers, holding the write lock proves none is
in flight; elsewhere only files older than a grace period are removed.

Only the storage API is used (listdir, size, open, delete, get_modified_time), so the sweep works the
same on local files and on S3-compatible storage.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.files.storage import Storage
from django.db import connection, transaction
from django.utils import timezone

from econtract.signing.models import DocumentRevision, Envelope

logger = logging.getLogger("econtract.signing")

REVISIONS_ROOT = "envelopes"  # see signing.models.revision_path
# A create_envelope transaction lasts seconds; a file this old under no envelope is debris.
UNKNOWN_ENVELOPE_GRACE = timedelta(minutes=15)


@dataclass(frozen=True)
class StoredFile:
    name: str
    size: int
    sha256: str


@dataclass
class StorageReport:
    orphans: list[StoredFile] = field(default_factory=list)  # files without a row (removed unless dry run)
    recent: list[str] = field(default_factory=list)  # maybe a create still in flight: left for a later run
    missing: list[str] = field(default_factory=list)  # rows whose file is gone
    damaged: list[str] = field(default_factory=list)  # rows whose file differs in size (or digest)
    removed: bool = False

    @property
    def rows_intact(self) -> bool:
        return not self.missing and not self.damaged

    def lines(self) -> list[str]:
        """One line per finding, then a summary (for `econtract fsck` and `econtract serve`)."""
        verb = "removed orphan" if self.removed else "orphan"
        found = [f"{verb}: {o.name} ({o.size} bytes, SHA-256 {o.sha256})" for o in self.orphans]
        found += [f"recent, left for a later run: {name}" for name in self.recent]
        found += [f"MISSING: {name} (its revision row is kept)" for name in self.missing]
        found += [f"DAMAGED: {name} (size or digest differs from its revision row)" for name in self.damaged]
        return [
            *found,
            f"fsck: {len(self.orphans)} orphan(s) {'removed' if self.removed else 'found'}, "
            f"{len(self.missing)} missing, {len(self.damaged)} damaged",
        ]


def _storage() -> Storage:
    return DocumentRevision._meta.get_field("file").storage


def _listdir(storage: Storage, path: str) -> tuple[list[str], list[str]]:
    try:
        directories, files = storage.listdir(path)
    except FileNotFoundError:  # local storage before the first upload; S3 lists nothing instead
        return [], []
    return list(directories), list(files)


def _digest(storage: Storage, name: str) -> str:
    sha = hashlib.sha256()
    with storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def _envelope_pk(directory: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(directory)
    except ValueError:
        return None


def sweep_revision_files(
    *,
    remove: bool = True,
    check_digests: bool = False,
    grace: timedelta = UNKNOWN_ENVELOPE_GRACE,
) -> StorageReport:
    """Find (and unless ``remove`` is False, delete) revision files that have no row; report rows whose
    file is missing or damaged (size, and with ``check_digests`` the SHA-256 too). Rows are never
    changed. Safe to run while the platform serves."""
    storage = _storage()
    report = StorageReport(removed=remove)
    directories, stray = _listdir(storage, REVISIONS_ROOT)
    for directory in sorted(directories):
        _sweep_directory(storage, directory, report, remove=remove, check_digests=check_digests, grace=grace)
    if stray:  # files directly under the root: no revision is ever stored there
        _sweep_directory(
            storage, "", report, remove=remove, check_digests=check_digests, grace=grace, files=stray
        )
    listed = set(directories)
    for envelope_id, name in DocumentRevision.objects.values_list("envelope_id", "file").iterator():
        if str(envelope_id) not in listed and not storage.exists(name):
            report.missing.append(name)
    return report


def _sweep_directory(
    storage: Storage,
    directory: str,
    report: StorageReport,
    *,
    remove: bool,
    check_digests: bool,
    grace: timedelta,
    files: list[str] | None = None,
) -> None:
    prefix = f"{REVISIONS_ROOT}/{directory}" if directory else REVISIONS_ROOT
    envelope_pk = _envelope_pk(directory)
    with transaction.atomic():
        # The envelope's row lock, as every writer into an existing envelope holds it (PostgreSQL
        # waits for a signer in flight; SQLite's IMMEDIATE transaction already excludes all writers).
        found = False
        rows: dict[str, tuple[int, str]] = {}
        if envelope_pk is not None:
            locked = Envelope.objects.select_for_update(of=("self",)).filter(pk=envelope_pk)
            found = bool(list(locked.values_list("pk", flat=True)))
            revisions = DocumentRevision.objects.filter(envelope_id=envelope_pk)
            rows = {name: (size, sha) for name, size, sha in revisions.values_list("file", "size", "sha256")}
        # Without an envelope row the writer may be a create still in flight, unless writers are
        # serialised (SQLite), in which case none is.
        judged_now = found or connection.vendor == "sqlite"
        listed = files if files is not None else _listdir(storage, prefix)[1]
        now = timezone.now()
        for filename in sorted(listed):
            name = f"{prefix}/{filename}"
            if name in rows:
                size, sha = rows[name]
                if storage.size(name) != size or (check_digests and _digest(storage, name) != sha):
                    report.damaged.append(name)
                continue
            if not judged_now and now - _modified(storage, name) < grace:
                report.recent.append(name)
                continue
            orphan = StoredFile(name, storage.size(name), _digest(storage, name))
            report.orphans.append(orphan)
            if remove:
                storage.delete(name)
                logger.warning(
                    "removed %s: %d bytes (SHA-256 %s) with no revision row, left by an interrupted write",
                    orphan.name,
                    orphan.size,
                    orphan.sha256,
                )
        present = {f"{prefix}/{filename}" for filename in listed}
        report.missing.extend(
            name for name in sorted(rows) if name not in present and not storage.exists(name)
        )


def _modified(storage: Storage, name: str) -> datetime:
    moment = storage.get_modified_time(name)
    return moment if timezone.is_aware(moment) else timezone.make_aware(moment)
