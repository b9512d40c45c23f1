"""Contract section 4, `products/search/`: required `q`, relevance ranking, every filter, hostile input."""

import importlib
from decimal import Decimal

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from app import models
from app.filters import ProductSearchFilter
from app.models import CompiledSearch, RankedMatches, User
from app.tests.factories import make_category, make_product, make_user
from app.tests.helpers import ago, assert_error, ids, images_query, pks, product_compiles
from app.views import PUBLIC_PRODUCT_SEARCH

pytestmark = pytest.mark.django_db

SEARCH = reverse("api:product-search")


@pytest.fixture
def category():
    return make_category(name="Lighting")


@pytest.fixture
def lamps(seller, category):
    """A name match (older, pricier) and a description match (newer, cheaper), plus a non-match."""
    return {
        "in_name": make_product(
            seller=seller, category=category, name="Brass Lamp", description="Polished metal.",
            price=Decimal("80.00"), created_at=ago(5),
        ),
        "in_description": make_product(
            seller=seller, category=category, name="Oak Desk", description="Comes with a reading lamp.",
            price=Decimal("40.00"), created_at=ago(1),
        ),
        "other": make_product(
            seller=seller, category=category, name="Steel Chair", description="Sturdy and stackable.",
            price=Decimal("20.00"), created_at=ago(3),
        ),
    }  # fmt: skip


# --- q ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "\t\n"}, {"search": ""}, {"search": "  "}])
def test_missing_or_blank_q_is_400(anon_client, lamps, params):
    response = anon_client.get(SEARCH, params)

    assert "q" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_search_is_an_alias_for_q(anon_client, lamps):
    by_q = anon_client.get(SEARCH, {"q": "lamp"})
    by_search = anon_client.get(SEARCH, {"search": "lamp"})

    assert ids(by_q) == pks(lamps["in_name"], lamps["in_description"])
    assert ids(by_search) == ids(by_q)


def test_search_is_public_and_paginated(anon_client, lamps):
    response = anon_client.get(SEARCH, {"q": "lamp", "page_size": 1})

    body = response.json()
    assert response.status_code == 200
    assert set(body) == {"success", "count", "next", "previous", "results"}
    assert body["success"] is True
    assert body["count"] == 2
    assert [p["id"] for p in body["results"]] == pks(lamps["in_name"])
    assert body["next"] is not None
    assert ids(anon_client.get(SEARCH, {"q": "lamp", "page_size": 1, "page": 2})) == pks(lamps["in_description"])


@pytest.mark.parametrize("page", ["3", "999", "99999999999999999999"])
def test_a_search_page_past_the_end_is_404(anon_client, lamps, page):
    assert_error(anon_client.get(SEARCH, {"q": "lamp", "page": page}), 404, "NOT_FOUND")


def test_search_count_is_the_same_on_every_page(anon_client, lamps):
    pages = [anon_client.get(SEARCH, {"q": "lamp", "page_size": 1, "page": n}).json() for n in (2, 1)]

    assert [body["count"] for body in pages] == [2, 2]
    assert [len(body["results"]) for body in pages] == [1, 1]


def test_search_is_case_insensitive(anon_client, lamps):
    assert ids(anon_client.get(SEARCH, {"q": "LAMP"})) == pks(lamps["in_name"], lamps["in_description"])


# --- ranking ------------------------------------------------------------------------------------


def test_name_match_ranks_before_description_match(anon_client, lamps):
    # Newest first would put the description match first; relevance puts the name match first.
    response = anon_client.get(SEARCH, {"q": "lamp"})

    assert ids(response) == pks(lamps["in_name"], lamps["in_description"])
    assert response.json()["count"] == 2


@pytest.fixture
def audio(seller, category):
    """Newest first: both words in the description, one word in the name, both in the name, partial matches."""
    return {
        "both_in_description": make_product(
            seller=seller, category=category, name="Studio Monitor",
            description="Bundled with wireless headphones.", created_at=ago(1),
        ),
        "split": make_product(
            seller=seller, category=category, name="Wireless Charger",
            description="Charges phones and headphones.", created_at=ago(2),
        ),
        "both_in_name": make_product(
            seller=seller, category=category, name="Wireless Headphones Pro",
            description="Over-ear.", created_at=ago(3),
        ),
        "only_wireless": make_product(
            seller=seller, category=category, name="Wireless Mouse", description="Ergonomic.", created_at=ago(4),
        ),
        "only_headphones": make_product(
            seller=seller, category=category, name="Studio Headphones", description="Closed back.",
            created_at=ago(5),
        ),
        "usb_cable": make_product(
            seller=seller, category=category, name="Braided Cable", description="USB-C to USB-C.",
            created_at=ago(6),
        ),
    }  # fmt: skip


def test_every_word_must_match_and_name_matches_rank_first(anon_client, audio):
    response = anon_client.get(SEARCH, {"q": "wireless headphones"})

    assert ids(response) == pks(audio["both_in_name"], audio["split"], audio["both_in_description"])
    assert response.json()["count"] == 3


def test_single_word_ranks_every_name_match_before_every_description_match(anon_client, audio):
    found = ids(anon_client.get(SEARCH, {"q": "headphones"}))

    assert len(found) == 4
    assert set(found[:2]) == set(pks(audio["both_in_name"], audio["only_headphones"]))
    assert set(found[2:]) == set(pks(audio["split"], audio["both_in_description"]))


# --- common words: read in tiers (PostgreSQL) ---------------------------------------------------

postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the statistics that make a word common are PostgreSQL's"
)


NAME_MATCH = 'ts_filter("app_product"."search_vector", \'{a}\') @@'


def every_page(client, q, page_size):
    body = client.get(SEARCH, {"q": q, "page_size": page_size}).json()
    pages = -(-body["count"] // page_size)
    rest = [ids(client.get(SEARCH, {"q": q, "page_size": page_size, "page": n})) for n in range(2, pages + 1)]
    return body["count"], [[row["id"] for row in body["results"]], *rest]


@postgresql_only
@pytest.mark.parametrize("q", ["headphones", "wireless headphones", "studio headphones", "wireless"])
@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_common_words_read_in_tiers_give_the_same_pages(anon_client, audio, common_words, uncached_path, q, page_size):
    one_query = every_page(anon_client, q, page_size)
    common_words.update({"wireless", "headphon", "studio"})  # their stems

    with CaptureQueriesContext(connection) as tiered:
        assert every_page(anon_client, q, page_size) == one_query
    assert one_query[0] == len([pk for page in one_query[1] for pk in page]) > 0
    # The name matches were read on their own: the name index in a WHERE clause.
    assert any(NAME_MATCH in query["sql"].rsplit("WHERE", 1)[-1] for query in tiered.captured_queries)


@postgresql_only
def test_a_common_word_first_reads_the_name_matches_alone(
    anon_client, seller, category, common_words, django_assert_num_queries, uncached_path
):
    for i in range(4):
        make_product(seller=seller, category=category, name=f"Lamp {i}", created_at=ago(10 + i))
        make_product(seller=seller, category=category, name=f"Desk {i}", description="With a lamp.", created_at=ago(i))
    common_words.add("lamp")
    params = {"q": "lamp", "page_size": 2}

    # Which words are typos, the count of every match, the page from the name matches alone.
    with django_assert_num_queries(3) as first:
        response = anon_client.get(SEARCH, params)

    assert [row["name"] for row in response.json()["results"]] == ["Lamp 0", "Lamp 1"]
    assert response.json()["count"] == 8
    where = first.captured_queries[2]["sql"].rsplit("WHERE", 1)[1]
    assert NAME_MATCH in where
    assert '"app_product"."search_vector" @@' not in where  # no other test of the words
    # Page 3 lies past the 4 name matches: the count, the name matches' (empty) page and count,
    # the description matches' page; the word's stems are known now, and common: no query about it.
    with django_assert_num_queries(4):
        third = anon_client.get(SEARCH, {**params, "page": 3})
    assert [row["name"] for row in third.json()["results"]] == ["Desk 0", "Desk 1"]


@postgresql_only
def test_a_word_out_of_date_statistics_call_common_is_still_matched_as_a_typo(
    anon_client, seller, category, common_words
):
    phone = make_product(seller=seller, category=category, name="Acme Smartphone 12")
    with connection.cursor() as cursor:
        cursor.execute("SELECT tsvector_to_array(to_tsvector('english', 'smartphnoe'))")
        common_words.update(cursor.fetchone()[0])  # as if every product had it at the last ANALYZE

    first = anon_client.get(SEARCH, {"q": "smartphnoe"})
    again = anon_client.get(SEARCH, {"q": "smartphnoe", "page_size": 5})  # no memo of the typo either

    assert ids(first) == ids(again) == pks(phone)
    assert first.json()["count"] == again.json()["count"] == 1


@pytest.mark.parametrize("q", ["lamp (-shade", "lamp !-shade", "lamp -shade"])
def test_a_negated_word_is_excluded_however_it_is_written(anon_client, seller, category, common_words, q):
    bare = make_product(seller=seller, category=category, name="Lamp B", description="Bare bulb.", created_at=ago(2))
    shaded = make_product(
        seller=seller, category=category, name="Lamp A", description="With a shade.", created_at=ago(1)
    )
    common_words.update({"lamp", "shade"})  # on PostgreSQL, a plain query of them would be read in tiers

    response = anon_client.get(SEARCH, {"q": q})

    if connection.vendor == "postgresql":
        assert ids(response) == pks(bare)
    else:  # the fallback knows no operators: every word, as written, must appear
        assert ids(response) == []
    assert str(shaded.pk) not in ids(response)


@postgresql_only
def test_common_lexemes_are_the_statistics_most_common_elements(seller, category, monkeypatch):
    for i in range(30):
        make_product(seller=seller, category=category, name=f"Lamp {i}", description=f"A shade. Model {i}.")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE app_product")
    monkeypatch.setattr(models, "_common_lexemes", {})  # nothing remembered: read the statistics

    common = models.common_lexemes("default")

    assert {"lamp", "shade", "model"} <= common
    assert models._common_lexemes["default"][1] is common  # remembered for the next search


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("usb headphones", []),
        ("mouse headphones", []),
        ("studio headphones", ["only_headphones", "both_in_description"]),
        ("wireless mouse", ["only_wireless"]),
        ("braided usb", ["usb_cable"]),
    ],
)
def test_multi_word_query_requires_every_word(anon_client, audio, q, expected):
    response = anon_client.get(SEARCH, {"q": q})

    names = [p["name"] for p in response.json().get("results", [])]
    assert ids(response) == pks(*(audio[name] for name in expected)), names


def test_typo_tolerance(anon_client, seller, category):
    phone = make_product(seller=seller, category=category, name="Acme Smartphone 12", description="Unlocked.")
    make_product(seller=seller, category=category, name="Garden Hose", description="Twenty metres.")

    response = anon_client.get(SEARCH, {"q": "smartphnoe"})

    if connection.vendor == "postgresql":
        assert ids(response) == pks(phone)
    else:  # documented fallback: every word must appear as typed, so a typo finds nothing
        assert ids(response) == []
        assert response.json()["count"] == 0


def test_typo_next_to_a_known_word(anon_client, seller, category):
    phone = make_product(seller=seller, category=category, name="Acme Smartphone 12", description="Unlocked.")
    make_product(seller=seller, category=category, name="Zenith Smartphone", description="Unlocked.")

    response = anon_client.get(SEARCH, {"q": "acme smartphnoe"})

    assert response.status_code == 200
    assert ids(response) == (pks(phone) if connection.vendor == "postgresql" else [])


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("smartphone or tablet", True),  # "or" is an operator, not a word to find
        ("phone or laptop", True),  # one side of an "or" may be a word the catalog lacks
        ("smartphone -tablet", True),
        ("smartphone -tablte", True),  # an excluded word is never matched by similarity
        ("smartphone -zeta", False),
        ('"smartphone zeta"', True),
        ("the smartphnoe", True),  # a stop word beside a typo
        ("smartphnoe zeta", True),
    ],
)
def test_web_search_operators_and_typos_together(anon_client, seller, category, q, found):
    phone = make_product(seller=seller, category=category, name="Smartphone Zeta", description="A phone for kids.")
    make_product(seller=seller, category=category, name="Garden Hose", description="Twenty metres.")

    response = anon_client.get(SEARCH, {"q": q})

    assert response.status_code == 200
    if connection.vendor == "postgresql":
        assert ids(response) == (pks(phone) if found else [])


def test_a_word_the_catalog_has_does_not_match_look_alikes(anon_client, seller, category):
    # "hose" and "house" are one letter apart; a word that exists matches only itself (by its stem).
    hoses = make_product(seller=seller, category=category, name="Garden Hoses", description="Twenty metres.")
    make_product(seller=seller, category=category, name="Bird House", description="Cedar.")

    response = anon_client.get(SEARCH, {"q": "hose"})

    assert response.status_code == 200
    assert ids(response) == pks(hoses)
    assert response.json()["count"] == 1


def spelled(word: str) -> set[str]:
    """The spellings the database keeps for `word` (migration 0009)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT spelling FROM app_search_spelling WHERE word = %s", [word])
        return {spelling for (spelling,) in cursor.fetchall()}


def read_in_tiers(queries) -> bool:
    """Whether a query of `queries` read the name matches alone (the first tier of TieredMatches)."""
    wheres = [query["sql"].rsplit("WHERE", 1)[-1] for query in queries.captured_queries]
    return any(NAME_MATCH in where and '"app_product"."search_vector" @@' not in where for where in wheres)


def spelling_rows() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM app_search_spelling")
        return cursor.fetchone()[0]


@postgresql_only
@pytest.mark.parametrize(
    "typo",
    ["smartphnoe", "smartpone", "smartphonne", "smartphome", "SMARTPHNOE", "smartphnoe,", "msartphone"],
)
def test_a_typo_one_letter_away_finds_the_word(anon_client, seller, category, typo):
    phone = make_product(seller=seller, category=category, name="Acme Smartphone 12", description="Unlocked.")
    make_product(seller=seller, category=category, name="Garden Hose", description="Twenty metres.")

    response = anon_client.get(SEARCH, {"q": typo})

    assert (ids(response), response.json()["count"]) == (pks(phone), 1)


@postgresql_only
@pytest.mark.parametrize(
    "typo", ["smartphnoe", "smartphnoes", "headphnoes", "«smartphnoe»", "smartphnoe\u2019s", "SMARTPHNOE…"]
)
def test_a_typo_finds_other_forms_of_the_word_and_punctuation_is_not_part_of_it(anon_client, seller, category, typo):
    phones = make_product(seller=seller, category=category, name="Acme Smartphones", created_at=ago(2))
    headphone = make_product(seller=seller, category=category, name="Wireless Headphone", created_at=ago(1))

    response = anon_client.get(SEARCH, {"q": typo})

    assert ids(response) == pks(headphone if "head" in typo else phones)


@postgresql_only
def test_a_typo_never_stands_for_a_stop_word(anon_client, seller, category, monkeypatch):
    monkeypatch.setattr(models, "LOOK_ALIKES", 1)
    tee = make_product(seller=seller, category=category, name="The Tee Shirt")

    # "thee" is likest "the" (0.5), a stop word, then "tee" (0.29).
    response = anon_client.get(SEARCH, {"q": "thee"})

    assert (ids(response), response.json()["count"]) == (pks(tee), 1)


@postgresql_only
def test_a_typo_of_one_common_word_is_read_in_tiers_after_nothing_matched_as_written(
    anon_client, seller, category, common_words, uncached_path
):
    lamps = [make_product(seller=seller, category=category, name=f"Lamp {i}", created_at=ago(i)) for i in range(3)]
    make_product(seller=seller, category=category, name="Desk", description="With a lamp.")
    common_words.add("lamp")

    with CaptureQueriesContext(connection) as queries:
        first = anon_client.get(SEARCH, {"q": "lammp", "page_size": 2})

    assert (ids(first), first.json()["count"]) == (pks(*lamps[:2]), 3)
    assert "websearch_to_tsquery" in queries.captured_queries[0]["sql"]  # as written first: nothing
    assert read_in_tiers(queries)
    second = anon_client.get(SEARCH, {"q": "lammp", "page_size": 2, "page": 2})
    assert (ids(second), second.json()["count"]) == (pks(lamps[2]), 3)


@postgresql_only
def test_a_typo_is_matched_against_the_words_of_names(anon_client, seller, category):
    both = make_product(seller=seller, category=category, name="Walnut Desk", description="Oiled.", created_at=ago(9))
    stool = make_product(
        seller=seller, category=category, name="Walnut Stool", description="Matches the desk.", created_at=ago(1)
    )
    make_product(seller=seller, category=category, name="Oak Desk", description="Walnut inlay.", created_at=ago(2))

    with_known_word = anon_client.get(SEARCH, {"q": "walnutt desk"})
    alone = anon_client.get(SEARCH, {"q": "wlanut"})

    # The name has every word first; a typo never matches a description (the oak desk).
    assert (ids(with_known_word), with_known_word.json()["count"]) == (pks(both, stool), 2)
    assert (ids(alone), alone.json()["count"]) == (pks(stool, both), 2)


@postgresql_only
def test_a_typo_of_common_words_is_read_in_tiers(anon_client, seller, category, common_words, uncached_path):
    for i in range(3):
        make_product(seller=seller, category=category, name=f"Desk Lamp {i}", created_at=ago(10 + i))
        make_product(
            seller=seller, category=category, name=f"Lamp {i}", description="Fits any desk.", created_at=ago(i)
        )
    make_product(seller=seller, category=category, name="Desk 9", description="With a lamp.")  # no lamp in the name
    common_words.update({"lamp", "desk"})

    with CaptureQueriesContext(connection) as queries:
        first = anon_client.get(SEARCH, {"q": "lammp desk", "page_size": 4})

    assert [row["name"] for row in first.json()["results"]] == ["Desk Lamp 0", "Desk Lamp 1", "Desk Lamp 2", "Lamp 0"]
    assert first.json()["count"] == 6
    assert read_in_tiers(queries)
    second = anon_client.get(SEARCH, {"q": "lammp desk", "page_size": 4, "page": 2})
    assert [row["name"] for row in second.json()["results"]] == ["Lamp 1", "Lamp 2"]
    filtered = anon_client.get(SEARCH, {"q": "lammp desk", "page_size": 4, "min_price": "1"})  # not compiled once
    assert (ids(filtered), filtered.json()["count"]) == (ids(first), 6)


@postgresql_only
@pytest.mark.parametrize("q", ["xqzvkj", "the xqzvkj", "lamp xqzvkj", "lamp12"])
def test_a_typo_like_no_word_of_the_catalog_finds_nothing(anon_client, lamps, q):
    response = anon_client.get(SEARCH, {"q": q})

    assert response.status_code == 200
    assert (ids(response), response.json()["count"]) == ([], 0)


@postgresql_only
def test_a_typo_stands_for_its_likest_look_alikes_only(anon_client, seller, category, monkeypatch):
    cable = make_product(seller=seller, category=category, name="Usb Cable", description="Braided.")
    table = make_product(seller=seller, category=category, name="Oak Table", description="Oiled.")

    # "gable" is one letter from "cable" and from "table", equally like both.
    assert ids(anon_client.get(SEARCH, {"q": "gable"})) == pks(table, cable)
    monkeypatch.setattr(models, "LOOK_ALIKES", 1)
    assert ids(anon_client.get(SEARCH, {"q": "gable", "page_size": 5})) == pks(cable)  # then alphabetical


@postgresql_only
def test_look_alikes_are_ordered_by_likeness(anon_client, seller, category, monkeypatch):
    monkeypatch.setattr(models, "LOOK_ALIKES", 1)
    make_product(seller=seller, category=category, name="Usb Cable")
    tablet = make_product(seller=seller, category=category, name="Drawing Tablet")

    # "ablet" is "tablet" less a letter (similarity 0.44), and shares "able" with "cable" (0.2).
    response = anon_client.get(SEARCH, {"q": "ablet"})

    assert ids(response) == pks(tablet)


@postgresql_only
@pytest.mark.parametrize("q", ["oek", "rubs", "smartphnoe-case"])
def test_a_short_or_compound_typo_has_no_look_alikes(anon_client, seller, category, q):
    for name in ("Oak Desk", "Rug Runner", "Rum Cake", "Running Belt", "Usb Cable", "Guitar Case", "Acme Smartphone"):
        make_product(seller=seller, category=category, name=name)

    response = anon_client.get(SEARCH, {"q": q})

    # "oek" is 3 letters; "rubs" stems to "rub", 3 letters, whose deletions would meet those of
    # "rug", "rum" and "usb"; the look-alikes of each part of "smartphnoe-case" would stand for both.
    assert (response.status_code, ids(response)) == (200, [])


@postgresql_only
def test_one_look_alike_per_stem_and_only_words_of_visible_names(anon_client, seller, category, monkeypatch):
    monkeypatch.setattr(models, "LOOK_ALIKES", 2)
    for name in ("Lamps Set", "Lamped Bulb", "Lamping Kit", "Damp Cloth"):
        make_product(seller=seller, category=category, name=name, is_active=False)
    lamp = make_product(seller=seller, category=category, name="Brass Lamp")
    ramp = make_product(seller=seller, category=category, name="Ramp Kit", created_at=ago(1))

    # "xamp" is one letter from lamp(s, ...) and from ramp, damp: one slot for the lamps, none for
    # "damp", whose only product is hidden.
    response = anon_client.get(SEARCH, {"q": "xamp"})

    assert (ids(response), response.json()["count"]) == (pks(lamp, ramp), 2)


@postgresql_only
def test_a_typo_never_finds_hidden_products(anon_client, seller, category):
    make_product(seller=seller, category=category, name="Secret Prototype", is_active=False)

    assert "prototype" in spelled("prototype")  # a hidden product's words are there too,
    response = anon_client.get(SEARCH, {"q": "prototpye"})
    assert (ids(response), response.json()["count"]) == ([], 0)  # but find nothing


@postgresql_only
def test_the_database_keeps_the_spellings_of_every_name(seller_client, seller, category):
    created = seller_client.post(
        reverse("api:product-list"),
        {"name": "Quokka Plush", "price": "9.99", "stock": 1, "category": str(category.pk), "description": "Fluffy."},
        format="json",
    )
    assert created.status_code == 201
    assert spelled("quokka") == {"quokka", "uokka", "qokka", "qukka", "quoka", "quokk"}
    assert spelled("fluffy") == set()  # descriptions are not read

    product_url = reverse("api:product-detail", args=[created.json()["data"]["id"]])
    renamed = seller_client.patch(product_url, {"name": "Wombat Plush"}, format="json")
    assert renamed.status_code == 200
    assert "wombat" in spelled("wombat")

    models.Product.objects.bulk_create(
        [
            models.Product(name=f"Numbat {i}", slug=f"numbat-{i}", price=1, seller=seller, category=category)
            for i in (1, 2)
        ]
    )
    models.Product.objects.filter(name="Numbat 1").update(name="Striped Numbat 1")
    assert "numbat" in spelled("numbat")
    assert "striped" in spelled("striped")
    assert spelled("1") == set()  # no numbers
    rows = spelling_rows()
    models.Product.objects.create(name="Numbat 3", slug="numbat-3", price=1, seller=seller, category=category)
    assert spelling_rows() == rows  # nothing added twice
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM app_search_spelling WHERE word = 'numbat'")
    models.Product.objects.update(stock=7)  # not a new name
    models.Product.objects.filter(name="Numbat 2").update(name="Numbat 2")  # the same name
    assert spelled("numbat") == set()  # neither ran the trigger


@postgresql_only
def test_the_migration_reads_the_names_of_every_product_so_far(seller, category, monkeypatch):
    migration = importlib.import_module("app.migrations.0009_search_spellings_postgres")
    monkeypatch.setattr(migration, "BATCH", 2)  # three products: two batches
    for name in ("Axolotl Tank 60L", "Heron Print", "Newt Bowl"):
        make_product(seller=seller, category=category, name=name, description="Glass.")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM app_search_spelling")
        migration.backfill(cursor)

    assert {"axolotl", "xolotl", "axolot"} <= spelled("axolotl")
    assert all(word in spelled(word) for word in ("tank", "heron", "newt"))
    assert spelled("60l") == spelled("glass") == set()


# --- filters and ordering -------------------------------------------------------------------------


def test_search_takes_max_price(anon_client, lamps):
    response = anon_client.get(SEARCH, {"q": "lamp", "max_price": "40.00"})

    assert ids(response) == pks(lamps["in_description"])
    assert response.json()["count"] == 1


def test_search_takes_min_price(anon_client, lamps):
    assert ids(anon_client.get(SEARCH, {"q": "lamp", "min_price": "80.00"})) == pks(lamps["in_name"])


def test_search_takes_category_including_descendants(anon_client, seller, lamps):
    home = make_category(name="Home")
    rooms = make_category(name="Rooms", parent=home)
    study = make_category(name="Study", parent=rooms)
    desk_lamp = make_product(seller=seller, category=study, name="Desk Lamp", created_at=ago(2))
    make_product(seller=seller, category=make_category(name="Garden"), name="Garden Lamp", created_at=ago(2))

    for ref in ("home", str(home.pk), "study"):
        response = anon_client.get(SEARCH, {"q": "lamp", "category": ref})
        assert ids(response) == pks(desk_lamp), ref


def test_search_takes_seller_and_boolean_filters(anon_client, lamps, category):
    other = make_user(role=User.Role.SELLER, username="LampMaker", email="lampmaker@example.com")
    sold_out = make_product(seller=other, category=category, name="Paper Lamp", stock=0, is_featured=True)

    assert ids(anon_client.get(SEARCH, {"q": "lamp", "seller": "lampmaker"})) == pks(sold_out)
    assert ids(anon_client.get(SEARCH, {"q": "lamp", "in_stock": "false"})) == pks(sold_out)
    assert ids(anon_client.get(SEARCH, {"q": "lamp", "is_featured": "true"})) == pks(sold_out)
    assert ids(anon_client.get(SEARCH, {"q": "lamp", "in_stock": "true"})) == pks(
        lamps["in_name"], lamps["in_description"]
    )


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("-created_at", ["in_description", "in_name"]),
        ("created_at", ["in_name", "in_description"]),
        ("price", ["in_description", "in_name"]),
        ("-price", ["in_name", "in_description"]),
        ("name", ["in_name", "in_description"]),
        ("-name", ["in_description", "in_name"]),
    ],
)
def test_ordering_overrides_relevance(anon_client, lamps, ordering, expected):
    response = anon_client.get(SEARCH, {"q": "lamp", "ordering": ordering})

    assert ids(response) == pks(*(lamps[name] for name in expected))


def test_unknown_ordering_on_search_is_400(anon_client, lamps):
    response = anon_client.get(SEARCH, {"q": "lamp", "ordering": "seller__password"})

    assert "ordering" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_min_price_above_max_price_on_search_is_422(anon_client, lamps):
    response = anon_client.get(SEARCH, {"q": "lamp", "min_price": "50", "max_price": "10"})

    assert_error(response, 422, "UNPROCESSABLE_ENTITY")


def test_search_across_pages_with_ties_never_repeats(anon_client, seller, category):
    same_time = ago(1)
    twins = [
        make_product(seller=make_user(role=User.Role.SELLER), category=category, name="Twin Lamp", created_at=same_time)
        for _ in range(3)
    ]

    pages = [ids(anon_client.get(SEARCH, {"q": "lamp", "page_size": 1, "page": page})) for page in (1, 2, 3)]

    assert sorted(pages[0] + pages[1] + pages[2]) == sorted(pks(*twins))


# --- hostile input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "q",
    [
        "%",
        "_",
        "%%",
        "' OR 1=1--",
        '" OR ""="',
        "(a+)+$",
        "a:*",
        "!!",
        "&|",
        "!",
        "<->",
        "\\",
        "'",
        "*",
        "x" * 200,
        "🔦",
    ],
)
def test_hostile_queries_are_harmless(anon_client, seller, category, q):
    make_product(seller=seller, category=category, name="Blue Widget", description="Solid steel.")
    make_product(seller=seller, category=category, name="Red Gizmo", description="Cast iron.")

    response = anon_client.get(SEARCH, {"q": q})

    # Nothing matches: wildcards and operators are taken literally, never as patterns or SQL.
    assert ids(response) == []
    assert response.json()["count"] == 0


@pytest.mark.parametrize("param", ["q", "search"])
def test_overlong_q_is_400(anon_client, lamps, param):
    response = anon_client.get(SEARCH, {param: "lamp " * 1000})

    assert param in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_q_of_201_characters_is_400(anon_client, lamps):
    response = anon_client.get(SEARCH, {"q": "l" * 201})

    assert "q" in assert_error(response, 400, "VALIDATION_ERROR")["error"]["details"]


def test_null_byte_in_q_is_400(anon_client, lamps):
    encoded = anon_client.get(f"{SEARCH}?q=lamp%00")
    raw = anon_client.get(SEARCH, {"q": "la\x00mp"})

    assert "q" in assert_error(encoded, 400, "VALIDATION_ERROR")["error"]["details"]
    assert "q" in assert_error(raw, 400, "VALIDATION_ERROR")["error"]["details"]


# --- visibility, query count ------------------------------------------------------------------------


def test_inactive_products_and_deactivated_sellers_never_appear(anon_client, seller, category):
    visible = make_product(seller=seller, category=category, name="Glass Lamp", created_at=ago(3))
    make_product(seller=seller, category=category, name="Hidden Lamp", is_active=False, created_at=ago(1))
    gone = make_user(role=User.Role.SELLER, username="GoneSeller", email="gone@example.com", is_active=False)
    make_product(seller=gone, category=category, name="Ghost Lamp", created_at=ago(2))

    assert ids(anon_client.get(SEARCH, {"q": "lamp"})) == pks(visible)
    assert ids(anon_client.get(SEARCH, {"q": "hidden lamp"})) == []
    assert ids(anon_client.get(SEARCH, {"q": "ghost"})) == []
    assert ids(anon_client.get(SEARCH, {"q": "lamp", "seller": "GoneSeller"})) == []
    assert ids(anon_client.get(SEARCH, {"q": "lamp", "ordering": "-created_at"})) == pks(visible)
    assert anon_client.get(SEARCH, {"q": "lamp"}).json()["count"] == 1


def test_search_query_count_is_fixed(anon_client, seller, category, django_assert_num_queries, uncached_path):
    for i in range(30):
        make_product(seller=seller, category=category, name=f"Lamp {i}", description="A lamp.", created_at=ago(i))
    # The ranked page with its count (ranking reads every match anyway), category, seller and
    # images; which words are typos is asked only when nothing matches (PostgreSQL)
    expected = 1 + images_query()
    with django_assert_num_queries(expected):
        small = anon_client.get(SEARCH, {"q": "lamp", "page_size": 1})
    with django_assert_num_queries(expected):
        large = anon_client.get(SEARCH, {"q": "lamp", "page_size": 100})

    assert (len(ids(small)), len(ids(large))) == (1, 30)
    assert small.json()["count"] == large.json()["count"] == 30


def test_a_search_with_no_match_asks_for_no_count(anon_client, lamps, django_assert_num_queries, uncached_path):
    # Both words are known, no product has both: an empty first page is a count of 0.
    with django_assert_num_queries(1 + (1 if connection.vendor == "postgresql" else 0)):
        response = anon_client.get(SEARCH, {"q": "brass chair"})

    assert response.status_code == 200
    assert (response.json()["count"], ids(response)) == (0, [])


# --- a search of words alone: its SQL compiled once ------------------------------------------------


@pytest.mark.parametrize("q", ["lamp", "LAMP", "metal lamp", "lamp -desk", '"reading lamp"', "chair or brass", "it's"])
def test_a_search_of_words_alone_finds_what_the_filters_find(anon_client, lamps, q):
    """`?q=` alone skips the FilterSet (and, on PostgreSQL, puts its words into SQL compiled
    once); any filter takes the FilterSet's path. Both give the same ranked pages."""
    alone = anon_client.get(SEARCH, {"q": q, "page_size": 1})
    filtered = anon_client.get(SEARCH, {"q": q, "page_size": 1, "min_price": "0"})
    second = anon_client.get(SEARCH, {"q": q, "page_size": 1, "page": 2})

    assert alone.status_code == filtered.status_code == 200
    assert alone.json()["results"] == filtered.json()["results"]
    assert alone.json()["count"] == filtered.json()["count"]
    if alone.json()["count"] > 1:
        assert ids(second) == ids(anon_client.get(SEARCH, {"q": q, "page_size": 1, "page": 2, "min_price": "0"}))
    last = {"q": q, "page_size": 1, "page": "last"}
    assert ids(anon_client.get(SEARCH, last)) == ids(anon_client.get(SEARCH, {**last, "min_price": "0"}))


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"q": " brass lamp "}, "brass lamp"),
        ({"q": "lamp", "page": "2", "page_size": "5"}, "lamp"),
        ({"q": ["desk", "lamp"]}, "lamp"),  # the last, as the FilterSet reads it
        ({"q": "lamp", "min_price": "0"}, None),  # any filter: the FilterSet
        ({"q": "lamp", "ordering": "name"}, None),
        ({"search": "lamp"}, None),
        ({"q": "   "}, None),  # invalid: the FilterSet answers it
        ({"q": "l" * 201}, None),
        ({"q": "la\x00mp"}, None),
    ],
)
def test_words_alone_are_what_the_filterset_would_search_for(params, words):
    query = QueryDict(mutable=True)
    for name, value in params.items():
        query.setlist(name, value if isinstance(value, list) else [value])

    assert ProductSearchFilter.words_alone(query) == words


@postgresql_only
def test_a_search_of_other_words_compiles_nothing(anon_client, lamps, monkeypatch):
    anon_client.get(SEARCH, {"q": "lamp"})
    compiled = product_compiles(monkeypatch)

    with CaptureQueriesContext(connection) as queries:
        response = anon_client.get(SEARCH, {"q": "polished metal"})

    assert response.status_code == 200
    assert (ids(response), response.json()["count"]) == (pks(lamps["in_name"]), 1)
    assert compiled == []  # the first search's SQL, with these words in its place...
    assert any('"app_product"' in query["sql"] for query in queries.captured_queries)  # ...read the rows
    # A product made now is found by the very next search: only the SQL is kept, never rows.
    lamp = make_product(seller=lamps["other"].seller, category=lamps["other"].category, name="Metal Lamp")
    assert ids(anon_client.get(SEARCH, {"q": "metal"}))[0] == str(lamp.pk)


@postgresql_only
def test_compiled_search_pages_are_bounded(anon_client, lamps, monkeypatch):
    monkeypatch.setattr(PUBLIC_PRODUCT_SEARCH, "_pages", {})
    monkeypatch.setattr(CompiledSearch, "PAGES", 2)

    for page_size in (1, 2, 3):
        assert anon_client.get(SEARCH, {"q": "lamp", "page_size": page_size}).json()["count"] == 2

    assert 0 < len(PUBLIC_PRODUCT_SEARCH._pages) <= 2


@postgresql_only
def test_a_search_of_words_that_cannot_be_common_asks_nothing_about_them(
    anon_client, lamps, common_words, uncached_path
):
    common_words.add("chair")  # another word is common: "lamp" is not

    with CaptureQueriesContext(connection) as queries:
        response = anon_client.get(SEARCH, {"q": "lamp"})

    assert ids(response) == pks(lamps["in_name"], lamps["in_description"])
    assert len(queries.captured_queries) == 1  # the ranked page: no query about the words
    assert "unnest" not in queries.captured_queries[0]["sql"]


@postgresql_only
@pytest.mark.parametrize("q", ["chairs", "Chair", "stackable chair"])
def test_a_word_that_may_be_common_is_asked_about_first(anon_client, lamps, common_words, uncached_path, q):
    common_words.add("chair")

    with CaptureQueriesContext(connection) as queries:
        response = anon_client.get(SEARCH, {"q": q})

    assert ids(response) == pks(lamps["other"])
    assert "unnest" in queries.captured_queries[0]["sql"]  # which words are typos, or common


@postgresql_only
def test_a_typo_read_as_written_first_is_still_found_by_its_look_alikes(anon_client, seller, category, uncached_path):
    phone = make_product(seller=seller, category=category, name="Acme Smartphone 12")

    with CaptureQueriesContext(connection) as queries:
        response = anon_client.get(SEARCH, {"q": "smartphnoe", "page_size": 1})

    assert (ids(response), response.json()["count"]) == (pks(phone), 1)
    # As written (nothing), which words are typos, the words like the typo, the page with its count.
    assert len(queries.captured_queries) == 4
    assert "app_search_spelling" in queries.captured_queries[2]["sql"]


@postgresql_only
def test_the_stems_told_without_a_query_are_postgresqls(seller, category):
    words = ["lamps", "Running", "connections", "happily", "generously", "skies", "dying", "news", "cycling"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT w, tsvector_to_array(to_tsvector('english', w)) FROM unnest(%s::text[]) w", [words])
        postgresql = dict(cursor.fetchall())

    assert {word: [models._english_stem(word.lower())] for word in words} == postgresql
    # A word that is not plain ASCII letters may be anything: it is asked about.
    assert models._may_be_common(["café"], frozenset()) is True
    assert models._may_be_common(["e-mail"], frozenset()) is True
    assert models._may_be_common(["lamps", "desk"], frozenset({"chair"})) is False
    assert models._may_be_common(["lamps", "desk"], frozenset({"lamp"})) is True


@postgresql_only
def test_a_common_word_the_stemmer_mistakes_is_read_in_tiers_once_it_matched_many(
    anon_client, lamps, common_words, monkeypatch
):
    common_words.add("lamp")
    monkeypatch.setattr(models, "_english_stem", lambda word: f"{word}?")  # every stem mistaken
    monkeypatch.setattr(RankedMatches, "MANY_MATCHES", 1)

    first = anon_client.get(SEARCH, {"q": "lamp"})  # read as written, ranked: it matches 2, "many"
    with CaptureQueriesContext(connection) as queries:
        second = anon_client.get(SEARCH, {"q": "lamp"})

    assert ids(first) == ids(second) == pks(lamps["in_name"], lamps["in_description"])
    assert models._lexemes["lamp"] == ("lamp",)  # learnt with the first
    assert any(NAME_MATCH in query["sql"].rsplit("WHERE", 1)[-1] for query in queries.captured_queries)
