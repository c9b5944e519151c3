"""RATE_LIMIT: per API key (or client address), 429 with Retry-After and the IETF RateLimit
fields. Counted in the server's memory: the engine does not matter."""

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from settings import Settings
from tests.fixtures import customer_count, on_sqlite_only


@pytest.fixture
def limited(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(RATE_LIMIT="3/minute")


def caller() -> dict[str, str]:
    """A caller of its own: the shared app's counts outlive a test."""
    return {"X-API-Key": uuid.uuid4().hex}


@on_sqlite_only
def test_every_answer_tells_the_policy_and_what_remains(limited: TestClient) -> None:
    headers = caller()
    for remaining in (2, 1, 0):
        response = limited.get("/customers", headers=headers)
        assert response.status_code == 200
        assert response.headers["ratelimit-policy"] == '"3-per-60s";q=3;w=60'
        name, r, t = response.headers["ratelimit"].split(";")
        assert (name, r) == ('"3-per-60s"', f"r={remaining}")
        assert 0 < int(t.removeprefix("t=")) <= 60


@on_sqlite_only
def test_a_request_over_the_limit_is_429_and_runs_nothing(limited: TestClient) -> None:
    headers = caller()
    for _ in range(3):
        limited.get("/customers", headers=headers)
    response = limited.post("/register-customer", json={"name": "Never Made"}, headers=headers)
    assert response.status_code == 429
    wait = int(response.headers["retry-after"])
    assert 1 <= wait <= 60
    assert response.json() == {
        "detail": f"Too many requests: the limit is 3 per minute; retry after {wait} seconds"
    }
    assert response.headers["ratelimit"] == f'"3-per-60s";r=0;t={wait}'
    assert customer_count(limited, "Never Made") == 0


@on_sqlite_only
def test_each_caller_has_its_own_quota(limited: TestClient) -> None:
    first, second = caller(), caller()
    for _ in range(3):
        limited.get("/customers", headers=first)
    assert limited.get("/customers", headers=first).status_code == 429
    assert limited.get("/customers", headers=second).status_code == 200


@on_sqlite_only
def test_the_health_probe_and_docs_are_not_limited(limited: TestClient) -> None:
    headers = caller()
    for _ in range(5):
        assert limited.get("/health", headers=headers).status_code == 200
        assert limited.get("/openapi.json", headers=headers).status_code == 200
    assert "ratelimit" not in limited.get("/health", headers=headers).headers
    assert (
        limited.get("/customers", headers=headers)
        .headers["ratelimit"]
        .startswith('"3-per-60s";r=2')
    )


@on_sqlite_only
def test_several_limits_are_each_counted(app_client: Callable[..., TestClient]) -> None:
    client, headers = app_client(RATE_LIMIT="100/second;2/minute"), caller()
    first = client.get("/customers", headers=headers)
    assert first.headers["ratelimit-policy"] == ('"100-per-1s";q=100;w=1, "2-per-60s";q=2;w=60')
    assert client.get("/customers", headers=headers).status_code == 200
    refused = client.get("/customers", headers=headers)
    assert refused.status_code == 429
    assert "2 per minute" in refused.json()["detail"]


@on_sqlite_only
def test_no_limit_by_default(client: TestClient) -> None:
    response = client.get("/customers")
    assert "ratelimit" not in response.headers and "ratelimit-policy" not in response.headers


@pytest.mark.parametrize("setting", ["lots", "100/fortnight", "-1/second"])
def test_a_limit_that_is_none_stops_the_start(setting: str) -> None:
    with pytest.raises(ValidationError, match="not a list of limits"):
        Settings(RATE_LIMIT=setting)
