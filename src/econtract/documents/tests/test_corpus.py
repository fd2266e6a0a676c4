"""The upload inspection over public PDF attack corpora (../shared/corpus, see its README).

A user's clone has no ../shared: the test then skips, saying so. The files are not copied into the
repository because the corpus README states no licence for them.
"""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest

from econtract.documents.errors import UnsafePdf
from econtract.documents.pdfsafety import PdfInspection, inspect_pdf

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus"
FILES = sorted(CORPUS.rglob("*.pdf")) + sorted(CORPUS.rglob("*.pdf.gz")) if CORPUS.is_dir() else []
# Each file is refused or described within the sandbox's own limits.
SECONDS_PER_FILE = 10


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


@pytest.mark.skipif(not FILES, reason=f"no attack corpus at {CORPUS} (only CI and the shared tree have it)")
@pytest.mark.parametrize("path", FILES, ids=[path.name[:60] for path in FILES])
def test_corpus_files_are_refused_or_described_quickly(path: Path) -> None:
    data = _read(path)
    started = time.monotonic()
    try:
        outcome: PdfInspection | UnsafePdf = inspect_pdf(data)
    except UnsafePdf as exc:
        outcome = exc
    assert time.monotonic() - started < SECONDS_PER_FILE
    if path.parent.name == "dos" and "bomb" in path.name:
        assert isinstance(outcome, UnsafePdf) and outcome.code == "decompression_bomb"
    elif path.name.startswith(("A3-", "A4-")):
        assert isinstance(outcome, UnsafePdf) and outcome.code == "page_tree_loop"
    if isinstance(outcome, PdfInspection):
        # None of these files carries scripts: the active-content walk must not invent any, and it
        # must survive their reference loops (outlines, arrays, dictionaries).
        assert outcome.active_content == []
