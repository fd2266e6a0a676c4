"""Cost of the PDF admission check: sandboxed ``inspect_pdf`` vs a bare in-process pyHanko page count.

Run: ``cd /work/main && /tmp/v/bin/python bench/pdf_inspect.py [RUNS]``
"""

from __future__ import annotations

import os
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


def median_ms(action: Callable[[], object], runs: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        action()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    data_dir = tempfile.mkdtemp(prefix="econtract-bench-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "econtract.settings"
    os.environ["ECONTRACT_DATA_DIR"] = data_dir
    try:
        import django

        django.setup()
        from pyhanko.pdf_utils.reader import PdfFileReader

        from econtract.documents.pdfsafety import inspect_pdf
        from econtract.documents.samples import make_contract_pdf

        paragraph = "甲方与乙方根据《中华人民共和国民法典》的规定，就电子合同签署服务达成如下协议。" * 4
        paragraphs = [paragraph, "The parties agree as follows."] * 3
        pdf = make_contract_pdf("电子合同 Benchmark", paragraphs, pages=10)

        def bare_page_count() -> int:
            return int(PdfFileReader(BytesIO(pdf), strict=False).root["/Pages"]["/Count"])

        assert bare_page_count() == 10 and inspect_pdf(pdf).page_count == 10
        inspect = median_ms(lambda: inspect_pdf(pdf), runs)
        bare = median_ms(bare_page_count, runs)
        interpreter = median_ms(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True), runs)
        print(f"sample: 10 pages, {len(pdf)} bytes; median of {runs} runs")
        print(f"inspect_pdf (sandboxed child)           {inspect:8.1f} ms")
        print(f"bare PdfFileReader page count (in proc) {bare:8.1f} ms")
        print(f"ratio                                   {inspect / bare:8.1f} x")
        print(f"(floor: starting an empty interpreter   {interpreter:8.1f} ms)")
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
