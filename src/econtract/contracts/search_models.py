"""Tables of the archive search (contracts.search): extracted file text, one entry per contract and,
on SQLite, the FTS5 table the entries are indexed in.

The full-text index itself is written by the migration for each database (0002_search): an FTS5
virtual table on SQLite, a ``tsvector`` column with a GIN index on PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models import Lookup
from django.utils.translation import gettext_lazy as _


class TsVectorField(models.Field):
    """PostgreSQL's ``tsvector``; an unused text column elsewhere (SQLite keeps its index in FTS5)."""

    description = "full-text search vector"

    def db_type(self, connection: Any) -> str:
        return "tsvector" if connection.vendor == "postgresql" else "text"


class FtsTableColumn(models.Field):
    """The hidden column FTS5 names after its table: ``table MATCH 'query'`` searches every column."""

    def db_type(self, connection: Any) -> None:
        return None


@FtsTableColumn.register_lookup
class FtsMatch(Lookup):
    lookup_name = "match"

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} MATCH {rhs}", [*lhs_params, *rhs_params]


class ExtractedText(models.Model):
    """The text of one file, by content: a PDF is extracted (and OCR'd) once, however often it is
    indexed or however many contracts hold it."""

    class Status(models.TextChoices):
        OK = "ok", _("extracted")
        # pages without text needed OCR, and tesseract (or its chi_sim data) is not installed
        OCR_UNAVAILABLE = "ocr_unavailable", _("OCR unavailable")
        FAILED = "failed", _("extraction failed")  # hostile, broken or encrypted PDF, or a limit
        UNSUPPORTED = "unsupported", _("not extractable")  # neither PDF nor plain text, or too large

    sha256 = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    text = models.TextField(blank=True)
    pages = models.PositiveIntegerField(default=0)
    ocr_pages = models.PositiveIntegerField(default=0)  # pages whose text came from OCR
    detail = models.CharField(max_length=300, blank=True)  # why it failed or what was left out
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]} {self.status}"


class SearchEntry(models.Model):
    """What the archive search knows of one contract: its text as snippets show it, and its index.

    On SQLite the FTS5 row has this entry's id as rowid; a trigger removes it with the entry. A
    later migration that rebuilds this table on SQLite (any AlterField) drops that trigger and must
    create it again (see 0002_search)."""

    contract = models.OneToOneField(
        "contracts.Contract", on_delete=models.CASCADE, related_name="search_entry"
    )
    text = models.TextField()  # normalized (tokens.normalize): metadata, then the files' text
    document = TsVectorField(null=True, editable=False)  # PostgreSQL: the indexed tsvector
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"search entry of {self.contract_id}"


class FtsRow(models.Model):
    """A row of the SQLite FTS5 table (created by the migration, never by Django): lets a contract
    queryset join it, filter with ``search_entry__fts__table__match`` and order by its rank."""

    entry = models.OneToOneField(
        SearchEntry,
        on_delete=models.DO_NOTHING,
        primary_key=True,
        db_column="rowid",
        db_constraint=False,
        related_name="fts",
    )
    table = FtsTableColumn(db_column="contracts_search_fts")
    rank = models.FloatField(db_column="rank")  # bm25, more negative is better

    class Meta:
        managed = False
        db_table = "contracts_search_fts"

    def __str__(self) -> str:
        return f"fts row {self.pk}"
