"""PostgreSQL only: the catalog's words, for typo-tolerant search.

A search word that no active product has (a typo) stands for the catalog's words most like it
(`ProductQuerySet._similar_words`), found by trigram similarity in `app_search_word`: every word
of product names and descriptions that holds no digit, lowercased and as written
(`to_tsvector('simple', ...)`), not stemmed, since a typo misspells a word, not a stem. At a
million products of the demo data that is some tens of thousands of words to look through, where
a typo used to be matched against a million names.

The database keeps the table: triggers add the words of inserted products (once per statement,
so a bulk insert is one more statement) and of products whose name or description changed. It
only grows: a word that no product has any more stays, and costs a search that picks it a branch
of its query that matches nothing. The words of hidden products are there too; a search that
picks one finds no hidden product by it, as with any other word.

Not atomic: each statement commits on its own, so product writes wait for none of them (the
triggers come first, and the backfill then reads every product written before they did; at a
million products it takes about a minute). Each statement can run again, so a run that failed
half-way is finished by the next.

The trigram index on product names served the typo matches this replaces, and nothing else
(the admin's search ORs names with other tables' columns): it is dropped.

On other databases this migration does nothing.
"""

from django.db import migrations

# The words (no digits: a typo is of a word, not of a number or a model code) of the products in
# `rows`, each once; `{rows}` names a product table as `p`.
WORDS = (
    "SELECT DISTINCT word FROM {rows}, "
    "unnest(tsvector_to_array(to_tsvector('simple'::regconfig, "
    "coalesce(p.name, '') || ' ' || coalesce(p.description, '')))) AS word "
    "WHERE word !~ '[[:digit:]]'"
)

# The words of every product so far, in one pass; run once the triggers catch every later write.
BACKFILL = f"INSERT INTO app_search_word (word) {WORDS.format(rows='app_product p')} ON CONFLICT DO NOTHING"

FORWARD = [
    "CREATE TABLE IF NOT EXISTS app_search_word (word text PRIMARY KEY)",
    # Without fastupdate: a search would read through the index's list of pending entries.
    "CREATE INDEX IF NOT EXISTS app_search_word_trgm_idx ON app_search_word "
    "USING gin (word gin_trgm_ops) WITH (fastupdate = off)",
    f"""
    CREATE OR REPLACE FUNCTION app_search_words_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Each statement adds its new words in one order, so two writers never wait on each other
        -- in opposite orders; a word another writer added meanwhile is skipped.
        IF TG_OP = 'INSERT' THEN
            INSERT INTO app_search_word (word)
            {WORDS.format(rows="new_products p")}
            ORDER BY word ON CONFLICT DO NOTHING;
        ELSE
            INSERT INTO app_search_word (word)
            {WORDS.format(rows="new_products p JOIN old_products o USING (id)")}
            AND (p.name, p.description) IS DISTINCT FROM (o.name, o.description)
            ORDER BY word ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE TRIGGER app_product_search_words_insert AFTER INSERT ON app_product
    REFERENCING NEW TABLE AS new_products FOR EACH STATEMENT EXECUTE FUNCTION app_search_words_add()
    """,
    """
    CREATE OR REPLACE TRIGGER app_product_search_words_update AFTER UPDATE ON app_product
    REFERENCING OLD TABLE AS old_products NEW TABLE AS new_products
    FOR EACH STATEMENT EXECUTE FUNCTION app_search_words_add()
    """,
    BACKFILL,
    "DROP INDEX CONCURRENTLY IF EXISTS product_name_trgm_idx",
]

BACKWARD = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS product_name_trgm_idx ON app_product USING gin (name gin_trgm_ops)",
    "DROP TRIGGER IF EXISTS app_product_search_words_update ON app_product",
    "DROP TRIGGER IF EXISTS app_product_search_words_insert ON app_product",
    "DROP FUNCTION IF EXISTS app_search_words_add()",
    "DROP TABLE IF EXISTS app_search_word",
]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")  # reading a big catalog's words takes a while
            try:
                for statement in statements:
                    cursor.execute(statement)
            finally:
                cursor.execute("RESET statement_timeout")

    return run


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("app", "0008_product_name_lexemes_postgres")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD), elidable=False)]
