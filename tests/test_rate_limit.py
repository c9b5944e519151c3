"""RATE_LIMIT: per API key (where one is set) or per client address, 429 with Retry-After and
the IETF RateLimit fields. Counted in the server's memory: the engine does not matter."""

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from settings import Settings
from tests.fixtures import customer_count, on_sqlite_only

KEY = "limited-key"


@pytest.fixture
def limited(app_client: Callable[..., TestClient]) -> TestClient:
    return caller(app_client(RATE_LIMIT="3/minute"))


def caller(client: TestClient) -> TestClient:
    """The app, from an address of its own: the shared app's counts outlive a test."""
    address = ".".join(str(part) for part in uuid.uuid4().bytes[:4])
    return TestClient(client.app, base_url=str(client.base_url), client=(address, 50000))


@on_sqlite_only
def test_every_answer_tells_the_policy_and_what_remains(limited: TestClient) -> None:
    for remaining in (2, 1, 0):
        response = limited.get("/customers")
        assert response.status_code == 200
        assert response.headers["ratelimit-policy"] == '"3-per-60s";q=3;w=60'
        name, r, t = response.headers["ratelimit"].split(";")
        assert (name, r) == ('"3-per-60s"', f"r={remaining}")
        assert 0 < int(t.removeprefix("t=")) <= 60


@on_sqlite_only
def test_a_request_over_the_limit_is_429_and_runs_nothing(limited: TestClient) -> None:
    for _ in range(3):
        limited.get("/customers")
    response = limited.post("/register-customer", json={"name": "Never Made"})
    assert response.status_code == 429
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    assert response.json() == {
        "detail": f"Too many requests: the limit is 3 per minute; retry after {wait} seconds"
    }
    assert response.headers["ratelimit"] == f'"3-per-60s";r=0;t={wait}'
    assert customer_count(caller(limited), "Never Made") == 0


@on_sqlite_only
def test_each_address_has_its_own_quota(limited: TestClient) -> None:
    other = caller(limited)
    for _ in range(3):
        limited.get("/customers")
    assert limited.get("/customers").status_code == 429
    assert other.get("/customers").status_code == 200


@on_sqlite_only
def test_made_up_keys_do_not_make_new_quotas(limited: TestClient) -> None:
    """Without BANK_API_KEY nothing checks a key sent, so the address is what is counted."""
    for _ in range(3):
        limited.get("/customers", headers={"X-API-Key": uuid.uuid4().hex})
    assert limited.get("/customers", headers={"X-API-Key": uuid.uuid4().hex}).status_code == 429


@on_sqlite_only
def test_with_an_api_key_the_key_is_counted(app_client: Callable[..., TestClient]) -> None:
    shared = app_client(RATE_LIMIT="2/minute", BANK_API_KEY=KEY)
    first, second = caller(shared), caller(shared)  # one key, two addresses
    assert first.get("/customers", headers={"X-API-Key": KEY}).status_code == 200
    assert second.get("/customers", headers={"X-API-Key": KEY}).status_code == 200
    assert first.get("/customers", headers={"X-API-Key": KEY}).status_code == 429
    assert first.get("/customers").status_code == 401  # the key is checked first


@on_sqlite_only
def test_the_health_probe_and_docs_are_not_limited(limited: TestClient) -> None:
    for _ in range(5):
        assert limited.get("/health").status_code == 200
        assert limited.get("/openapi.json").status_code == 200
    assert "ratelimit" not in limited.get("/health").headers
    assert limited.get("/customers").headers["ratelimit"].startswith('"3-per-60s";r=2')


@on_sqlite_only
def test_several_limits_are_each_counted(app_client: Callable[..., TestClient]) -> None:
    client = caller(app_client(RATE_LIMIT="100/second;2/minute;3/hour"))
    first = client.get("/customers")
    assert first.headers["ratelimit-policy"] == (
        '"100-per-1s";q=100;w=1, "2-per-60s";q=2;w=60, "3-per-3600s";q=3;w=3600'
    )
    assert client.get("/customers").status_code == 200
    refused = client.get("/customers")
    assert refused.status_code == 429
    assert "2 per minute" in refused.json()["detail"]
    assert int(refused.headers["retry-after"]) <= 60  # the hour has one left: the minute's wait
    assert '"3-per-3600s";r=1;' in refused.headers["ratelimit"]  # a refusal is not counted


@on_sqlite_only
def test_retry_after_waits_for_the_limit_that_frees_last(
    app_client: Callable[..., TestClient],
) -> None:
    client = caller(app_client(RATE_LIMIT="1/second;1/hour"))
    assert client.get("/customers").status_code == 200
    refused = client.get("/customers")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 60  # the hour, not the second
    assert "1 per hour" in refused.json()["detail"]


@on_sqlite_only
def test_no_limit_by_default(client: TestClient) -> None:
    response = client.get("/customers")
    assert "ratelimit" not in response.headers and "ratelimit-policy" not in response.headers


@pytest.mark.parametrize("setting", ["lots", "100/fortnight", "-1/second"])
def test_a_limit_that_is_none_stops_the_start(setting: str) -> None:
    with pytest.raises(ValidationError, match="not a list of limits"):
        Settings(RATE_LIMIT=setting)
