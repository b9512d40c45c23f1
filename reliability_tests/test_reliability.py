"""Security plan section 3 with real outages: the database line cut and restored (R1), Redis
killed (R3, R4), and two app processes sharing one rate limit (R10)."""

import pytest
from conftest import Redis, Server, TcpProxy, base_env, login


@pytest.fixture
def proxy():
    proxy = TcpProxy()
    proxy.start()
    yield proxy
    proxy.cut()


def test_database_cut_gives_503_then_the_next_request_after_recovery_is_served(database, proxy):
    server = Server(base_env(f"postgres://postgres@127.0.0.1:{proxy.port}/{database}"))
    try:
        token = login(server)["access"]
        assert server.get("/api/v1/auth/profile/", token)[0] == 200

        proxy.cut()
        for path in ("/api/v1/auth/profile/", "/api/v1/products/", "/api/v1/categories/"):
            status, headers, body = server.get(path, token)
            assert status == 503, (path, body)
            assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
            assert int(headers["Retry-After"]) > 0
        status, _, body = server.get("/api/v1/health/")
        assert status == 503
        assert "database" in body["error"]["details"]

        proxy.start()  # the database is back; the app is not restarted
        assert server.get("/api/v1/auth/profile/", token)[0] == 200
        assert server.get("/api/v1/health/")[0] == 200
    finally:
        server.stop()


def test_redis_down_the_api_keeps_serving_and_revocations_hold(database):
    redis = Redis()
    server = Server(base_env(f"postgres://postgres@127.0.0.1:5432/{database}", REDIS_URL=redis.url))
    try:
        revoked = login(server)
        assert server.post("/api/v1/auth/logout/", {"refresh": revoked["refresh"]}, revoked["access"])[0] == 200
        live = login(server)["access"]

        redis.kill()

        assert server.get("/api/v1/products/")[0] == 200
        status, _, body = server.post(
            "/api/v1/products/",
            {"name": "Made while Redis was down", "price": "9.99", "category": "smartphones"},
            live,
        )
        assert status == 201, body
        assert server.get("/api/v1/auth/profile/", live)[0] == 200
        # Fails closed: the logged-out token stays refused without Redis.
        assert server.get("/api/v1/auth/profile/", revoked["access"])[0] == 401
        status, _, body = server.get("/api/v1/health/")
        assert status == 503
        assert set(body["error"]["details"]) == {"cache"}
    finally:
        server.stop()
        redis.kill()


def test_two_app_processes_enforce_one_limit(database):
    redis = Redis()
    env = base_env(f"postgres://postgres@127.0.0.1:5432/{database}", REDIS_URL=redis.url, THROTTLE_ANON="20/hour")
    first, second = Server(env, workers=1), Server(env, workers=1)
    try:
        statuses = [(first if i % 2 else second).get("/api/v1/categories/")[0] for i in range(40)]

        assert statuses.count(200) == 20
        assert statuses.count(429) == 20
    finally:
        first.stop()
        second.stop()
        redis.kill()
