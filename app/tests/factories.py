"""Plain factory functions: `make_product(**overrides)` and friends, each saving one valid row."""

import itertools
from decimal import Decimal

from app.models import Category, Product, User

_seq = itertools.count(1)

TEST_PASSWORD = "correct-horse-battery-staple"


def make_user(**overrides) -> User:
    n = next(_seq)
    fields = {"email": f"user{n}@example.com", "username": f"user{n}", "role": User.Role.CUSTOMER}
    fields.update(overrides)
    password = fields.pop("password", TEST_PASSWORD)
    return User.objects.create_user(password=password, **fields)


def make_category(**overrides) -> Category:
    fields = {"name": f"Category {next(_seq)}"}
    fields.update(overrides)
    return Category.objects.create(**fields)


def make_product(**overrides) -> Product:
    fields = {"name": f"Product {next(_seq)}", "price": Decimal("9.99"), "stock": 5}
    fields.update(overrides)
    if "category" not in fields:
        fields["category"] = make_category()
    if "seller" not in fields:
        fields["seller"] = make_user(role=User.Role.SELLER)
    return Product.objects.create(**fields)
