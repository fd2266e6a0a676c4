"""Cost of verification: ms per signature for a 10-page, 3-signature PDF, against pyHanko's own CLI.

Compared on the same file in the same run (only ratios compare across machines):

* ``verify_pdf`` in-process, and pyHanko's bare ``async_validate_pdf_signature`` per signature;
* ``verify_pdf_isolated`` (the sandboxed child ``econtract verify`` and the API use) against
  ``pyhanko sign adesverify`` (pyhanko-cli), both paying for an interpreter start.

Run: ``cd /work/main && .venv/bin/python bench/verify.py [RUNS]``
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

PAGES = 10
SIGNATURES = 3


def median_ms(action: Callable[[], object], runs: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def ten_page_pdf() -> bytes:
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name
    from pyhanko.pdf_utils.writer import PageObject, PdfFileWriter

    writer = PdfFileWriter(stream_xrefs=False)
    font = writer.add_object(
        generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Font"),
                pdf_name("/Subtype"): pdf_name("/Type1"),
                pdf_name("/BaseFont"): pdf_name("/Helvetica"),
            }
        )
    )
    for number in range(1, PAGES + 1):
        text = " ".join(f"Clause {number}.{line}: the parties agree." for line in range(20))
        content = generic.StreamObject(stream_data=f"BT /F1 9 Tf 40 800 Td ({text}) Tj ET".encode())
        resources = generic.DictionaryObject(
            {pdf_name("/Font"): generic.DictionaryObject({pdf_name("/F1"): font})}
        )
        writer.insert_page(
            PageObject(contents=writer.add_object(content), media_box=[0, 0, 595, 842], resources=resources)
        )
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    import logging

    logging.disable(logging.CRITICAL)
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature

    from econtract.verification.isolation import verify_pdf_isolated
    from econtract.verification.services import verify_pdf
    from econtract.verification.services.visual import COMPARED_MODIFICATIONS, render_every_page
    from econtract.verification.tests import pki_fixtures as fx

    pki = fx.build_pki("bench")
    pdf = ten_page_pdf()
    for index in range(1, SIGNATURES + 1):
        who = pki.signer if index == 1 else pki.issue_signer(f"Signer {index}")
        pdf = fx.sign(pdf, pki, field_name=f"Signature{index}", who=who)
    roots = [pki.root.asn1]
    report = verify_pdf(pdf, trust_roots=roots)
    assert report.valid and len(report.signatures) == SIGNATURES, report.to_dict()

    def bare_pyhanko() -> None:
        reader = PdfFileReader(BytesIO(pdf))

        async def run() -> None:
            for sig in reader.embedded_signatures:
                await async_validate_pdf_signature(sig, pki.validation_context(crls=[]))

        asyncio.run(run())

    scratch = Path(tempfile.mkdtemp(prefix="econtract-bench-"))
    try:
        (scratch / "signed.pdf").write_bytes(pdf)
        (scratch / "root.pem").write_bytes(pki.root.pem())
        pyhanko_cli = shutil.which("pyhanko") or str(Path(sys.executable).with_name("pyhanko"))
        adesverify = [
            pyhanko_cli,
            "sign",
            "adesverify",
            "--trust",
            str(scratch / "root.pem"),
            "--trust-replace",
            "--no-revocation-check",
            "--executive-summary",
            str(scratch / "signed.pdf"),
        ]

        def cli() -> None:
            subprocess.run(adesverify, check=True, capture_output=True, timeout=120)

        figures = {
            "econtract verify_pdf (in-process)": median_ms(lambda: verify_pdf(pdf, trust_roots=roots), runs),
            "pyHanko validate_pdf_signature (in-process, no extras)": median_ms(bare_pyhanko, runs),
            "econtract verify_pdf_isolated (sandboxed child)": median_ms(
                lambda: verify_pdf_isolated(pdf, trust_roots=roots), runs
            ),
            "pyhanko sign adesverify (CLI process)": median_ms(cli, runs),
        }
        render_ms = median_ms(lambda: render_every_page(pdf), runs) / PAGES
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"{PAGES}-page PDF, {SIGNATURES} signatures (PAdES B-T, ECDSA P-256), {len(pdf):,} bytes, {runs} runs"
    )
    for name, total in figures.items():
        print(f"  {name:<58} {total:8.1f} ms/file  {total / SIGNATURES:7.1f} ms/signature")
    inproc = (
        figures["econtract verify_pdf (in-process)"]
        / figures["pyHanko validate_pdf_signature (in-process, no extras)"]
    )
    child = (
        figures["econtract verify_pdf_isolated (sandboxed child)"]
        / figures["pyhanko sign adesverify (CLI process)"]
    )
    print(
        f"  ratio in-process econtract / pyHanko: {inproc:.2f}; sandboxed econtract / pyhanko CLI: {child:.2f}"
    )
    # the visual comparison renders every page of each signature's view, and of the final file once
    compared = sum(1 for s in report.signatures if s.modification in COMPARED_MODIFICATIONS)
    rendered = PAGES * (compared + 1) if compared else 0
    print(
        f"  pages rendered per verification: {rendered} at {render_ms:.1f} ms/page (PDFium, 72 dpi, forms drawn)"
    )


if __name__ == "__main__":
    main()
