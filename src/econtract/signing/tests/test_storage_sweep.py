"""Crash debris in revision storage: write, then commit, then sweep (`econtract fsck`).

A crash between writing a revision's file and committing its row is reproduced by the real write path
(``_store_revision``) inside a transaction that then dies: the file stays, the row is rolled back, as
after kill -9.
"""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from econtract.evidence.services import RequestContext
from econtract.signing.models import DocumentRevision, Envelope
from econtract.signing.services import create_envelope
from econtract.signing.services.envelopes import _locked, _store_revision
from econtract.signing.services.storage import _storage, sweep_revision_files

pytestmark = pytest.mark.django_db(transaction=True)


class Crash(Exception):
    """The process dies here: the transaction never commits."""


@pytest.fixture(autouse=True)
def own_storage(settings, tmp_path):
    """A storage of this test alone: files of other tests' (flushed) envelopes would be orphans here."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "files"},
        },
    }


@pytest.fixture
def envelope(enterprise, sample_pdf) -> Envelope:
    owner = enterprise.memberships.get().user
    return create_envelope(
        organization=enterprise,
        created_by=owner,
        title="测试合同 Sweep",
        pdf=sample_pdf,
        context=RequestContext.system("test"),
    )


def _crash_while_storing(envelope: Envelope, data: bytes) -> str:
    """A signing that wrote its revision file and died before the commit; the file's name."""
    written: list[str] = []
    with pytest.raises(Crash), transaction.atomic():
        locked = _locked(envelope.pk)
        revision = _store_revision(locked, data, DocumentRevision.Reason.SIGNATURE)
        written.append(revision.file.name)
        raise Crash
    return written[0]


def _names_on_disk(envelope: Envelope) -> set[str]:
    return {f"envelopes/{envelope.pk}/{name}" for name in _storage().listdir(f"envelopes/{envelope.pk}")[1]}


def test_a_file_left_by_a_crashed_signing_is_listed_then_removed(envelope, sample_pdf):
    orphan = _crash_while_storing(envelope, sample_pdf + b"% signed by someone\n")
    original = envelope.current_document().file.name
    assert _names_on_disk(envelope) == {original, orphan}  # the debris a crash leaves
    assert not DocumentRevision.objects.filter(file=orphan).exists()

    dry = sweep_revision_files(remove=False)
    assert [o.name for o in dry.orphans] == [orphan] and _storage().exists(orphan)

    report = sweep_revision_files()

    assert [o.name for o in report.orphans] == [orphan]
    assert report.orphans[0].size == len(sample_pdf) + 20
    assert report.rows_intact
    assert _names_on_disk(envelope) == {original}
    assert envelope.current_document().read_bytes() == sample_pdf
    assert sweep_revision_files().orphans == []


def test_a_partly_written_file_is_an_orphan_too(envelope, sample_pdf):
    name = f"envelopes/{envelope.pk}/v001-0123456789abcdef.pdf"
    _storage().save(name, ContentFile(sample_pdf[: len(sample_pdf) // 3]))  # killed mid-write

    report = sweep_revision_files()

    assert [o.name for o in report.orphans] == [name]
    assert not _storage().exists(name)


def test_a_row_without_its_file_is_reported_and_kept(envelope):
    revision = envelope.current_document()
    _storage().delete(revision.file.name)

    report = sweep_revision_files()

    assert report.missing == [revision.file.name] and not report.rows_intact
    assert DocumentRevision.objects.filter(pk=revision.pk).exists()
    with pytest.raises(CommandError) as failed:
        call_command("fsck")
    assert failed.value.returncode == 1


def test_a_file_of_another_size_or_digest_is_reported_damaged(envelope, sample_pdf):
    revision = envelope.current_document()
    name = revision.file.name
    _storage().delete(name)
    _storage().save(name, ContentFile(sample_pdf[:-1] + b"X"))  # same size, one byte changed

    assert sweep_revision_files().rows_intact  # sizes agree
    assert sweep_revision_files(check_digests=True).damaged == [name]
    _storage().delete(name)
    _storage().save(name, ContentFile(sample_pdf + b"\n"))
    assert sweep_revision_files().damaged == [name]


def test_files_under_no_envelope_wait_out_the_grace_period_unless_writers_are_serialised(db):
    name = f"envelopes/{uuid.uuid4()}/v000-0123456789abcdef.pdf"
    _storage().save(name, ContentFile(b"%PDF-1.7 crashed create"))

    report = sweep_revision_files(grace=timedelta(hours=1))

    if connection.vendor == "sqlite":  # the sweep's write lock proves no create is in flight
        assert [o.name for o in report.orphans] == [name]
    else:  # maybe a create still in flight: its envelope row is not committed yet
        assert report.recent == [name] and report.orphans == []
        assert [o.name for o in sweep_revision_files(grace=timedelta(0)).orphans] == [name]
    assert not _storage().exists(name)


def test_a_signing_in_flight_keeps_its_file(envelope, sample_pdf):
    """The sweep waits for the envelope's lock, so a file whose row is about to commit survives."""
    written = threading.Event()
    release = threading.Event()
    stored: list[str] = []

    def signer() -> None:
        try:
            with transaction.atomic():
                locked = _locked(envelope.pk)
                revision = _store_revision(
                    locked, sample_pdf + b"% in flight\n", DocumentRevision.Reason.SIGNATURE
                )
                stored.append(revision.file.name)
                written.set()
                release.wait(timeout=60)
                locked.save(update_fields=["current_version"])
        finally:
            connection.close()

    reports = []

    def sweeper() -> None:
        try:
            reports.append(sweep_revision_files())
        finally:
            connection.close()

    signing = threading.Thread(target=signer)
    signing.start()
    assert written.wait(timeout=60)
    sweeping = threading.Thread(target=sweeper)
    sweeping.start()
    sweeping.join(timeout=1)
    assert sweeping.is_alive()  # waiting for the signer's lock, not judging its file
    release.set()
    signing.join(timeout=60)
    sweeping.join(timeout=60)

    assert reports and reports[0].orphans == [] and reports[0].rows_intact
    assert _storage().exists(stored[0])
    assert DocumentRevision.objects.filter(file=stored[0]).exists()


def test_serve_sweeps_at_start(envelope, sample_pdf):
    orphan = _crash_while_storing(envelope, sample_pdf + b"% before a restart\n")

    call_command("serve", "--init-only")

    assert not _storage().exists(orphan)
