"""Races on single-use refresh tokens: of many simultaneous refreshes, exactly one wins."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.urls import reverse
from rest_framework.test import APIClient

from app import services
from app.tests.factories import make_user


@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_with_one_token_let_exactly_one_through():
    token = services.token_pair(make_user())["refresh"]

    def attempt(_):
        try:
            return APIClient().post(reverse("api:refresh"), {"refresh": token}, format="json").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = list(pool.map(attempt, range(6)))

    if connection.vendor == "sqlite":
        # SQLite serialises writers; a request that finds the database locked gets a 503 to retry,
        # and its transaction (blacklist and new token together) is rolled back.
        assert statuses.count(200) <= 1, statuses
        assert set(statuses) <= {200, 401, 503}, statuses
    else:
        assert statuses.count(200) == 1, statuses
        assert set(statuses) <= {200, 401}, statuses
