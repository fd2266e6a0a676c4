"""Session-wide throwaway PKIs and signed PDFs: keys and signatures are made once, then reused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from econtract.verification.tests import pki_fixtures as fx


@pytest.fixture(scope="session")
def pki() -> fx.ThrowawayPki:
    return fx.build_pki("econtract-test")


@pytest.fixture(scope="session")
def rogue_pki() -> fx.ThrowawayPki:
    """A look-alike PKI nobody trusts (same names, different keys)."""
    return fx.build_pki("econtract-test")


@pytest.fixture(scope="session")
def blank() -> bytes:
    return fx.blank_pdf()


@pytest.fixture(scope="session")
def signed(pki: fx.ThrowawayPki, blank: bytes) -> bytes:
    """PAdES B-T: one signature with a signature timestamp, nothing after it."""
    return fx.sign(blank, pki)


@pytest.fixture(scope="session")
def signed_lt(pki: fx.ThrowawayPki, blank: bytes) -> bytes:
    """PAdES B-LT: the CRLs are embedded in a DSS revision after the signature."""
    return fx.sign(blank, pki, embed_validation_info=True)


@pytest.fixture(scope="session")
def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def root_pem(pki: fx.ThrowawayPki, tmp_path: Path) -> Path:
    path = tmp_path / "root.pem"
    path.write_bytes(pki.root.pem())
    return path
