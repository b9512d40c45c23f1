"""
`python manage.py seed_demo [--products N]`: demo data, safe to run again.

Without options it makes a category tree, demo sellers and customers, and a few dozen named
products; a second run changes nothing. `--products N` also tops the catalog up to N generated
products (bulk inserts, resumable), with names and descriptions drawn from a vocabulary with a
Zipf-like spread of common and rare words, for benchmarks of lists and search.
"""

import random
import time
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from app.caching import catalog_changed
from app.models import Category, Product, User

DEMO_PASSWORD = "demo-pass-2026"

CATEGORY_TREE = {
    "Electronics": {
        "Smartphones": ["phone", "smartphone", "handset"],
        "Laptops": ["laptop", "notebook", "ultrabook"],
        "Audio": ["headphones", "earbuds", "speaker", "soundbar"],
        "Cameras": ["camera", "lens", "tripod"],
    },
    "Home & Kitchen": {
        "Kitchen": ["blender", "kettle", "toaster", "knife", "pan"],
        "Furniture": ["chair", "desk", "sofa", "shelf", "lamp"],
    },
    "Books": {
        "Fiction": ["novel", "thriller", "anthology"],
        "Non-fiction": ["biography", "cookbook", "guide", "atlas"],
    },
    "Sports & Outdoors": {
        "Fitness": ["dumbbell", "treadmill", "yoga mat", "kettlebell"],
        "Camping": ["tent", "backpack", "sleeping bag", "lantern"],
    },
}

SELLERS = [("seller1@example.com", "acme_store"), ("seller2@example.com", "globex_shop")]
CUSTOMERS = [("customer1@example.com", "jane_doe", False), ("premium1@example.com", "vip_victor", True)]

BRANDS = ["Acme", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Hooli", "Vandelay", "Soylent", "Tyrell"]
ADJECTIVES = [
    "compact",
    "wireless",
    "premium",
    "classic",
    "smart",
    "portable",
    "professional",
    "ultra",
    "eco",
    "deluxe",
    "lightweight",
    "rugged",
    "silent",
    "vintage",
    "modern",
    "foldable",
    "digital",
    "ergonomic",
]
COMMON_WORDS = [
    "quality",
    "design",
    "black",
    "white",
    "steel",
    "battery",
    "warranty",
    "fast",
    "durable",
    "new",
    "easy",
    "comfort",
    "home",
    "travel",
    "power",
    "color",
    "size",
    "perfect",
    "gift",
    "daily",
    "sound",
    "screen",
    "water",
    "resistant",
    "soft",
    "strong",
    "clean",
    "kit",
    "set",
    "pack",
]


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    """Common real words first, then generated rarer ones: rank decides frequency (Zipf, s=1).

    With ~30 words a description, some 200+ words land in 1-5% of products and over ten
    thousand in at most 0.05%: the spread the search benchmarks need (docs/benchmarks.md).
    """
    words = [*COMMON_WORDS, *ADJECTIVES]
    syllables = ["ka", "lo", "mi", "ren", "tas", "vo", "zu", "pel", "dri", "son", "qua", "fen", "bri", "tor"]
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


class Command(BaseCommand):
    help = "Create demo categories, users and products (idempotent). --products N for a big catalog."

    def add_arguments(self, parser):
        parser.add_argument("--products", type=int, default=0, help="Top the catalog up to N generated products.")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, **options):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # bulk loads outlast the web's statement timeout
                cursor.execute("SET statement_timeout = 0")
        rng = random.Random(2026)
        with transaction.atomic():
            leaves = self._categories()
            sellers = self._users()
            created = self._named_products(rng, leaves, sellers)
        self.stdout.write(f"Demo catalog ready: {len(leaves)} leaf categories, {created} new named products.")

        if options["products"]:
            self._bulk_products(options["products"], options["batch_size"], leaves, sellers)
            catalog_changed()  # bulk_create sends no signal: cached pages and counts must go

        self.stdout.write(
            f"Demo logins (password {DEMO_PASSWORD!r}): "
            + ", ".join(email for email, *_ in [*SELLERS, *CUSTOMERS])
            + "\nNo admin is created. Make one with `make superuser` "
            "(or `python manage.py createsuperuser`)."
        )

    def _categories(self) -> list[tuple[Category, list[str]]]:
        leaves = []
        for root_name, children in CATEGORY_TREE.items():
            root, _ = Category.objects.get_or_create(name=root_name, defaults={"slug": slugify(root_name)})
            for child_name, nouns in children.items():
                child, _ = Category.objects.get_or_create(
                    name=child_name, defaults={"parent": root, "slug": slugify(child_name)}
                )
                leaves.append((child, nouns))
        return leaves

    def _users(self) -> list[User]:
        sellers = []
        for email, username in SELLERS:
            sellers.append(self._user(email, username, role=User.Role.SELLER))
        for email, username, premium in CUSTOMERS:
            self._user(email, username, role=User.Role.CUSTOMER, is_premium=premium)
        return sellers

    def _user(self, email, username, **fields) -> User:
        user = User.objects.filter(email=email).first()
        if user is None:
            user = User.objects.create_user(email=email, username=username, password=DEMO_PASSWORD, **fields)
        return user

    def _named_products(self, rng, leaves, sellers) -> int:
        created = 0
        for n, (category, nouns) in enumerate(leaves):
            for k, noun in enumerate(nouns):
                seller = sellers[(n + k) % len(sellers)]
                brand = BRANDS[(n * 3 + k) % len(BRANDS)]
                adjective = ADJECTIVES[(n + k * 5) % len(ADJECTIVES)]
                name = f"{brand} {adjective.title()} {noun.title()}"
                _, was_created = Product.objects.get_or_create(
                    seller=seller,
                    name=name,
                    defaults={
                        "category": category,
                        "description": f"A {adjective} {noun} by {brand}, built for {category.name.lower()}.",
                        "price": Decimal(rng.randrange(499, 199_999)) / 100,
                        "stock": rng.choice([0, 3, 12, 40, 150]),
                        "is_featured": k == 0,
                    },
                )
                created += was_created
        return created

    def _bulk_products(self, target: int, batch_size: int, leaves, sellers) -> None:
        existing = Product.objects.filter(sku__startswith="BULK-").count()
        if existing >= target:
            self.stdout.write(f"{existing} generated products already present; nothing to add.")
            return
        rng = random.Random(existing)
        vocabulary = _vocabulary(random.Random(7))
        cum_weights, total = [], 0.0
        for rank in range(1, len(vocabulary) + 1):
            total += 1 / rank
            cum_weights.append(total)
        now = timezone.now()
        started = time.monotonic()
        for start in range(existing, target, batch_size):
            batch = []
            for i in range(start, min(start + batch_size, target)):
                category, nouns = leaves[rng.randrange(len(leaves))]
                noun, brand, adjective = rng.choice(nouns), rng.choice(BRANDS), rng.choice(ADJECTIVES)
                words = rng.choices(vocabulary, cum_weights=cum_weights, k=rng.randint(25, 35))
                name = f"{brand} {adjective.title()} {noun.title()} {rng.choice(words).title()} {i}"
                batch.append(
                    Product(
                        name=name,
                        slug=f"{slugify(name)}-g",
                        sku=f"BULK-{i:08d}",
                        description=f"{noun.capitalize()} " + " ".join(words) + ".",
                        price=Decimal(int(rng.lognormvariate(8, 1.2)) % 9_999_900 + 100) / 100,
                        stock=0 if rng.random() < 0.1 else rng.randint(1, 500),
                        is_featured=rng.random() < 0.02,
                        is_active=rng.random() < 0.97,
                        category=category,
                        seller=sellers[i % len(sellers)],
                        created_at=now - timedelta(seconds=rng.randrange(365 * 24 * 3600)),
                    )
                )
            Product.objects.bulk_create(batch, batch_size=batch_size)
            done = min(start + batch_size, target)
            self.stdout.write(f"  {done}/{target} generated products ({time.monotonic() - started:.0f}s)")
        if connection.vendor == "postgresql":
            # Fresh statistics for the planner, and a visibility map so list pages and counts
            # are index-only scans from the start (autovacuum would get there, later).
            with connection.cursor() as cursor:
                # VACUUM cannot run inside a transaction (as in tests); ANALYZE can.
                cursor.execute("ANALYZE app_product" if connection.in_atomic_block else "VACUUM ANALYZE app_product")
                cursor.execute("ANALYZE app_user")
            self.stdout.write("  vacuumed and analysed")
