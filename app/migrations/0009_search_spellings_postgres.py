"""PostgreSQL only: the spellings of the words of product names, for typo-tolerant search.

A search word that no active product has (a typo) stands for the words of product names one
letter away from it (`ProductQuerySet._look_alikes`): a letter left out, added, replaced, or two
swapped. They are found as SymSpell finds them, by deletions: a word and a typo one letter apart
have a spelling in common, each itself or less one of its letters. `app_search_spelling` holds,
for every word of a product name (lowercased, as written, not stemmed, since a typo misspells a
word, not a stem; of 3 to 40 letters and no digit: a typo is of a word, not of a number or a
model code), itself and each of its spellings less one letter; a typo's look-up is one index
scan for its own few spellings. At a million products the typo used to be compared with every
name by trigrams (an 8 ms index scan and the recheck of ~600 names); this is some 0.2 ms.

The database keeps the table: triggers add the spellings of inserted products (once per
statement, so a bulk insert is one more statement) and of products whose name changed. It only
grows: a word that no product has any more stays, and costs a search that picks it a branch of
its query that matches nothing. The words of hidden products are there too; a search that picks
one finds no hidden product by it, as with any other word.

Not atomic: each statement commits on its own, so product writes wait for none of them (the
triggers come first, and the backfill then reads every product written before they did; at a
million products it takes about half a minute). Each statement can run again, so a run that
failed half-way is finished by the next.

The trigram index on product names served the typo matches this replaces, and nothing else
(the admin's search ORs names with other tables' columns): it is dropped.

On other databases this migration does nothing.
"""

from django.db import migrations

# Each word of the names of `{rows}` (a product table named `p`) with each of its spellings: the
# word itself, and the word less one of its letters.
SPELLINGS = """
    WITH word AS (
        SELECT DISTINCT word FROM {rows}, unnest(tsvector_to_array(to_tsvector('simple'::regconfig, p.name))) AS word
        WHERE length(word) BETWEEN 3 AND 40 AND word !~ '[[:digit:]]'
    )
    SELECT word, word FROM word
    UNION
    SELECT left(word, i - 1) || substr(word, i + 1), word FROM word, generate_series(1, length(word)) AS i
"""

# The spellings of every product so far, in one pass; run once the triggers catch every later write.
BACKFILL = (
    f"INSERT INTO app_search_spelling (spelling, word) {SPELLINGS.format(rows='app_product p')} ON CONFLICT DO NOTHING"
)

FORWARD = [
    "CREATE TABLE IF NOT EXISTS app_search_spelling (spelling text, word text, PRIMARY KEY (spelling, word))",
    f"""
    CREATE OR REPLACE FUNCTION app_search_spellings_add() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        -- Each statement adds its new rows in one order, so two writers never wait on each other
        -- in opposite orders; a row another writer added meanwhile is skipped.
        IF TG_OP = 'INSERT' THEN
            INSERT INTO app_search_spelling (spelling, word)
            SELECT * FROM ({SPELLINGS.format(rows="new_products p")}) AS new ORDER BY 1, 2
            ON CONFLICT DO NOTHING;
        ELSE
            INSERT INTO app_search_spelling (spelling, word)
            SELECT * FROM ({SPELLINGS.format(
                rows="new_products p JOIN old_products o ON o.id = p.id AND o.name IS DISTINCT FROM p.name"
            )}) AS new ORDER BY 1, 2
            ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE TRIGGER app_product_search_spellings_insert AFTER INSERT ON app_product
    REFERENCING NEW TABLE AS new_products FOR EACH STATEMENT EXECUTE FUNCTION app_search_spellings_add()
    """,
    """
    CREATE OR REPLACE TRIGGER app_product_search_spellings_update AFTER UPDATE ON app_product
    REFERENCING OLD TABLE AS old_products NEW TABLE AS new_products
    FOR EACH STATEMENT EXECUTE FUNCTION app_search_spellings_add()
    """,
    BACKFILL,
    "DROP INDEX CONCURRENTLY IF EXISTS product_name_trgm_idx",
]

BACKWARD = [
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS product_name_trgm_idx ON app_product USING gin (name gin_trgm_ops)",
    "DROP TRIGGER IF EXISTS app_product_search_spellings_update ON app_product",
    "DROP TRIGGER IF EXISTS app_product_search_spellings_insert ON app_product",
    "DROP FUNCTION IF EXISTS app_search_spellings_add()",
    "DROP TABLE IF EXISTS app_search_spelling",
]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")  # reading a big catalog's names takes a while
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
