"""PostgreSQL only: a full-text index on the words of product names alone.

Ranked search reads name matches before description matches (`ProductQuerySet.search`). A
common word is in the descriptions of tens of thousands of products but in the names of a few
hundred; with this index the first pages of such a search find those few hundred without
reading the rest. The expression is `NAME_LEXEMES_SQL` in models.py (the name's words as the
search vector has them, weight A), which must stay the same for the index to serve it.

Built CONCURRENTLY, so product writes go on while a big catalog is indexed (hence not atomic);
a build that failed half-way leaves an invalid index, which the next run drops and builds again.
On other databases this migration does nothing.
"""

from django.db import migrations

INDEX = "product_name_lexemes_idx"


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")  # indexing a big table takes a while
            try:
                for statement in statements(cursor):
                    cursor.execute(statement)
            finally:
                cursor.execute("RESET statement_timeout")

    return run


def forward(cursor):
    cursor.execute("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(%s)", [INDEX])
    if (cursor.fetchone() or (False,))[0]:
        yield f"DROP INDEX CONCURRENTLY {INDEX}"
    yield (
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {INDEX} "
        "ON app_product USING gin (ts_filter(search_vector, '{a}'))"
    )


def backward(cursor):
    yield f"DROP INDEX CONCURRENTLY IF EXISTS {INDEX}"


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("app", "0007_product_covering_indexes_postgres")]

    operations = [migrations.RunPython(_on_postgresql(forward), _on_postgresql(backward), elidable=False)]
