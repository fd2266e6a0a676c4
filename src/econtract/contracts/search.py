"""The archive's full-text search, Chinese and English: SQLite FTS5 (embedded) or PostgreSQL.

One entry per contract (:class:`~econtract.contracts.search_models.SearchEntry`) holds its text:
title, numbers, counterparties, metadata values, tags, category and relation, then the text of its
files (extracted once per file content, in the sandbox, with OCR of scanned pages; see
:mod:`.textextract`). The tokens are made here, in Python (:mod:`.tokens`): CJK runs as overlapping
bigrams, other words case-folded and Porter-stemmed, so both databases index the same tokens and
the snippet marks what the index matched. SQLite keeps them in an FTS5 table ranked by bm25;
PostgreSQL in a ``tsvector`` ('simple' configuration: no second stemming) with a GIN index, ranked
by ``ts_rank``. Metadata counts four times the file text in the ranking (FTS5 column weights; ten
times with the tsvector's A and D weights). When more than ``ECONTRACT_SEARCH_RANKED_MATCHES``
(1,000) of her contracts match, they are not ranked (that would read the index entry of every one of
them) but listed newest archived first, which costs a page of rows.

Permissions are not decided here: :func:`matching` narrows the queryset it is given (already
``Contract.objects.visible_to(user)``), and snippets are read only for contracts of that queryset.

Usage::

    results = search.matching(Contract.objects.visible_to(user).alive(), q)
    page = list(results.contracts[:20])  # ordered by relevance, each with .search_rank
    snippets = results.snippets(page)  # {contract.pk: SafeString with <mark>…</mark>}
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, router, transaction
from django.db.models import BooleanField, Exists, F, FloatField, Func, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import StrIndex
from django.utils import timezone, translation
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from econtract.contracts import textextract, tokens
from econtract.contracts.models import Contract, ContractFile
from econtract.contracts.search_models import ExtractedText, FtsRow, SearchEntry
from econtract.contracts.tokens import Phrase

logger = logging.getLogger(__name__)

DEFAULT_MAX_INDEX_CHARS = 500_000
DEFAULT_RANKED_MATCHES = 1000
SNIPPET_CHARS = 200
SNIPPET_LEAD = 60  # characters shown before the first match
WORD_EDGE = 24  # how far a snippet's edge moves to avoid cutting a word
PART_SEPARATOR = " · "
FTS_TABLE = "contracts_search_fts"
INDEXED_ATTACHMENT_TYPES = ("application/pdf", "text/plain")
PROGRAM_LIMIT_EXCEEDED = "54000"  # PostgreSQL: "string is too long for tsvector"


def ranked_matches() -> int:
    """Up to how many matches are ranked by relevance (``ECONTRACT_SEARCH_RANKED_MATCHES``)."""
    return int(getattr(settings, "ECONTRACT_SEARCH_RANKED_MATCHES", DEFAULT_RANKED_MATCHES))


def max_index_chars() -> int:
    """Text indexed per contract (``ECONTRACT_SEARCH_MAX_CHARS``): what follows is not searchable."""
    return int(getattr(settings, "ECONTRACT_SEARCH_MAX_CHARS", DEFAULT_MAX_INDEX_CHARS))


# --- indexing --------------------------------------------------------------------------------------


def reindex(contract: Contract) -> None:
    """(Re)build the contract's search entry from its metadata and the text of its files.

    Files: the original and signed PDFs, and attachments that are PDFs or plain text. A file's text
    is extracted once per content (sha256) and kept, so re-indexing after a metadata change costs no
    extraction; a file extracted while OCR was unavailable is extracted again once it is available.
    Extraction runs in a child process and may take long for scans: call this from a task or after
    the commit, not inside a request's transaction. Soft-deleted contracts stay indexed.
    """
    attachments = Q()
    for content_type in INDEXED_ATTACHMENT_TYPES:
        attachments |= Q(content_type__startswith=content_type)
    files = ContractFile.objects.filter(contract=contract).filter(
        Q(kind__in=[ContractFile.Kind.ORIGINAL, ContractFile.Kind.SIGNED])
        | (Q(kind=ContractFile.Kind.ATTACHMENT) & attachments)
    )
    index_contract(contract, [file_text(file).text for file in files])


def index_contract(contract: Contract, file_texts: Sequence[str]) -> None:
    """Write the contract's entry from its metadata and the given ``file_texts`` (what
    :func:`reindex` does once the files are extracted; the benchmark gives text directly)."""
    head = _join(_metadata_parts(contract))
    seen: set[str] = set()
    bodies = []
    for text in file_texts:
        normalized = tokens.normalize(text)
        # the signed PDF usually has the original's text: the same text counts once
        if normalized and normalized not in seen:
            seen.add(normalized)
            bodies.append(normalized)
    limit = max_index_chars()
    head = head[:limit]
    body = _join(bodies)[: max(0, limit - len(head) - len(PART_SEPARATOR))]
    text = _join([head, body])
    head_form, body_form = tokens.index_form(head), tokens.index_form(body)
    alias = router.db_for_write(SearchEntry)
    entries = SearchEntry.objects.using(alias)
    with transaction.atomic(using=alias):
        # never load the tsvector, nor save it back: the index is written below, by the database
        entry_id = entries.filter(contract=contract).values_list("pk", flat=True).first()
        if entry_id is None:
            try:
                with transaction.atomic(using=alias):
                    entry_id = entries.create(contract=contract, text=text).pk
            except IntegrityError:  # indexed at the same moment by another process: update it
                entry_id = entries.filter(contract=contract).values_list("pk", flat=True).get()
                entries.filter(pk=entry_id).update(text=text, updated_at=timezone.now())
        else:
            entries.filter(pk=entry_id).update(text=text, updated_at=timezone.now())
        _write_index(alias, entry_id, head_form, body_form)


def remove(contract: Contract) -> None:
    """Take the contract out of the search (its extracted file texts stay cached)."""
    alias = router.db_for_write(SearchEntry)
    with transaction.atomic(using=alias):
        for entry_id in (
            SearchEntry.objects.using(alias).filter(contract=contract).values_list("pk", flat=True)
        ):
            if connections[alias].vendor == "sqlite":
                with connections[alias].cursor() as cursor:
                    cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [entry_id])  # noqa: S608
        SearchEntry.objects.using(alias).filter(contract=contract).delete()


def _write_index(alias: str, entry_id: int, head_form: str, body_form: str) -> None:
    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid = %s", [entry_id])  # noqa: S608
            cursor.execute(
                f"INSERT INTO {FTS_TABLE} (rowid, head, body) VALUES (%s, %s, %s)",  # noqa: S608
                [entry_id, head_form, body_form],
            )
        elif connection.vendor == "postgresql":
            _write_tsvector(alias, cursor, entry_id, head_form, body_form)
        else:
            raise NotImplementedError(f"no full-text search on {connection.vendor}")


def _write_tsvector(alias: str, cursor: Any, entry_id: int, head_form: str, body_form: str) -> None:
    # A tsvector holds at most 1 MB: a body too large for it is indexed as far as it fits.
    while True:
        try:
            with transaction.atomic(using=alias):
                cursor.execute(
                    "UPDATE contracts_searchentry SET document = "
                    "setweight(to_tsvector('simple', %s), 'A') || setweight(to_tsvector('simple', %s), 'D') "
                    "WHERE id = %s",
                    [head_form, body_form, entry_id],
                )
            return
        except DatabaseError as exc:
            if getattr(exc.__cause__, "sqlstate", None) != PROGRAM_LIMIT_EXCEEDED or not body_form:
                raise
            body_form = body_form[: len(body_form) // 2].rsplit(" ", 1)[0]
            logger.warning("search entry %s: text too long for a tsvector, indexing less of it", entry_id)


def _join(parts: Iterable[str]) -> str:
    return PART_SEPARATOR.join(part for part in parts if part)


def _metadata_parts(contract: Contract) -> list[str]:
    parts: list[str] = [contract.title, contract.number, contract.archive_number]
    for counterparty in contract.counterparties if isinstance(contract.counterparties, list) else []:
        if isinstance(counterparty, dict):
            parts.extend(_scalars([counterparty.get(key) for key in ("name", "email", "uscc")]))
    if isinstance(contract.metadata, dict):
        parts.extend(_scalars(contract.metadata.values()))
    parts.extend(tag.name for tag in contract.tags.all())
    if contract.category_id is not None and contract.category is not None:
        parts.append(contract.category.name)
    if contract.relation:
        # "补充协议" and "supplementary agreement" both find a supplement, whatever her language
        for language, _name in settings.LANGUAGES:
            with translation.override(language):
                parts.append(str(Contract.Relation(contract.relation).label))
    return [tokens.normalize(part) for part in dict.fromkeys(parts) if part]


def _scalars(values: Iterable[Any]) -> list[str]:
    found: list[str] = []
    for value in values:
        if isinstance(value, list | tuple):
            found.extend(_scalars(value))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            found.append(str(value))
    return found


def file_text(file: ContractFile) -> ExtractedText:
    """The file's extracted text, from the cache by content or extracted now (in the sandbox)."""
    cached = ExtractedText.objects.filter(sha256=file.sha256).first()
    if cached is not None and not (
        cached.status == ExtractedText.Status.OCR_UNAVAILABLE and textextract.ocr_available()
    ):
        return cached
    data = file.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != file.sha256:
        logger.warning("contract file %s: stored bytes do not match its sha256", file.pk)
    result = textextract.extract_text(data, file.content_type)
    text = tokens.normalize(result.text)
    row, _created = ExtractedText.objects.update_or_create(
        sha256=digest,
        defaults={
            "status": result.status,
            "text": text,
            "pages": result.pages,
            "ocr_pages": result.ocr_pages,
            "detail": tokens.normalize(result.detail)[:300],
        },
    )
    return row


# --- searching -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchResults:
    """The contracts of the given queryset that match, and how to show why."""

    # Filtered and ordered by relevance (then as contracts are ordered), each annotated with
    # ``search_rank`` (higher is better); when more than ranked_matches() match, newest archived
    # first and ``search_rank`` None. The given queryset unchanged when there was no query.
    contracts: QuerySet[Contract]
    phrases: tuple[Phrase, ...] = ()
    base: QuerySet[Contract] | None = field(default=None, repr=False)
    # False when too many contracts matched to rank them (see matching): newest archived first
    ranked: bool = False
    # contracts already known to be in ``base`` (found by matching()): their snippets need no query
    checked: frozenset[uuid.UUID] = field(default=frozenset(), repr=False)

    def snippets(self, contracts: Iterable[Contract | uuid.UUID]) -> dict[uuid.UUID, SafeString]:
        """A highlighted snippet (HTML: text escaped, matches in ``<mark>``) for each of
        ``contracts`` (typically a page of :attr:`contracts`) that is in the searched queryset.

        A contract outside it gets none, whatever the caller passes: the text is read only for
        contracts of the queryset she was given."""
        if not self.phrases or self.base is None:
            return {}
        ids = {item.pk if isinstance(item, Contract) else item for item in contracts}
        if not ids:
            return {}
        known = [pk for pk in ids if pk in self.checked]
        condition = Q(contract__in=known)
        if len(known) < len(ids):
            condition |= Q(contract__in=self.base.filter(pk__in=ids - set(known)).values("pk"))
        texts = SearchEntry.objects.using(self.base.db).filter(condition).values_list("contract_id", "text")
        return {contract_id: snippet(text, list(self.phrases)) for contract_id, text in texts}


def matching(queryset: QuerySet[Contract], q: str) -> SearchResults:
    """The contracts of ``queryset`` (already narrowed to what she may see) that match ``q``.

    Words separated by spaces must all match (in the contract's metadata or its files' text); a
    ``"quoted phrase"`` must match as written. A Chinese word matches inside longer text
    (``采购`` in ``年度采购框架协议``), its characters adjacent; one character matches wherever it
    appears; English words match their other forms (``agreements`` → ``agreement``). Nothing the
    user types is query syntax, so no input can make the query fail. An empty ``q`` filters nothing;
    one with nothing searchable in it (only punctuation) matches nothing.

    One query runs at once (two on PostgreSQL when they are ranked): it reads her newest
    ranked_matches() + 1 matches. Up to ranked_matches() are ranked; when more of her contracts
    match, ranking them would read the index entry of every one (on PostgreSQL the whole tsvector,
    stored out of line), so they come newest archived first, which costs a page of rows.
    """
    if not q or not q.strip():
        return SearchResults(queryset)
    phrases = tokens.parse_query(q)
    if not phrases:
        return SearchResults(queryset.none())
    vendor = connections[queryset.db].vendor
    if vendor not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"no full-text search on {vendor}")
    limit = ranked_matches()
    ranks = _ranked_candidates(queryset, phrases, limit + 1)
    if len(ranks) <= limit:
        by_date = [str(field) for field in Contract._meta.ordering or ()]
        ordered = (
            queryset.filter(pk__in=list(ranks))
            .annotate(search_rank=_rank_of(connections[queryset.db], ranks))
            .order_by("-search_rank", *by_date)
        )
        return SearchResults(ordered, tuple(phrases), base=queryset, ranked=True, checked=frozenset(ranks))
    if vendor == "sqlite":
        # FTS5 returns matches in rowid order, newest entry last: read backwards, a page of a word
        # found in every contract costs a page of rows
        found = queryset.filter(search_entry__fts__table__match=fts5_query(phrases))
        newest_first = "-search_entry__fts__pk"
    else:
        found = _postgresql_matching(queryset, phrases)
        newest_first = "-search_entry__id"
    unranked = found.annotate(search_rank=Value(None, output_field=FloatField())).order_by(newest_first)
    # the candidates are her newest matches: the first pages of these results
    return SearchResults(unranked, tuple(phrases), base=queryset, ranked=False, checked=frozenset(ranks))


def _ranked_candidates(
    queryset: QuerySet[Contract], phrases: Sequence[Phrase], limit: int
) -> dict[uuid.UUID, float]:
    """The newest ``limit`` matching contracts of ``queryset`` (newest archived first) and their
    rank (higher is better); the ranks only when there are fewer, as only then they are used.

    The full-text index leads and the queryset is a correlated EXISTS: a planner that started from
    an indexed filter of the queryset (an organisation, a category) would search the index once per
    contract, and an IN list would read all her contracts."""
    mine = Exists(queryset.order_by().filter(pk=OuterRef("contract_id")))
    if connections[queryset.db].vendor == "sqlite":
        # FTS5 computes the rank of the rows it returns only, and reads rowids backwards
        rows = (
            FtsRow.objects.using(queryset.db)
            .filter(table__match=fts5_query(phrases))
            .annotate(contract_id=F("entry__contract_id"), score=-F("rank"))
            .filter(mine)
            .order_by("-pk")
            .values_list("contract_id", "score")[:limit]
        )
        return {_uuid(contract_id): float(score) for contract_id, score in rows}
    query = _ToTsquery(Value(tsquery(phrases)))
    entries = _postgresql_entries(SearchEntry.objects.using(queryset.db), phrases).filter(mine)
    found = dict(entries.order_by("-pk").values_list("pk", "contract_id")[:limit])
    if len(found) == limit:  # too many to rank: ts_rank would read each tsvector
        return {_uuid(contract_id): 0.0 for contract_id in found.values()}
    ranked = SearchEntry.objects.using(queryset.db).filter(pk__in=list(found))
    ranked = ranked.annotate(score=Func(F("document"), query, function="ts_rank", output_field=FloatField()))
    return {
        _uuid(contract_id): float(score) for contract_id, score in ranked.values_list("contract_id", "score")
    }


def _rank_of(connection: Any, ranks: dict[uuid.UUID, float]) -> RawSQL:
    """``CASE id WHEN … THEN rank … END``: the ranks found, as a column (Case/When objects for a
    thousand contracts would cost more to build and compile than the query takes)."""
    if not ranks:
        return RawSQL("NULL", [], output_field=FloatField())  # noqa: S611 - a constant
    quote = connection.ops.quote_name
    column = f"{quote(Contract._meta.db_table)}.{quote(Contract._meta.pk.column)}"
    params: list[Any] = []
    for pk, rank in ranks.items():
        params += [Contract._meta.pk.get_db_prep_value(pk, connection), rank]
    # the column comes from the model, every value is a parameter
    sql = f"CASE {column}" + " WHEN %s THEN %s" * len(ranks) + " END"
    return RawSQL(sql, params, output_field=FloatField())  # noqa: S611


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def fts5_query(phrases: Sequence[Phrase]) -> str:
    """The FTS5 expression: every phrase's tokens quoted (so none is an operator), ANDed."""
    expressions = []
    for phrase in phrases:
        expressions.append(
            " + ".join(
                '"' + token.text.replace('"', '""') + '"' + (" *" if token.prefix else "")
                for token in phrase.tokens
            )
        )
    return " AND ".join(expressions)


def tsquery(phrases: Sequence[Phrase]) -> str:
    """The tsquery text: lexemes quoted, phrases with ``<->``; a CJK run's bigrams ANDed (its
    adjacency is checked as a substring, see :class:`~.tokens.Phrase`)."""
    expressions = []
    for phrase in phrases:
        lexemes = [_lexeme(token.text) + (":*" if token.prefix else "") for token in phrase.tokens]
        joiner = " & " if phrase.cjk_run else " <-> "
        expressions.append("(" + joiner.join(lexemes) + ")")
    return " & ".join(expressions)


def _lexeme(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "''") + "'"


class _ToTsquery(Func):
    template = "to_tsquery('simple'::regconfig, %(expressions)s)"


class _TsMatches(Func):
    template = "(%(expressions)s)"
    arg_joiner = " @@ "
    conditional = True

    def __init__(self, *expressions: Any) -> None:
        super().__init__(*expressions, output_field=BooleanField())


def _postgresql_entries(entries: QuerySet[SearchEntry], phrases: Sequence[Phrase]) -> QuerySet[SearchEntry]:
    found = entries.filter(_TsMatches(F("document"), _ToTsquery(Value(tsquery(phrases)))))
    for number, phrase in enumerate(phrase for phrase in phrases if phrase.cjk_run):
        name = f"_search_run_{number}"
        found = found.alias(**{name: StrIndex("text", Value(phrase.cjk_run))}).filter(**{f"{name}__gt": 0})
    return found


def _postgresql_matching(queryset: QuerySet[Contract], phrases: Sequence[Phrase]) -> QuerySet[Contract]:
    entries = _postgresql_entries(SearchEntry.objects.using(queryset.db), phrases)
    return queryset.filter(search_entry__in=entries.values("pk"))


# --- snippets --------------------------------------------------------------------------------------


def snippet(text: str, phrases: list[Phrase], length: int = SNIPPET_CHARS) -> SafeString:
    """About ``length`` characters of ``text`` around the first match of any phrase, HTML-escaped,
    every match inside it wrapped in ``<mark>``; the beginning of the text when nothing matches."""
    first = tokens.first_match(text, phrases)
    anchor = first[0] if first else 0
    start = max(0, min(anchor - SNIPPET_LEAD, len(text) - length))
    end = min(len(text), start + length)
    start, end = _word_edge(text, start, -1), _word_edge(text, end, 1)
    spans: list[list[int]] = []
    for span_start, span_end in tokens.match_spans(text, phrases, start, end):
        if spans and span_start <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], span_end)
        else:
            spans.append([span_start, span_end])
    html = ["…" if start > 0 else ""]
    position = start
    for span_start, span_end in spans:
        html.append(escape(text[position:span_start]))
        html.append("<mark>" + escape(text[span_start:span_end]) + "</mark>")
        position = span_end
    html.append(escape(text[position:end]))
    html.append("…" if end < len(text) else "")
    return mark_safe("".join(html))  # noqa: S308 - every piece of text above is escaped


def _word_edge(text: str, position: int, direction: int) -> int:
    """``position`` moved (backwards for -1) off the middle of a Latin word, by at most WORD_EDGE."""
    for step in range(WORD_EDGE):
        probe = position + direction * step
        if probe <= 0 or probe >= len(text):
            return max(0, min(probe, len(text)))
        before, after = text[probe - 1], text[probe]
        if not (_latin(before) and _latin(after)):
            return probe
    return position


def _latin(char: str) -> bool:
    return char.isalnum() and not tokens.is_cjk(char)
