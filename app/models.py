"""
The catalog's data: users with roles, a category tree, products and their images.

Rules the data must always obey are database constraints, so no code path (serializer, admin,
shell, bulk insert) can break them. Read queries live in named QuerySet methods below.
"""

import threading
import uuid
import weakref
from pathlib import Path
from time import monotonic
from typing import NamedTuple

from django.contrib.auth.models import AbstractUser, UserManager as DjangoUserManager
from django.core.exceptions import ValidationError
from django.db import connections, models
from django.db.models import Case, Count, Q, Value, When, Window
from django.db.models.expressions import RawSQL
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.db.models.query import ValuesIterable
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import slugify
from Stemmer import Stemmer

from ecommerce_backend.postgresql.plans import plan_kept


def equal_ignoring_case(field: str, value: str) -> Exact:
    """A filter: `field` equals `value`, case aside, compared as the case-insensitive unique
    constraints compare (LOWER on both sides), so the database finds the value in that
    constraint's index. (`__iexact` compares UPPERs, which no index has: it reads every row.)"""
    return Exact(Lower(field), Lower(Value(value)))


def unique_slug(model, text: str, *, exclude_pk=None, max_length: int = 100) -> str:
    """A slug of `text` not yet used by `model`, with `-2`, `-3`... appended when needed."""
    base = slugify(text)[:max_length].strip("-") or "item"
    taken = model._default_manager.filter(slug__startswith=base)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    taken = set(taken.values_list("slug", flat=True))
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


# ---------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------


class UserManager(DjangoUserManager):
    """Email is the login name; it is stored lower-case so uniqueness is case-insensitive."""

    @classmethod
    def normalize_email(cls, email):
        return (email or "").strip().lower()

    def by_ref(self, ref):
        """Users whose UUID or username (any case) is `ref`."""
        try:
            return self.filter(pk=uuid.UUID(str(ref)))
        except ValueError:
            return self.filter(equal_ignoring_case("username", str(ref)))

    def get_by_natural_key(self, username):
        return self.get(email=self.normalize_email(username))

    def create_user(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("username", self.normalize_email(email).split("@")[0])
        username = extra_fields.pop("username")
        return self._create_user(username, self.normalize_email(email), password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        extra_fields["role"] = User.Role.ADMIN
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A shop user. `role` decides what the API lets them do; `is_staff` opens Django admin."""

    class Role(models.TextChoices):
        CUSTOMER = "customer", "Customer"
        SELLER = "seller", "Seller"
        ADMIN = "admin", "Admin"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField("email address", unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.CUSTOMER)
    is_premium = models.BooleanField(default=False)

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["username"]

    objects = UserManager()

    class Meta:
        ordering = ["-date_joined"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="user_email_ci_unique"),
            models.UniqueConstraint(Lower("username"), name="user_username_ci_unique"),
            models.CheckConstraint(condition=Q(role__in=["customer", "seller", "admin"]), name="user_role_valid"),
        ]
        indexes = [models.Index(fields=["role"], name="user_role_idx")]

    def __str__(self):
        return self.email

    def save(self, *args, **kwargs):
        self.email = User.objects.normalize_email(self.email)
        if self.is_superuser:
            self.role = self.Role.ADMIN
        super().save(*args, **kwargs)

    @property
    def is_admin(self) -> bool:
        return self.is_active and self.role == self.Role.ADMIN

    @property
    def is_seller(self) -> bool:
        return self.is_active and self.role == self.Role.SELLER


# ---------------------------------------------------------------------------
# Categories
# ---------------------------------------------------------------------------


class CategoryTree:
    """The whole category tree as `parent -> children` ids and `slug -> id`, from one query
    (categories are few). Plain data: it can be cached."""

    def __init__(self, rows):
        self.children: dict = {}
        self.by_slug: dict = {}
        for category_id, parent_id, slug in rows:
            self.children.setdefault(parent_id, []).append(category_id)
            self.by_slug[slug] = category_id

    def resolve(self, ref):
        """The id of the category whose UUID or slug is `ref`, or None."""
        try:
            category_id = uuid.UUID(str(ref))
        except ValueError:
            return self.by_slug.get(str(ref))
        return category_id if category_id in self.by_slug.values() else None

    def subtree(self, root_id) -> set:
        """`root_id` and every category below it."""
        found, stack = set(), [root_id]
        while stack:
            node = stack.pop()
            if node not in found:
                found.add(node)
                stack.extend(self.children.get(node, ()))
        return found

    def subtree_totals(self, own: dict) -> dict:
        """Per category, the sum of `own` over its subtree (each category counted once)."""
        totals: dict = {}

        def total(node):
            if node not in totals:
                totals[node] = own.get(node, 0) + sum(total(child) for child in self.children.get(node, ()))
            return totals[node]

        for node in [c for kids in self.children.values() for c in kids]:
            total(node)
        return totals


class CategoryQuerySet(models.QuerySet):
    def by_ref(self, ref):
        """Categories whose UUID or slug is `ref` (empty when none)."""
        if "\x00" in str(ref):  # no slug has one, and PostgreSQL refuses it in a query
            return self.none()
        try:
            return self.filter(pk=uuid.UUID(str(ref)))
        except ValueError:
            return self.filter(slug=str(ref))

    def tree(self) -> CategoryTree:
        return CategoryTree(Category.objects.values_list("id", "parent_id", "slug"))

    def product_counts(self) -> dict:
        """Active products per category, descendants included: two queries for the whole tree."""
        own = dict(
            Product.objects.active()
            .order_by()
            .values_list("category_id")
            .annotate(n=Count("id"))
            .values_list("category_id", "n")
        )
        return self.tree().subtree_totals(own)


class Category(models.Model):
    """A node of the category tree. Deleting one that has products or children is refused."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=120, unique=True, blank=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CategoryQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "categories"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="category_name_ci_unique"),
            models.CheckConstraint(condition=~Q(parent=models.F("id")), name="category_not_own_parent"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(Category, self.name, exclude_pk=self.pk)
        super().save(*args, **kwargs)


# ---------------------------------------------------------------------------
# Products
# ---------------------------------------------------------------------------


# What an image's representation shows.
IMAGE_ROW = ("id", "image", "thumbnail", "medium", "alt_text", "position")
# What a product's representation shows, as `ProductQuerySet.for_listing` reads it.
PRODUCT_ROW = (
    "id", "name", "slug", "sku", "description", "price", "stock", "is_featured", "is_active",
    "created_at", "updated_at", "category_id", "category__name", "category__slug", "seller_id", "seller__username",
)  # fmt: skip


TYPO_TOLERANT_WORDS = 10
# A typo stands for at most this many words of product names, the likest first (`_look_alikes`).
LOOK_ALIKES = 5


def product_images_json() -> RawSQL:
    """PostgreSQL: a product row's images as one JSON list, in their order (NULL when it has none).

    Written as SQL because it is compiled on every product read, where Django's Subquery over
    JSONBAgg(JSONObject(...)) took a fifth of a detail's time to compile; the names are this
    module's constants, never input."""
    pairs = ", ".join(f"'{name}', i.\"{name}\"" for name in IMAGE_ROW)
    return RawSQL(
        f'SELECT JSONB_AGG(JSONB_BUILD_OBJECT({pairs}) ORDER BY i."position", i."created_at") '
        f'FROM "{ProductImage._meta.db_table}" i WHERE i."product_id" = "{Product._meta.db_table}"."id"',
        (),
        output_field=models.JSONField(),
    )


SEARCH_VECTOR_SQL = '"app_product"."search_vector"'
# The words of a product's name, as its search vector has them (weight A): the index of 0008.
NAME_LEXEMES_SQL = f"ts_filter({SEARCH_VECTOR_SQL}, '{{a}}')"
# `terms` (the one parameter) as a web-search query, as SearchQuery(terms, config="english",
# search_type="websearch") writes it.
WEB_SEARCH_SQL = "websearch_to_tsquery('english'::regconfig, %s)"


def category_in(category_ids) -> RawSQL:
    """PostgreSQL: `category_id IN (...)`, the ids written into the SQL as literals.

    A list's statement with parameters is planned again at every run (its best plan depends on
    them: ecommerce_backend/postgresql/plans.py), a fifth of a category list's time. With
    literals, a category's list is one statement text per category and query shape: the
    connection prepares it, and PostgreSQL plans it once, for that category's own size. There
    are as many such texts as categories, not as values a client can send. The ids come from
    the category tree, and `uuid.UUID` admits nothing but a UUID."""
    literals = ", ".join(f"'{uuid.UUID(str(pk))}'::uuid" for pk in sorted(map(str, category_ids)))
    return RawSQL(f'"{Product._meta.db_table}"."category_id" IN ({literals})', [], output_field=models.BooleanField())


class TsQuery(NamedTuple):
    """A full-text query (PostgreSQL): SQL of a tsquery, and its parameters."""

    sql: str
    params: tuple

    @classmethod
    def web_search(cls, terms: str) -> "TsQuery":
        """`terms` as a web-search query (operators honoured: `or`, `-word`, "a phrase")."""
        return cls(WEB_SEARCH_SQL, (terms,))

    @classmethod
    def any_of_each(cls, groups) -> "TsQuery":
        """Any word of each group (lists of words, each word by its stems): the groups AND-ed,
        the words of a group OR-ed."""
        word = "plainto_tsquery('english'::regconfig, %s)"
        return cls(
            " && ".join("(" + " || ".join([word] * len(group)) + ")" for group in groups),
            tuple(word for group in groups for word in group),
        )

    def matched_by(self, vector_sql: str) -> RawSQL:
        """`vector_sql @@ this query`, as a condition."""
        return RawSQL(f"{vector_sql} @@ ({self.sql})", self.params, output_field=models.BooleanField())


def _by_relevance(matches, query: TsQuery):
    """Ranked search matches (PostgreSQL) of `query`: the products whose name has every word
    first, newest first; then the rest by weighted rank (a word in the name counts for more than
    one in the description), then newest first.

    Written as SQL: made of Django's expressions (Case, SearchRank, SearchQuery), the ranking
    took a tenth of a rare-word search's time to build and compile."""
    in_name = query.matched_by(NAME_LEXEMES_SQL)
    rank = f"CASE WHEN {in_name.sql} THEN CAST(0 AS real) ELSE ts_rank({SEARCH_VECTOR_SQL}, ({query.sql})) END"
    return matches.annotate(
        in_name=in_name,
        rank=RawSQL(rank, (*query.params, *query.params), output_field=models.FloatField()),
    ).order_by("-in_name", "-rank", "-created_at", "-id")


# How a query is searched, by its words' kinds (`search_reading`).
AS_WRITTEN, COMMON_WORDS, TYPOS = "as written", "common words", "typos"


def search_reading(kinds: dict) -> str:
    """How a query whose words have these kinds (`ProductQuerySet._word_kinds`) is searched:
    TYPOS when a word is unknown (each unknown word matched by its look-alikes, each known one by its
    stem); else as written, operators honoured, and ranked by `_by_relevance`, in tiers
    (`_name_matches_first`) when every word that counts is common (COMMON_WORDS), else in one
    query (AS_WRITTEN). A query with operators has no kinds: AS_WRITTEN."""
    if "unknown" in kinds.values():
        return TYPOS
    counted = [kind for kind in kinds.values() if kind != "stop"]
    return COMMON_WORDS if counted and all(kind == "common" for kind in counted) else AS_WRITTEN


# Each word's lexemes (its stems under PostgreSQL's English configuration, which do not change),
# as far as this process has seen them.
_lexemes: dict[str, tuple[str, ...]] = {}
LEXEMES_MEMO_SIZE = 10_000


def _kind_by_lexemes(lexemes, common) -> str | None:
    """A word's kind where its lexemes decide it: "stop" (none), "common" (all common); else None."""
    if lexemes is None:
        return None
    if not lexemes:
        return "stop"
    return "common" if common.issuperset(lexemes) else None


# Snowball's English stemmer, one per thread (a PyStemmer stemmer is not thread-safe).
_stemmers = threading.local()


def _english_stem(word: str) -> str:
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer("english")
    return stemmer.stemWord(word)


# The most common words of the catalog by PostgreSQL's statistics, per database: (until, lexemes).
_common_lexemes: dict[str, tuple[float, frozenset]] = {}
COMMON_LEXEMES_TTL = 600


def common_lexemes(using: str) -> frozenset:
    """The lexemes ANALYZE found most often in product search vectors (`most_common_elems`: with
    the default statistics target, the 1,000 most frequent), read at most once every
    COMMON_LEXEMES_TTL seconds by each process. They choose how a search is read, and spare a
    word already found the query that tells it from a typo; they never decide what a search
    finds, except for a word still common among inactive products that no active product has
    any more: until ANALYZE drops it, a process that found it before searches it as written."""
    until, lexemes = _common_lexemes.get(using, (0.0, frozenset()))
    if monotonic() < until:
        return lexemes
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT most_common_elems::text::text[] FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'app_product' AND attname = 'search_vector'"
        )
        row = cursor.fetchone()
    lexemes = frozenset(row[0] if row and row[0] else ())
    _common_lexemes[using] = (monotonic() + COMMON_LEXEMES_TTL, lexemes)
    return lexemes


class TieredMatches:
    """Search matches in consecutive tiers (querysets, each in its own order), sliced like one
    list, as a paginator does (`[start:stop]`): a slice reads the tier it falls in, and the next
    one only when it runs past the end of it. `count()` counts every match, in one query."""

    def __init__(self, matches, tiers):
        self.matches = matches  # every match, in no order
        self.tiers = tiers

    def count(self) -> int:
        return self.matches.count()

    def __getitem__(self, index: slice) -> list:
        start, stop = index.start or 0, index.stop
        rows = []
        for tier in self.tiers:
            found = list(tier[start:stop])
            rows += found
            if len(found) == stop - start or tier is self.tiers[-1]:
                break
            size = start + len(found) if found else tier.count()  # this tier ended before `stop`
            start, stop = max(0, start - size), stop - size
        return rows


def _may_be_common(words, common) -> bool:
    """Whether a word of `words` may be common (its lexemes all in `common`), told without a query:
    by the lexemes this process found for it, else, for a plain ASCII word, by its stem under
    Snowball's English stemmer, the one PostgreSQL's English configuration uses (PyStemmer). Any
    other word may be. The stemmers' versions differ on a few words (52 of 106,290 words tried:
    "organization" is "organ" to PostgreSQL 15): such a word, if common, is ranked in full."""
    for word in words:
        lexemes = _lexemes.get(word)
        if lexemes is None:
            if not (word.isascii() and word.isalpha()):
                return True
            lexemes = (_english_stem(word.lower()),)
        if _kind_by_lexemes(lexemes, common) == "common":
            return True
    return False


def typo_tolerant_words(terms: str) -> list[str]:
    """The words of a plain query (at most TYPO_TOLERANT_WORDS words, no web-search operators:
    `or`, `-word`, a "quoted phrase"), in which a typo may be matched by its look-alikes. A query
    with operators is searched as written, operators honoured, without typo tolerance."""
    words = terms.split()
    # PostgreSQL's web-search parser skips these before a word, so "(-shade" and "!-shade" negate too.
    plain = all(
        word.lower() != "or" and not word.lstrip("!&|()<").startswith("-") and '"' not in word for word in words
    )
    return words if plain and len(words) <= TYPO_TOLERANT_WORDS else []


class CompiledRows:
    """A values() queryset's SQL, compiled once, to be run again and again: `run()` gives the
    rows as iterating the queryset would (dicts, values converted by the same converters), with
    the same parameters or others put in their places.

    Building and compiling a product page's query (sixteen columns, two joins, the images, the
    ordering) costs Python at every request, more than sending it and reading its rows: a sixth
    of a default list's instructions, measured with callgrind. Django keeps no compiled SQL, so
    the hot paths that run the same query shape again keep it here."""

    def __init__(self, rows):
        """Compiles `rows` (a values() queryset) for its database. Raises EmptyResultSet when the
        database need not be asked (a filter no row can match)."""
        if not issubclass(rows._iterable_class, ValuesIterable):
            raise TypeError("CompiledRows reads values() rows")
        self.query, self.alias = rows.query, rows.db
        compiler = self.query.get_compiler(self.alias)
        sql, params = compiler.as_sql()
        self.sql, self.params = sql, tuple(params)
        self.names = list(
            self.query.selected or [*self.query.extra_select, *self.query.values_select, *self.query.annotation_select]
        )
        self.columns = [column for column, _, _ in compiler.select[: compiler.col_count]]
        # Columns selected only to order by them (a distinct() query's), which values() drops.
        self.width = compiler.col_count if compiler.has_extra_select else None
        # Per connection object (one per thread and alias): the columns' converters. A backend's
        # converters are bound to the connection they were made for (SQLite's read its timezone).
        self._converters = weakref.WeakKeyDictionary()

    def run(self, params=None) -> list[dict]:
        connection = connections[self.alias]
        with connection.cursor() as cursor:
            cursor.execute(self.sql, self.params if params is None else params)
            rows = cursor.fetchall()
        if self.width is not None:
            rows = [row[: self.width] for row in rows]
        converters = self._converters.get(connection)
        if converters is None:
            converters = self.query.get_compiler(connection=connection).get_converters(self.columns)
            self._converters[connection] = converters
        names = self.names
        if not converters:
            return [dict(zip(names, row, strict=True)) for row in rows]
        found = []
        for row in rows:
            row = list(row)
            for position, (functions, expression) in converters.items():
                for convert in functions:
                    row[position] = convert(row[position], expression, connection)
            found.append(dict(zip(names, row, strict=True)))
        return found


class RowByPk:
    """`rows.get(pk=key)` for a values() queryset `rows`, its SQL compiled once per database.

    Between two detail reads only the key changes, yet building and compiling a product row's
    query (sixteen columns, the images) costs more Python than sending it and reading its row
    (0.4 ms against 0.25 ms, measured). So the query is compiled once, with a stand-in key, and
    each read puts its key where the stand-in was. `rows` must not change afterwards
    (module-level querysets are built once)."""

    _STAND_IN = uuid.UUID(int=0)

    def __init__(self, rows):
        if not issubclass(rows._iterable_class, ValuesIterable):
            raise TypeError("RowByPk reads values() rows")
        self.rows = rows
        self._compiled = {}  # alias → (CompiledRows, where the key goes)

    def get(self, key, using: str | None = None) -> dict | None:
        """The row with primary key `key` (as a URL has it), or None: none, or not a valid key."""
        using = using or self.rows.db
        pk = self.rows.model._meta.pk
        try:
            key = pk.to_python(key)
        except ValidationError:
            return None
        compiled, at = self._compiled.get(using) or self._compile(using)
        params = compiled.params
        found = compiled.run([*params[:at], pk.get_db_prep_value(key, connections[using]), *params[at + 1 :]])
        return found[0] if found else None

    def _compile(self, using: str):
        compiled = CompiledRows(self.rows.using(using).filter(pk=self._STAND_IN).order_by())
        stand_in = self.rows.model._meta.pk.get_db_prep_value(self._STAND_IN, connections[using])
        if compiled.params.count(stand_in) != 1:  # the key must be the query's only such parameter
            raise ValueError("RowByPk: the stand-in key is not one parameter of the query")
        self._compiled[using] = entry = (compiled, compiled.params.index(stand_in))
        return entry


def with_match_count(rows):
    """`rows`, each with the count of all of them (`matches`: COUNT(*) OVER ()), so that a page
    brings the count with it."""
    return rows.annotate(matches=Window(Count("pk")))


class CompiledSearch:
    """`rows.search(terms, ranked=True)` for a values() queryset `rows` (fixed once, module-level),
    with each page's SQL compiled once per database on PostgreSQL.

    Most searches of known words are read as written (AS_WRITTEN, `_by_relevance`), and that is
    one statement whatever the words: they are one parameter, in four places. Yet building and
    compiling it took more Python than the database spends on a rare word's page (1.2 ms against
    about 1 ms, measured). So each page (its bounds) is compiled once, with stand-in words, and a
    search puts its words where they stood, as RowByPk does with a key. The other readings (a
    typo, common words) and other databases build their query as `search()` does."""

    _STAND_IN = "stand-in words"
    PAGES = 1_000  # pages kept per process (a page is about 7 KB of SQL and converters)

    def __init__(self, rows):
        if not issubclass(rows._iterable_class, ValuesIterable):
            raise TypeError("CompiledSearch reads values() rows")
        self.rows = rows
        self._pages = {}  # (alias, bottom, top) → (CompiledRows, where the words go)

    def search(self, terms: str):
        """What `rows.search(terms, ranked=True)` finds: a `RankedMatches` when the query is read
        as written on PostgreSQL, else that queryset (or `TieredMatches`).

        Whether a query is read as written depends on its words' kinds, which take a query to
        learn (`_word_kinds`). When none of its words may be common (`_may_be_common`), it is read
        as written first, and asked only when nothing matches (a typo?): see RankedMatches."""
        rows = self.rows.all()
        if connections[rows.db].vendor != "postgresql":
            return rows.search(terms, ranked=True)
        words = typo_tolerant_words(terms)
        if not _may_be_common(words, common_lexemes(rows.db)):
            return RankedMatches(self, terms)
        kinds = rows._word_kinds(words)
        if search_reading(kinds) != AS_WRITTEN:
            return rows._search_postgres(terms, True, kinds)
        return RankedMatches(self, terms, kinds)

    def page(self, terms: str, bottom: int, top: int) -> list[dict]:
        """Rows [bottom:top] of the ranked matches of `terms` (read as written), each with the
        count of every match (`matches`).

        The statement is prepared (`plan_kept`), so PostgreSQL parses it once per connection:
        0.1 ms less per search (measured). It is still planned for its words every time: a plan
        for no words in particular looks dearer to PostgreSQL than any rare word's (4,800 custom
        plans of 4,800 runs, measured), and it would be the same GIN index scan anyway."""
        key = (self.rows.db, bottom, top)
        compiled, places = self._pages.get(key) or self._compile(key)
        params = list(compiled.params)
        for place in places:
            params[place] = terms
        with plan_kept():
            return compiled.run(params)

    def matches(self, terms: str):
        """The ranked matches of `terms` read as written, as a queryset."""
        return _by_relevance(self.rows.all()._as_written(terms), TsQuery.web_search(terms))

    def _compile(self, key):
        using, bottom, top = key
        compiled = CompiledRows(with_match_count(self.matches(self._STAND_IN).using(using))[bottom:top])
        places = [place for place, value in enumerate(compiled.params) if value == self._STAND_IN]
        if not places:
            raise ValueError("CompiledSearch: the stand-in words are not a parameter of the query")
        if len(self._pages) >= self.PAGES:
            self._pages.clear()
        self._pages[key] = entry = (compiled, places)
        return entry


class RankedMatches:
    """The matches of one ranked search read as written (`CompiledSearch.search`), as the paginator
    reads them: `counted(bottom, top)` is a page from SQL compiled once, each row with the count of
    every match. The paginator reads a deep page from `queryset`, the search as built (it finds
    the page's ids first), and so do `count()` and slices (the last page, a page past the end).

    Read as written before its words' kinds are known (`kinds` None), a query that matches nothing
    may hold a typo, which only its look-alikes find: then the kinds are asked, and a query with
    an unknown word is read as `search()` reads it; when that is in tiers (`TieredMatches`),
    `counted` gives None, and the paginator reads `queryset` instead. So a search finds what
    `search()` finds either way. A query matching more than MANY_MATCHES products has its kinds
    asked too, once per process: a common word the stemmer mistook for rare (`_may_be_common`) is
    then known by its lexemes, and read in tiers from the next search on."""

    MANY_MATCHES = 1_000

    def __init__(self, compiled: CompiledSearch, terms: str, kinds: dict | None = None):
        self.compiled, self.terms, self.kinds = compiled, terms, kinds

    def counted(self, bottom: int, top: int) -> list[dict] | None:
        rows = self.compiled.page(self.terms, bottom, top)
        if self.kinds is not None:
            return rows
        if rows:
            many = rows[0]["matches"] > self.MANY_MATCHES
            if many and not all(word in _lexemes for word in typo_tolerant_words(self.terms)):
                self._kinds()  # learns the words' lexemes (`_lexemes`)
            return rows
        if search_reading(self._kinds()) != TYPOS:
            return rows
        if not isinstance(self.queryset, models.QuerySet):
            return None  # its typos stand for common words: read in tiers, as the paginator reads them
        return list(with_match_count(self.queryset)[bottom:top])

    @cached_property
    def queryset(self):
        """The search as `search()` builds it: read as written, or with its typos."""
        return self.compiled.rows.all()._search_postgres(self.terms, True, self._kinds())

    def count(self) -> int:
        return self.queryset.count()

    def __getitem__(self, index: slice) -> list:
        return list(self.queryset[index])

    def _kinds(self) -> dict:
        if self.kinds is None:
            self.kinds = self.compiled.rows.all()._word_kinds(typo_tolerant_words(self.terms))
        return self.kinds


class ProductQuerySet(models.QuerySet):
    def active(self):
        """Products anyone may see: active, and sold by an active seller."""
        return self.filter(is_active=True, seller__is_active=True)

    def visible_to(self, user):
        """What `user` may read: public products, plus their own; admins see everything."""
        if user is not None and user.is_authenticated:
            if user.is_admin:
                return self.all()
            return self.filter(Q(is_active=True, seller__is_active=True) | Q(seller=user))
        return self.active()

    def for_listing(self):
        """Products as rows (dicts) of exactly what their representation shows, category and
        seller joined in, no model instances to build: the hot path of every product read.

        On PostgreSQL each row also carries its images (`images`, a JSON list made by a
        subquery), so a page is one query; elsewhere the serializer adds the images of a whole
        page with one more (`ProductImage.objects.of_products`)."""
        rows = self.values(*PRODUCT_ROW)
        if connections[self.db].vendor != "postgresql":
            return rows
        return rows.annotate(images=product_images_json())

    def featured(self):
        return self.filter(is_featured=True)

    def in_categories(self, category_ids):
        """Products of any of these categories (a subtree, as `CategoryTree.subtree` gives it)."""
        if not category_ids:
            return self.none()
        if connections[self.db].vendor != "postgresql":
            return self.filter(category_id__in=category_ids)
        return self.filter(category_in(category_ids))

    def search(self, terms: str, *, ranked: bool = False):
        """Products matching `terms`; with `ranked`, best first (a name match before a description match).

        PostgreSQL: full-text search on a stored, weighted search vector (name A, description B,
        GIN-indexed, kept current by the database as a generated column), web-search syntax
        (`or`, `-word`, "a phrase"); every word must match. In a plain query (no operators), a word
        the catalog does not have at all (a typo) stands for the words of product names one letter
        away from it (`_with_look_alikes`), so "smartphnoe" still finds the smartphones, while a
        word it does have never drags in look-alikes (ranking those is the costly part of a
        search). Ranked: see `_by_relevance`; a plain query of common words (or of typos standing
        for common words) comes as `TieredMatches`, not a queryset.
        Elsewhere (SQLite): every word must appear in the name or the description, products with
        more words in the name first.
        """
        if connections[self.db].vendor == "postgresql":
            return self._search_postgres(terms, ranked)
        return self._search_portable(terms, ranked)

    def _search_postgres(self, terms, ranked, kinds=None):
        """`search()` on PostgreSQL; `kinds`: the words' kinds when the caller has them already."""
        if kinds is None:
            kinds = self._word_kinds(typo_tolerant_words(terms))
        reading = search_reading(kinds)
        if reading == TYPOS:
            query, in_names, reading = self._with_look_alikes(kinds)
            if query is None:  # a typo that is like no word of the catalog's names
                return self.none()
            matches = self.filter(query.matched_by(SEARCH_VECTOR_SQL), in_names.matched_by(NAME_LEXEMES_SQL))
        else:  # the whole query, with its operators ("or", "-word", "quoted phrase")
            query = TsQuery.web_search(terms)
            matches = self.filter(query.matched_by(SEARCH_VECTOR_SQL))
        if not ranked:
            return matches
        if reading == COMMON_WORDS:
            return self._name_matches_first(matches, query)
        return _by_relevance(matches, query)

    def _as_written(self, terms):
        """The products matching the web-search query `terms`, operators honoured."""
        return self.filter(TsQuery.web_search(terms).matched_by(SEARCH_VECTOR_SQL))

    def _with_look_alikes(self, kinds) -> tuple[TsQuery | None, TsQuery | None, str]:
        """A plain query with typos, and how it is read (`search_reading`): each known word by its
        stems, each unknown word by any of its look-alikes (`_look_alikes`), which a product's
        name must have; stop words ignored. Returns the query of every word, the query of the
        look-alikes (for the names), and the reading: in tiers (COMMON_WORDS) when each word is
        common or stands for a common word. (None, None, AS_WRITTEN): an unknown word has no
        look-alike, and nothing matches.

        Names only: a typo of a word that is common in descriptions would otherwise match, and
        make every such search count, tens of thousands of products."""
        common = common_lexemes(self.db)
        look_alikes = self._look_alikes([word for word, kind in kinds.items() if kind == "unknown"])
        groups, alike_groups, all_common = [], [], True
        for word, kind in kinds.items():
            if kind == "unknown":
                alikes = look_alikes.get(word)
                if not alikes:
                    return None, None, AS_WRITTEN
                alike_groups.append([alike for alike, _ in alikes])
                groups.append(alike_groups[-1])
                all_common &= any(_kind_by_lexemes(lexemes, common) == "common" for _, lexemes in alikes)
            elif kind != "stop":
                groups.append([word])
                all_common &= kind == "common"
        reading = COMMON_WORDS if all_common else AS_WRITTEN
        return TsQuery.any_of_each(groups), TsQuery.any_of_each(alike_groups), reading

    def _look_alikes(self, words) -> dict[str, list[tuple[str, list[str]]]]:
        """For each of `words`, the words of active products' names about one letter away from it
        (a letter left out, added or replaced, two letters swapped; or so from its English stem,
        so that a typo of a plural finds the word), at most LOOK_ALIKES of them, one per stem,
        likest first (trigram similarity, then alphabetical), each with its lexemes; no stop
        word. Found as SymSpell finds them: the spellings of the word (read as migration 0009
        reads names: itself and its stem, each as is and less one of its letters) in the table
        of the names' spellings (`app_search_spelling`), one index scan. Only a word that
        PostgreSQL reads as one token of 4 to 40 letters, no digit, has look-alikes: fewer letters
        are one letter from too many words, and the look-alikes of each part of "smartphnoe-case"
        would stand for either part."""
        if not words:
            return {}
        # The same plan serves every word (index scans): prepared, it is planned once (1 ms less).
        with connections[self.db].cursor() as cursor, plan_kept():
            cursor.execute(
                """
                WITH token AS (
                    SELECT typo, token
                    FROM unnest(%s::text[]) AS typo,
                        unnest(tsvector_to_array(to_tsvector('simple'::regconfig, typo))) AS token
                    WHERE length(token) >= 4
                ), form AS (
                    SELECT typo, form FROM token, unnest(ARRAY[token, (ts_lexize('english_stem', token))[1]]) AS form
                    WHERE typo IN (SELECT typo FROM token GROUP BY typo HAVING count(*) = 1)
                        AND length(token) <= 40 AND token !~ '[[:digit:]]' AND length(form) >= 3
                ), spelling AS (
                    SELECT typo, form AS spelling FROM form
                    UNION
                    SELECT typo, left(form, i - 1) || substr(form, i + 1) FROM form, generate_series(1, length(form)) i
                    WHERE length(form) >= 4
                ), found AS (
                    SELECT DISTINCT typo, word, tsvector_to_array(to_tsvector('english'::regconfig, word)) AS lexemes
                    FROM spelling JOIN app_search_spelling USING (spelling)
                ), alike AS (  -- the likest form of each stem some active product's name has
                    SELECT DISTINCT ON (typo, lexemes) typo, word, lexemes, similarity(typo, word) AS likeness
                    FROM found
                    WHERE lexemes <> '{}' AND EXISTS (
                        SELECT 1 FROM app_product WHERE is_active
                            AND ts_filter(search_vector, '{a}') @@ plainto_tsquery('english'::regconfig, word)
                    )
                    ORDER BY typo, lexemes, likeness DESC, word
                )
                SELECT typo, word, lexemes FROM (
                    SELECT *, row_number() OVER (PARTITION BY typo ORDER BY likeness DESC, word) AS n FROM alike
                ) AS likest
                WHERE n <= %s ORDER BY typo, n
                """,
                [list(words), LOOK_ALIKES],
            )
            found = {}
            for word, alike, lexemes in cursor.fetchall():
                found.setdefault(word, []).append((alike, lexemes))
        return found

    def _name_matches_first(self, matches, query: TsQuery) -> "TieredMatches":
        """`matches` of `query` (a plain query of common words), in the order of `_by_relevance`,
        read as two tiers: the name matches, newest first, then the rest, by rank. A first page
        reads the newest name matches from the index of creation dates instead of ranking tens of
        thousands of matches."""
        in_name = query.matched_by(NAME_LEXEMES_SQL)  # implies a match
        tiers = [self.filter(in_name).order_by("-created_at", "-id"), _by_relevance(matches.exclude(in_name), query)]
        return TieredMatches(matches, tiers)

    def _word_kinds(self, words) -> dict:
        """Each word's kind: "stop" (full-text search ignores it), "common" (among the words
        PostgreSQL's statistics list as the most frequent), "unknown" (no active product has it,
        by its stem: a typo, which the search matches by its look-alikes) or "known".

        A word this process has found before, and which is common, needs no query: a common
        word's EXISTS would read every one of its tens of thousands of index entries."""
        common = common_lexemes(self.db) if words else frozenset()
        kinds = {word: _kind_by_lexemes(_lexemes.get(word), common) for word in words}
        unsure = [word for word, kind in kinds.items() if kind is None]
        if not unsure:
            return kinds
        with connections[self.db].cursor() as cursor:
            cursor.execute(
                """
                SELECT word, tsvector_to_array(to_tsvector('english', word)), EXISTS (
                    SELECT 1 FROM app_product WHERE is_active AND search_vector @@ plainto_tsquery('english', word)
                )
                FROM unnest(%s::text[]) AS word
                """,
                [unsure],
            )
            rows = cursor.fetchall()
        if len(_lexemes) + len(rows) > LEXEMES_MEMO_SIZE:
            _lexemes.clear()
        for word, lexemes, found in rows:
            lexemes = tuple(lexemes)
            if lexemes and not found:  # a typo, looked up again next time: the catalog may get the word
                kinds[word] = "unknown"
            else:
                _lexemes[word] = lexemes
                kinds[word] = _kind_by_lexemes(lexemes, common) or "known"
        return kinds

    def _search_portable(self, terms, ranked):
        words = terms.split()[:10]
        matches = self
        for word in words:
            matches = matches.filter(Q(name__icontains=word) | Q(description__icontains=word))
        if not ranked:
            return matches
        name_hits = sum((Case(When(name__icontains=w, then=1), default=0) for w in words), Value(0))
        return matches.annotate(relevance=name_hits).order_by("-relevance", "-created_at", "-id")


class Product(models.Model):
    """Something a seller offers. Price, stock, SKU and name rules are database constraints."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=220, unique=True, blank=True)
    sku = models.CharField("SKU", max_length=64, unique=True, null=True, blank=True)
    description = models.TextField(blank=True)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    stock = models.IntegerField(default=0)
    is_featured = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="products")
    seller = models.ForeignKey(User, on_delete=models.PROTECT, related_name="products")
    # A default rather than auto_now_add, so bulk loads (seed_demo --products) can spread dates.
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        # `id` breaks ties so pages never overlap when two products share a timestamp.
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(price__gt=0), name="product_price_positive"),
            models.CheckConstraint(condition=Q(stock__gte=0), name="product_stock_non_negative"),
            # A blank SKU is stored as NULL, so "no SKU" never collides with another.
            models.CheckConstraint(condition=~Q(sku=""), name="product_sku_not_blank"),
            models.UniqueConstraint("seller", Lower("name"), name="product_seller_name_ci_unique"),
        ]
        # Partial indexes for the public list queries (active products only), one per ordering.
        indexes = [
            models.Index(fields=["-created_at", "-id"], condition=Q(is_active=True), name="product_active_newest_idx"),
            models.Index(fields=["price", "id"], condition=Q(is_active=True), name="product_active_price_idx"),
            models.Index(fields=["name", "id"], condition=Q(is_active=True), name="product_active_name_idx"),
            models.Index(
                fields=["category", "-created_at", "-id"],
                condition=Q(is_active=True),
                name="product_active_category_idx",
            ),
            models.Index(
                fields=["-created_at", "-id"],
                condition=Q(is_active=True, is_featured=True),
                name="product_featured_newest_idx",
            ),
            models.Index(fields=["seller", "-created_at"], name="product_seller_newest_idx"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = unique_slug(Product, self.name, exclude_pk=self.pk)
        if self.sku == "":
            self.sku = None
        super().save(*args, **kwargs)

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


def product_image_path(instance, filename):
    """A generated name: nothing of the client's file name reaches the disk (the service names
    the file `upload.<ext>` from the decoded format, and only that extension is kept)."""
    suffix = Path(filename).suffix.lower()[:5]
    return f"products/{instance.product_id}/{uuid.uuid4().hex}{suffix}"


def product_thumbnail_path(instance, filename):
    """Renditions are named after their image (`<image id>-320.webp`), so remaking one replaces it."""
    return f"products/{instance.product_id}/thumbs/{Path(filename).name}"


class ProductImageQuerySet(models.QuerySet):
    def of_products(self, product_ids) -> dict:
        """The images of these products as rows, in order, by product id: one query for a page."""
        by_product = {}
        rows = self.filter(product_id__in=product_ids).values("product_id", *IMAGE_ROW)
        for row in rows:
            by_product.setdefault(row["product_id"], []).append(row)
        return by_product


class ProductImage(models.Model):
    """One picture of a product. Its WebP renditions (`thumbnail` 320 px, `medium` 800 px on the
    long side) are made by a background task after the upload commits; until then they are empty."""

    class ThumbnailStatus(models.TextChoices):
        PENDING = "pending", "Pending"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed (source missing or unreadable)"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to=product_image_path, max_length=255)
    thumbnail = models.ImageField(upload_to=product_thumbnail_path, max_length=255, blank=True)
    medium = models.ImageField(upload_to=product_thumbnail_path, max_length=255, blank=True)
    thumbnail_status = models.CharField(
        max_length=8, choices=ThumbnailStatus.choices, default=ThumbnailStatus.PENDING, db_index=True
    )
    alt_text = models.CharField(max_length=255, blank=True)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProductImageQuerySet.as_manager()

    class Meta:
        ordering = ["position", "created_at"]

    def __str__(self):
        return self.alt_text or self.image.name


# ---------------------------------------------------------------------------
# Token revocation
# ---------------------------------------------------------------------------


class RevokedAccessTokenQuerySet(models.QuerySet):
    def expired(self):
        return self.filter(expires_at__lte=timezone.now())


class RevokedAccessToken(models.Model):
    """An access token ended early (logout). simplejwt's blacklist covers refresh tokens only.

    The database is the source of truth, so a revocation survives a cache outage or restart;
    the cache holds a copy so a revoked token is refused before the database is asked.
    Rows are useless once the token has expired and are purged at each logout.
    """

    jti = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    objects = RevokedAccessTokenQuerySet.as_manager()

    def __str__(self):
        return self.jti
