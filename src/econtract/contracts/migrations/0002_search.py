# The archive search (contracts.search): extracted file text, one search entry per contract, and the
# full-text index of each database: an FTS5 table on SQLite, a GIN index on the tsvector on PostgreSQL.

import django.db.models.deletion
from django.db import migrations, models

import econtract.contracts.search_models

SQLITE_CREATE = [
    # Tokens are made in Python (contracts.tokens): FTS5 only splits them at spaces.
    "CREATE VIRTUAL TABLE contracts_search_fts USING fts5(head, body, tokenize = 'unicode61 remove_diacritics 0')",
    # Metadata (head) counts four times the files' text in the ranking.
    "INSERT INTO contracts_search_fts (contracts_search_fts, rank) VALUES ('rank', 'bm25(4.0, 1.0)')",
    # The FTS5 row goes with its entry, also when a contract is deleted or a test flushes the tables.
    "CREATE TRIGGER contracts_searchentry_fts_delete AFTER DELETE ON contracts_searchentry BEGIN "
    "DELETE FROM contracts_search_fts WHERE rowid = old.id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS contracts_searchentry_fts_delete",
    "DROP TABLE IF EXISTS contracts_search_fts",
]
POSTGRESQL_CREATE = [
    "CREATE INDEX contracts_searchentry_document_gin ON contracts_searchentry USING gin (document)",
]
POSTGRESQL_DROP = ["DROP INDEX IF EXISTS contracts_searchentry_document_gin"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):

    dependencies = [
        ("contracts", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="SearchEntry",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("text", models.TextField()),
                ("document", econtract.contracts.search_models.TsVectorField(editable=False, null=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "contract",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="search_entry",
                        to="contracts.contract",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="ExtractedText",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("sha256", models.CharField(max_length=64, unique=True)),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("ok", "extracted"),
                            ("ocr_unavailable", "OCR unavailable"),
                            ("failed", "extraction failed"),
                            ("unsupported", "not extractable"),
                        ],
                        max_length=16,
                    ),
                ),
                ("text", models.TextField(blank=True)),
                ("pages", models.PositiveIntegerField(default=0)),
                ("ocr_pages", models.PositiveIntegerField(default=0)),
                ("detail", models.CharField(blank=True, max_length=300)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
            ],
        ),
        migrations.CreateModel(
            name="FtsRow",
            fields=[
                (
                    "entry",
                    models.OneToOneField(
                        db_column="rowid",
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        primary_key=True,
                        related_name="fts",
                        serialize=False,
                        to="contracts.searchentry",
                    ),
                ),
                ("table", econtract.contracts.search_models.FtsTableColumn(db_column="contracts_search_fts")),
                ("rank", models.FloatField(db_column="rank")),
            ],
            options={
                "db_table": "contracts_search_fts",
                "managed": False,
            },
        ),
        migrations.RunPython(
            _run({"sqlite": SQLITE_CREATE, "postgresql": POSTGRESQL_CREATE}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRESQL_DROP}),
        ),
    ]
