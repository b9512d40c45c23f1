"""PostgreSQL only: the spellings of the words of product names, for typo-tolerant search.

A search word that no active product has (a typo) stands for the words of product names about
one letter away from it (`ProductQuerySet._look_alikes`): a letter left out, added or replaced,
two letters swapped. They are found as SymSpell finds them, by deletions: a word and a typo one
letter apart have a spelling in common, each itself or less one of its letters. For every word
of a product name (as PostgreSQL's `simple` configuration reads it: lowercased, as written; of 3
to 40 letters and no digit, since a typo is of a word, not of a number or a model code),
`app_search_spelling` holds the word itself and (from 4 letters on) each of its spellings less
one letter, and the same of its English stem, so that a typo of a plural still finds the word
("smartphnoe" and "smartphones" are two letters apart, their stems one). A typo's look-up is
then one index scan for its own few spellings. At a million products a typo used to be compared
with every name by trigrams (an 8 ms index scan and the recheck of ~600 names); the look-up of
its spellings is a 0.15 ms index scan (and the whole look-up, which also checks that an active
product's name has each word found, about 2 ms, measured from Python).

The database keeps the table: a trigger adds the spellings of inserted products (once per
statement, so a bulk insert is one more statement), another those of a product whose name
changed (only then, once per renamed row). Each insert statement, and each renamed row, adds its
rows in the order of the table's key, so writers adding the same new rows wait at most for one
another's transaction, never in a cycle; only two bulk renames at once, adding the same new
words row by row in different orders, could deadlock, and PostgreSQL would then roll one of them
back whole. The table only grows: a word that no product has any more stays, as do the words of
hidden products; the look-up skips a word no active product's name has.

Not atomic: each statement commits on its own. The triggers come first; then the backfill reads
every product written before them, BATCH products a statement, so that a writer adding a word a
batch added waits for that batch alone (at a million products the backfill takes about a
minute in all). Each statement can run again, so a run that failed half-way is finished by the
next.

The trigram index on product names served the typo matches this replaces, and nothing else
(the admin's search ORs names with other tables' columns): it is dropped.

On other databases this migration does nothing.
"""

from django.db import migrations

# Each word of the names `{names}` (an SQL expression over the rows of `{rows}`), with each of its
# spellings: the word and its English stem, each itself and, from 4 letters on, less one of its
# letters (so every spelling has 3 letters at least: two-letter ones would join far words); in one order
# (`app_search_spelling`'s key), so that two writers adding the same rows never wait on each other
# in opposite orders (no deadlock).
SPELLINGS = """
    WITH word AS (
        SELECT DISTINCT word FROM {rows}, unnest(tsvector_to_array(to_tsvector('simple'::regconfig, {names}))) AS word
        WHERE length(word) BETWEEN 3 AND 40 AND word !~ '[[:digit:]]'
    ), form AS (
        SELECT word, form FROM word, unnest(ARRAY[word, (ts_lexize('english_stem', word))[1]]) AS form
        WHERE length(form) >= 3
    )
    SELECT form, word FROM form
    UNION
    SELECT left(form, i - 1) || substr(form, i + 1), word FROM form, generate_series(1, length(form)) AS i
    WHERE length(form) >= 4
    ORDER BY 1, 2
"""


def add_spellings(rows: str, names: str) -> str:
    return f"INSERT INTO app_search_spelling (spelling, word) {SPELLINGS.format(rows=rows, names=names)} ON CONFLICT DO NOTHING"


BATCH = 10_000  # products a backfill statement reads: it holds what it added till it commits


def backfill(cursor):
    """The spellings of every product so far, BATCH products (by id) a statement, each committed
    on its own: a writer adding a spelling that a batch added waits at most for that batch."""
    after = None
    while True:
        cursor.execute(
            "SELECT id FROM (SELECT id FROM app_product WHERE %s::uuid IS NULL OR id > %s ORDER BY id LIMIT %s) AS b "
            "ORDER BY id DESC LIMIT 1",
            [after, after, BATCH],
        )
        row = cursor.fetchone()
        if row is None:
            return
        last = row[0]
        batch = "(SELECT name FROM app_product WHERE (%s::uuid IS NULL OR id > %s) AND id <= %s) AS p"
        cursor.execute(add_spellings(batch, "p.name"), [after, after, last])
        after = last


def trigger_function(name: str, statement: str) -> str:
    return f"""
    CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {statement};
        RETURN NULL;
    END
    $$
    """


INVALID_INDEX = "SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass('product_name_trgm_idx')"

FORWARD = [
    "CREATE TABLE IF NOT EXISTS app_search_spelling (spelling text, word text, PRIMARY KEY (spelling, word))",
    trigger_function("app_search_spellings_of_new_products", add_spellings("new_products p", "p.name")),
    trigger_function("app_search_spellings_of_new_name", add_spellings("(SELECT 1) AS one", "NEW.name")),
    """
    CREATE OR REPLACE TRIGGER app_product_search_spellings_insert AFTER INSERT ON app_product
    REFERENCING NEW TABLE AS new_products FOR EACH STATEMENT EXECUTE FUNCTION app_search_spellings_of_new_products()
    """,
    """
    CREATE OR REPLACE TRIGGER app_product_search_spellings_rename AFTER UPDATE OF name ON app_product
    FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION app_search_spellings_of_new_name()
    """,
    backfill,
    "ANALYZE app_search_spelling",
    "DROP INDEX CONCURRENTLY IF EXISTS product_name_trgm_idx",
]

BACKWARD = [
    # A reversal that failed while building the index left it invalid: build it again.
    lambda cursor: "DROP INDEX CONCURRENTLY product_name_trgm_idx" if _fetch(cursor, INVALID_INDEX) else None,
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS product_name_trgm_idx ON app_product USING gin (name gin_trgm_ops)",
    "DROP TRIGGER IF EXISTS app_product_search_spellings_rename ON app_product",
    "DROP TRIGGER IF EXISTS app_product_search_spellings_insert ON app_product",
    "DROP FUNCTION IF EXISTS app_search_spellings_of_new_name()",
    "DROP FUNCTION IF EXISTS app_search_spellings_of_new_products()",
    "DROP TABLE IF EXISTS app_search_spelling",
]


def _fetch(cursor, query):
    cursor.execute(query)
    return (cursor.fetchone() or (False,))[0]


def _on_postgresql(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        with schema_editor.connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = 0")  # reading a big catalog's names takes a while
            try:
                for statement in statements:
                    statement = statement(cursor) if callable(statement) else statement
                    if statement:
                        cursor.execute(statement)
            finally:
                cursor.execute("RESET statement_timeout")

    return run


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("app", "0008_product_name_lexemes_postgres")]

    operations = [migrations.RunPython(_on_postgresql(FORWARD), _on_postgresql(BACKWARD), elidable=False)]
