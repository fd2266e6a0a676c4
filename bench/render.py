"""Cost of contract rendering: ms per document and pages/s of ``documents.rendering.render_pdf`` on a
20-page bilingual contract, against bare WeasyPrint on the same HTML in the same run.

Three rows, median wall-clock (and CPU) time of ``--runs`` each after a warm-up, the three taking
turns:

* ``render_pdf``: layout once, field boxes read from the layout, PDF/A-2b, fixed /ID and dates, the
  URL fetcher that serves only the font;
* bare ``weasyprint.HTML(string=same_full_html).write_pdf()`` (default fetcher, plain PDF): the ratio
  against this row is the figure to watch (aim <= 1.2x);
* the same bare call with ``pdf_variant="pdf/a-2b"``, to show what PDF/A itself costs.

Run: ``cd /work/main && .venv/bin/python bench/render.py [--pages N] [--runs N]``
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

AIM_RATIO = 1.2
CREATED = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CLAUSE_ZH = (
    "甲方与乙方根据《中华人民共和国民法典》及相关法律法规的规定，在平等、自愿、公平、诚实信用的基础上，"
    "就货物买卖事宜协商一致，订立本合同，以资共同遵守。"
)
CLAUSE_EN = (
    "The seller shall deliver the goods described in Annex 1 to the buyer's warehouse within thirty (30) "
    "days after this contract is signed, at its own cost and risk."
)


def setup_django() -> None:
    # a throw-away data directory unless one is given (the CJK font is extracted there, untimed)
    os.environ.setdefault("ECONTRACT_DATA_DIR", tempfile.mkdtemp(prefix="econtract-bench-"))
    os.environ["DJANGO_SETTINGS_MODULE"] = "econtract.settings"
    import django

    django.setup()


def placeholder(kind: str, party: str, n: int = 1) -> str:
    name = f"{kind}_{party}"
    return (
        f'<span class="ec-field ec-field-{kind}" id="ec-field-{name}-{n}" data-field="{name}" '
        f'data-kind="{kind}" data-party="{party}"></span>'
    )


def contract_body(clauses: int) -> str:
    """A bilingual sales contract: headings, clauses, a price table, initials, signature block."""
    parts = ["<h1>买卖合同 Sales Contract</h1>", "<p>合同编号 Contract No.: 2026-SC-0001</p>"]
    for n in range(1, clauses + 1):
        if n % 12 == 1:
            parts.append(f"<h2>第{n // 12 + 1}章 Chapter {n // 12 + 1}</h2>")
        parts.append(f"<p>第{n}条 {CLAUSE_ZH} Article {n}. {CLAUSE_EN}</p>")
        if n % 40 == 0:
            rows = "".join(
                f"<tr><td>{i}</td><td>货物 Goods {i}</td><td>{i * 10}</td><td>¥{i * 1234:,}.00</td></tr>"
                for i in range(1, 8)
            )
            parts.append(
                "<table><tr><th>序号 No.</th><th>品名 Item</th><th>数量 Qty</th><th>金额 Amount</th></tr>"
                f"{rows}</table>"
            )
            parts.append(f"<p>甲方小签 Initials: {placeholder('initials', 'seller', n // 40)}</p>")
    parts.append(f"<p>卖方（盖章）Seller (seal): {placeholder('seal', 'seller')}</p>")
    parts.append(f"<p>卖方签字 Seller: {placeholder('signature', 'seller')}</p>")
    parts.append(f"<p>买方签字 Buyer: {placeholder('signature', 'buyer')}</p>")
    parts.append(f"<p>日期 Date: {placeholder('date_signed', 'buyer')}</p>")
    return "".join(parts)


def body_of_pages(pages: int) -> tuple[str, int]:
    """A body laid out on ``pages`` pages (clause count adjusted from a first estimate)."""
    from econtract.documents.rendering import PageSetup, render_pdf

    clauses = 10 * pages
    for _ in range(6):
        count = render_pdf(contract_body(clauses), title="t", setup=PageSetup(), created=CREATED).page_count
        if count == pages:
            break
        clauses = max(1, clauses + round((pages - count) * clauses / count))
    return contract_body(clauses), count


def interleaved_medians(actions: list[Callable[[], object]], runs: int) -> list[tuple[float, float]]:
    """Median wall-clock and CPU ms of each action; the actions take turns (in rotating order) so that
    load from other processes and the garbage collector's drift fall on all of them alike."""
    for action in actions:  # warm-up
        action()
    wall: list[list[float]] = [[] for _ in actions]
    cpu: list[list[float]] = [[] for _ in actions]
    for run in range(runs):
        for offset in range(len(actions)):
            index = (run + offset) % len(actions)
            started, started_cpu = time.perf_counter(), time.process_time()
            actions[index]()
            wall[index].append((time.perf_counter() - started) * 1000)
            cpu[index].append((time.process_time() - started_cpu) * 1000)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(wall, cpu, strict=True)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=20)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)
    setup_django()
    import weasyprint

    from econtract.documents.rendering import PageSetup, full_html, render_pdf

    setup = PageSetup(header="买卖合同 Sales Contract 2026-SC-0001", footer="机密 Confidential")
    title = "买卖合同 Sales Contract"
    body, pages = body_of_pages(args.pages)
    html = full_html(body, title=title, setup=setup)
    ours = render_pdf(body, title=title, setup=setup, created=CREATED)
    print(
        f"{pages}-page bilingual contract ({len(body.encode()) // 1024} KiB of HTML, {len(ours.fields)} fields), "
        f"WeasyPrint {weasyprint.__version__}, median of {args.runs} interleaved runs"
    )

    names = [
        "render_pdf (PDF/A-2b, fields, fetcher)",
        "bare WeasyPrint write_pdf(), same HTML",
        "bare WeasyPrint write_pdf(pdf_variant=pdf/a-2b)",
    ]
    actions: list[Callable[[], object]] = [
        lambda: render_pdf(body, title=title, setup=setup, created=CREATED),
        lambda: weasyprint.HTML(string=html).write_pdf(),
        lambda: weasyprint.HTML(string=html).write_pdf(pdf_variant="pdf/a-2b"),
    ]
    rows = list(zip(names, interleaved_medians(actions, args.runs), strict=True))
    bare_wall, bare_cpu = rows[1][1]
    for name, (wall, cpu) in rows:
        print(
            f"  {name:<50} {wall:7.0f} ms  {pages / wall * 1000:5.1f} pages/s  ratio {wall / bare_wall:4.2f}x"
            f"   (CPU {cpu:5.0f} ms, ratio {cpu / bare_cpu:4.2f}x)"
        )
    ratio = rows[0][1][0] / bare_wall
    print(
        f"  aim render_pdf <= {AIM_RATIO}x bare: {'met' if ratio <= AIM_RATIO else 'NOT met'} ({ratio:.2f}x)"
    )


if __name__ == "__main__":
    main()
