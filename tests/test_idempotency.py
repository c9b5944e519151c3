"""Idempotency-Key on every write, with Stripe's semantics, over HTTP and MCP, on both engines."""

import concurrent.futures
import threading
import uuid
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from sqlalchemy import Engine, text

from main import create_app
from settings import Settings
from tests.fixtures import (
    SAMPLE_OIDS,
    VALID,
    LiveServer,
    app_mcp_server,
    customer_count,
    on_sqlite_only,
    request_fingerprint,
)

OWNER = SAMPLE_OIDS[0]
PASSES = 8  # retries an ack-lost write gets in the tests below


def key() -> dict[str, str]:
    return {"Idempotency-Key": str(uuid.uuid4())}


def register(client: TestClient, name: str, headers: dict[str, str]) -> httpx2.Response:
    return client.post("/register-customer", json={"name": name}, headers=headers)


def transactions_of(client: TestClient, oid: str) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = client.get(
        f"/customer/{oid}/transactions", params={"limit": 1000}
    ).json()
    return listed


def test_a_retry_gets_the_first_answer_and_runs_nothing(client: TestClient) -> None:
    headers = key()
    first = register(client, "Ada Once", headers)
    again = register(client, "Ada Once", headers)
    assert first.status_code == again.status_code == 200
    assert again.content == first.content
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert customer_count(client, "Ada Once") == 1


def test_a_created_item_replays_its_201_and_location(client: TestClient) -> None:
    headers = key()
    url = f"/customer/{OWNER}/transactions"
    first = client.post(url, json=VALID["transactions"], headers=headers)
    again = client.post(url, json=VALID["transactions"], headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["location"] == first.headers["location"]
    assert again.json() == first.json()
    assert [t["description"] for t in transactions_of(client, OWNER)].count(
        VALID["transactions"]["description"]
    ) == 1


def test_the_same_key_with_another_request_is_422(client: TestClient) -> None:
    headers = key()
    register(client, "Ada Once", headers)
    for method, url, body in [
        ("POST", "/register-customer", {"name": "Someone Else"}),
        ("POST", f"/customer/{OWNER}/transactions", {"name": "Ada Once"}),
        ("PUT", f"/user-portfolio/{uuid.uuid4()}", {"name": "Ada Once"}),
    ]:
        response = client.request(method, url, json=body, headers=headers)
        assert response.status_code == 422, (method, url)
        assert "was used with a different request" in response.json()["detail"]
    assert customer_count(client, "Someone Else") == 0


def test_an_answer_of_a_request_that_ran_is_kept_errors_too(client: TestClient) -> None:
    """As Stripe keeps them: the retry learns what the first request was told."""
    headers, ghost = key(), str(uuid.uuid4())
    missing = client.delete(f"/customer/{ghost}", headers=headers)
    assert missing.status_code == 404
    client.put(f"/user-portfolio/{ghost}", json={"user": {"name": "Ghost Now"}})
    again = client.delete(f"/customer/{ghost}", headers=headers)
    assert (again.status_code, again.headers["idempotent-replayed"]) == (404, "true")
    assert again.json() == missing.json()
    assert client.get(f"/customer/{ghost}/exists").json()["exists"] is True


def test_a_failed_request_leaves_its_key_free(client: TestClient) -> None:
    headers = key()
    assert register(client, "x", headers).status_code == 400  # a name of 2-100 characters
    assert register(client, "Ada Fixed", headers).status_code == 200
    assert customer_count(client, "Ada Fixed") == 1


def test_a_key_in_flight_is_409(client: TestClient, engine: Engine) -> None:
    """The first request's claim, as it stands while that request runs."""
    headers = key()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO idempotency_keys (scope, key, fingerprint, created_at) "
                "VALUES ('addr:testclient', :key, :fingerprint, CURRENT_TIMESTAMP)"
            ),
            {"key": headers["Idempotency-Key"], "fingerprint": fingerprint_of_register()},
        )
    response = client.post(
        "/register-customer",
        content=TWICE,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 409
    assert response.headers["retry-after"] == "1"
    assert "still running" in response.json()["detail"]
    assert customer_count(client, "Ada Twice") == 0


TWICE = b'{"name": "Ada Twice"}'


def fingerprint_of_register() -> str:
    return request_fingerprint(b"POST", b"/register-customer", b"", TWICE)


def test_keys_expire_after_24_hours(client: TestClient, engine: Engine) -> None:
    headers = key()
    register(client, "Ada Old", headers)
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE idempotency_keys SET created_at = :then"),
            {"then": "2000-01-01 00:00:00"},
        )
    assert register(client, "Ada New", headers).status_code == 200  # the key is free again
    assert customer_count(client, "Ada New") == 1


def test_keys_belong_to_the_api_key_sent(client: TestClient) -> None:
    shared_key = key()
    for api_key in ("alice", "bob"):
        response = register(client, "Ada Per Key", {**shared_key, "X-API-Key": api_key})
        assert "idempotent-replayed" not in response.headers
    assert customer_count(client, "Ada Per Key") == 2


@on_sqlite_only
@pytest.mark.parametrize("bad", [b"", b"x" * 256, "caf\u00e9".encode()])
def test_an_invalid_key_is_400_and_changes_nothing(client: TestClient, bad: bytes) -> None:
    response = client.post(
        "/register-customer", json={"name": "Never Made"}, headers=[(b"idempotency-key", bad)]
    )
    assert response.status_code == 400
    assert "Idempotency-Key must be 1-255 printable ASCII" in response.json()["detail"]
    assert customer_count(client, "Never Made") == 0


def test_a_delete_retried_is_its_first_answer_not_404(client: TestClient) -> None:
    headers = key()
    first = client.delete(f"/customer/{SAMPLE_OIDS[3]}", headers=headers)
    again = client.delete(f"/customer/{SAMPLE_OIDS[3]}", headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert client.delete(f"/customer/{SAMPLE_OIDS[3]}").status_code == 404


def test_keys_survive_a_restart(settings: Settings) -> None:
    headers = key()
    small = settings.model_copy(update={"DB_POOL_SIZE": 2, "DB_MAX_OVERFLOW": 2})
    with TestClient(create_app(small), base_url="http://localhost") as before:
        first = register(before, "Ada Kept", headers)
    with TestClient(create_app(small), base_url="http://localhost") as after:
        again = register(after, "Ada Kept", headers)
        assert again.headers["idempotent-replayed"] == "true"
        assert again.content == first.content
        assert customer_count(after, "Ada Kept") == 1


# --- ack-lost, then a retry: exactly one effect ---------------------------------------------


def until_answered(send: Any) -> httpx2.Response:
    """Send again while the answer is lost (502), as a client retrying would."""
    for _ in range(PASSES):
        response: httpx2.Response = send()
        if response.status_code != 502:
            return response
    raise AssertionError("no answer")


def test_ack_lost_then_a_retry_registers_once(client: TestClient) -> None:
    headers = key()
    lost = register(client, "Ada Lost", {**headers, "Sandbox-Fault": "ack-lost"})
    assert lost.status_code == 502
    retried = register(client, "Ada Lost", headers)
    assert (retried.status_code, retried.headers["idempotent-replayed"]) == (200, "true")
    assert customer_count(client, "Ada Lost") == 1


def test_ack_lost_then_a_retry_creates_one_item(client: TestClient) -> None:
    headers, url = key(), f"/customer/{OWNER}/transactions"
    before = len(transactions_of(client, OWNER))
    body = {**VALID["transactions"], "description": "Once only"}
    assert (
        client.post(url, json=body, headers={**headers, "Sandbox-Fault": "ack-lost"}).status_code
        == 502
    )
    retried = client.post(url, json=body, headers=headers)
    assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true"
    assert len(transactions_of(client, OWNER)) == before + 1
    assert [t["description"] for t in transactions_of(client, OWNER)].count("Once only") == 1


def test_ack_lost_then_a_retry_imports_once(client: TestClient) -> None:
    headers, oid = key(), str(uuid.uuid4())
    document = client.get(f"/user-portfolio/{SAMPLE_OIDS[1]}").json()
    url = f"/user-portfolio/{oid}"
    lost = client.put(url, json=document, headers={**headers, "Sandbox-Fault": "ack-lost"})
    assert lost.status_code == 502
    stored = client.get(url).json()
    retried = client.put(url, json=document, headers=headers)
    assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true"
    assert client.get(url).json() == stored  # the retry did not import it again (new ids)


def race(url: str, body: dict[str, Any], headers: dict[str, str]) -> list[int]:
    """Sixteen requests at once (as near as threads start together), under one key."""
    start = threading.Barrier(16)

    def send(_: int) -> int:
        with httpx.Client(timeout=30) as http:
            start.wait()
            return http.post(url, json=body, headers=headers).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(send, range(16)))


def test_racing_retries_under_one_key_have_one_effect(live_server: LiveServer) -> None:
    statuses = race(f"{live_server.base_url}/register-customer", {"name": "Ada Raced"}, key())
    assert set(statuses) <= {200, 409} and 200 in statuses
    customers = httpx.get(f"{live_server.base_url}/customers", params={"limit": 1000}).json()
    assert [c["name"] for c in customers].count("Ada Raced") == 1


def test_racing_requests_that_fail_under_one_key_never_500(live_server: LiveServer) -> None:
    """Each frees the key as the next claims it: a claim can find the row gone."""
    statuses = race(f"{live_server.base_url}/register-customer", {"name": "x"}, key())
    assert set(statuses) <= {400, 409} and 400 in statuses
    assert b"Unhandled error" not in live_server.log_path.read_bytes()


# --- MCP write tools' idempotency_key -------------------------------------------------------


@pytest.mark.anyio
async def test_a_write_tool_called_again_under_its_key_runs_once(client: TestClient) -> None:
    async with Client(app_mcp_server(client)) as mcp:
        arguments = {"name": "Ada Tool", "idempotency_key": "tool-key-1"}
        first = await mcp.call_tool("register_customer", arguments)
        again = await mcp.call_tool("register_customer", arguments)
        assert not first.is_error and not again.is_error
        assert again.structured_content == first.structured_content
        assert again.meta is not None and again.meta["idempotent_replayed"] is True
        other = await mcp.call_tool(
            "register_customer", {"name": "Someone Else", "idempotency_key": "tool-key-1"}
        )
        assert other.is_error and "different request" in other.content[0].text  # type: ignore[union-attr]
    assert customer_count(client, "Ada Tool") == 1
    assert customer_count(client, "Someone Else") == 0


@pytest.mark.anyio
async def test_ack_lost_on_a_tool_then_a_retry_runs_once(client: TestClient) -> None:
    rule = {"match": {"tool": "register_customer"}, "rate": 1, "fault": {"ack_lost": True}}
    client.put("/sandbox/faults", json={"rules": [rule]})
    arguments = {"name": "Ada Tool Lost", "idempotency_key": "tool-key-2"}
    async with Client(app_mcp_server(client)) as mcp:
        assert (await mcp.call_tool("register_customer", arguments)).is_error
        client.delete("/sandbox/faults")
        retried = await mcp.call_tool("register_customer", arguments)
        assert not retried.is_error
        assert retried.meta is not None and retried.meta["idempotent_replayed"] is True
    assert customer_count(client, "Ada Tool Lost") == 1
