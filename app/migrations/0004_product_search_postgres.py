"""PostgreSQL only: the product search vector and the indexes search uses.

- `search_vector`: a generated (stored) tsvector, name weighted A and description B, so the
  database keeps it current on every insert and update, bulk ones included;
- a GIN index on it for full-text search, and a GIN trigram index on `name` for typo matches.

The column is not a model field (SQLite has no tsvector); `ProductQuerySet.search` reads it.
A later change to `name` or `description` columns must drop and re-create the column.
On other databases this migration does nothing.
"""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    """
    ALTER TABLE app_product ADD COLUMN search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english'::regconfig, coalesce(name, '')), 'A') ||
        setweight(to_tsvector('english'::regconfig, coalesce(description, '')), 'B')
    ) STORED
    """,
    "CREATE INDEX product_search_vector_idx ON app_product USING gin (search_vector)",
    "CREATE INDEX product_name_trgm_idx ON app_product USING gin (name gin_trgm_ops)",
]

BACKWARD = [
    "DROP INDEX IF EXISTS product_name_trgm_idx",
    "DROP INDEX IF EXISTS product_search_vector_idx",
    "ALTER TABLE app_product DROP COLUMN IF EXISTS search_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("SET LOCAL statement_timeout = 0")  # indexing a big table takes a while
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("app", "0003_revoked_access_token")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
