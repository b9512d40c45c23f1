"""PostgreSQL only: covering versions of the public list indexes.

The public lists filter on the seller being active, so a page needs each product's seller_id.
With seller_id (and category_id) INCLUDEd, a deep page (`?page=2500`) and an uncached COUNT are
index-only scans instead of tens of thousands of random heap reads. They sit beside the plain
indexes of 0001 (which Django's migration state owns, and which serve SQLite, that has no INCLUDE). On other databases this migration does nothing.
"""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS product_active_newest_cover_idx ON app_product (created_at DESC, id DESC) "
    "INCLUDE (seller_id, category_id) WHERE is_active",
    "CREATE INDEX IF NOT EXISTS product_active_price_cover_idx ON app_product (price, id) "
    "INCLUDE (seller_id, category_id) WHERE is_active",
]

BACKWARD = [
    "DROP INDEX IF EXISTS product_active_newest_cover_idx",
    "DROP INDEX IF EXISTS product_active_price_cover_idx",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute("SET LOCAL statement_timeout = 0")  # indexing a big table takes a while
            for statement in statements:
                schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("app", "0006_image_renditions")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False)]
