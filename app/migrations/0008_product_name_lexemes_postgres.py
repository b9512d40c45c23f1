"""PostgreSQL only: a full-text index on the words of product names alone.

Ranked search reads name matches before description matches (`ProductQuerySet.search`). A
common word is in the descriptions of tens of thousands of products but in the names of a few
hundred; with this index the first pages of such a search find and rank those few hundred
without reading the rest. The expression is `name_lexemes()` in models.py (the name's words
as the search vector has them, weight A), which must stay the same for the index to serve it.
On other databases this migration does nothing.
"""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS product_name_lexemes_idx ON app_product USING gin (ts_filter(search_vector, '{a}'))",
]

BACKWARD = ["DROP INDEX IF EXISTS product_name_lexemes_idx"]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("SET LOCAL statement_timeout = 0")  # indexing a big table takes a while
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("app", "0007_product_covering_indexes_postgres")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
