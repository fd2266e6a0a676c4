"""Contract numbers from the organisation's pattern, e.g. ``HT-{yyyy}-{seq:05}`` → ``HT-2026-00042``.

The grammar is ours and narrow (no format-string engine sees user text): literal text, and the tokens
``{yyyy}`` ``{yy}`` ``{mm}`` ``{dd}`` and exactly one ``{seq}`` or ``{seq:0N}`` (N from 1 to 12). The
sequence counts per *scope*, the pattern with its date parts filled in: ``HT-{yyyy}-{seq:05}`` starts
again at 1 each year, ``HT-{seq:06}`` never does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction

from econtract.contracts.errors import InvalidContract
from econtract.contracts.models import NumberSequence
from econtract.textinput import TextKind, UnsafeText, clean_text

TOKEN = re.compile(r"\{([^{}]*)\}")
SEQUENCE = re.compile(r"seq(?::0([1-9]|1[0-2]))?")
DATE_PARTS = {"yyyy": "%Y", "yy": "%y", "mm": "%m", "dd": "%d"}
# Literal text allowed around the tokens: what a filing clerk writes in a number, nothing that needs escaping.
LITERAL = re.compile(r"[\w\-/.#()（）]*")
MAX_PATTERN = 100


@dataclass(frozen=True)
class Pattern:
    before: str  # with date tokens still in it
    after: str
    width: int  # 0: no padding


def parse_pattern(pattern: str) -> Pattern:
    """The pattern checked; :class:`InvalidContract` ``invalid_number_pattern`` says what is wrong."""
    try:
        text = clean_text(pattern, TextKind.LINE, field="number_pattern", max_length=MAX_PATTERN)
    except UnsafeText as exc:
        raise InvalidContract(str(exc), code="invalid_number_pattern") from exc
    sequences = []
    for match in TOKEN.finditer(text):
        name = match.group(1)
        if name in DATE_PARTS:
            continue
        found = SEQUENCE.fullmatch(name)
        if found is None:
            raise InvalidContract(
                f"unknown token {{{name}}}: use {{yyyy}}, {{yy}}, {{mm}}, {{dd}}, {{seq}} or {{seq:05}}",
                code="invalid_number_pattern",
            )
        sequences.append((match, int(found.group(1) or 0)))
    if len(sequences) != 1:
        raise InvalidContract("the pattern needs exactly one {seq}", code="invalid_number_pattern")
    literal = TOKEN.sub("", text)
    if "{" in literal or "}" in literal or not LITERAL.fullmatch(literal):
        raise InvalidContract(
            "outside its tokens a pattern may hold letters, digits and - / . # ( )",
            code="invalid_number_pattern",
        )
    match, width = sequences[0]
    return Pattern(before=text[: match.start()], after=text[match.end() :], width=width)


def _fill_dates(text: str, day: date) -> str:
    return TOKEN.sub(lambda m: day.strftime(DATE_PARTS[m.group(1)]), text)


def preview(pattern: str, day: date, sequence: int = 1) -> str:
    parsed = parse_pattern(pattern)
    return (
        _fill_dates(parsed.before, day) + str(sequence).zfill(parsed.width) + _fill_dates(parsed.after, day)
    )


def next_number(organization: object, pattern: str, day: date) -> str:
    """The next number in the pattern's scope for ``day``; two callers at once never get the same one."""
    parsed = parse_pattern(pattern)
    before, after = _fill_dates(parsed.before, day), _fill_dates(parsed.after, day)
    scope = f"{before}{{seq}}{after}"
    for _attempt in range(5):
        try:
            with transaction.atomic():
                sequence, _ = NumberSequence.objects.select_for_update().get_or_create(
                    organization=organization, scope=scope
                )
                sequence.last += 1
                sequence.save(update_fields=["last"])
                return before + str(sequence.last).zfill(parsed.width) + after
        except IntegrityError:  # another writer created the scope's row between our get and create
            continue
    raise InvalidContract("no number could be given; try again", code="numbering_busy")
