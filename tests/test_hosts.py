"""The server answers only the Host names it serves: DNS rebinding gets nothing, on REST and MCP."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import SAMPLE_OIDS, on_sqlite_only

ATTACKER = "attacker.example"
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


@pytest.fixture
def loopback_only(app_client: Callable[..., TestClient]) -> TestClient:
    """The app as it starts by default: loopback names only."""
    return app_client(ALLOWED_HOSTS="")


@on_sqlite_only
@pytest.mark.parametrize("host", ["localhost", "localhost:3000", "127.0.0.1:3000", "[::1]:3000"])
def test_loopback_names_are_answered_on_any_port(loopback_only: TestClient, host: str) -> None:
    response = loopback_only.get("/customers", headers={"Host": host})
    assert response.status_code == 200
    assert len(response.json()) == 5


@on_sqlite_only
@pytest.mark.parametrize("host", [ATTACKER, f"{ATTACKER}:3000", "192.168.1.20:3000", ""])
def test_another_host_is_400_and_reads_nothing(loopback_only: TestClient, host: str) -> None:
    response = loopback_only.get(f"/user-portfolio/{SAMPLE_OIDS[0]}", headers={"Host": host})
    assert response.status_code == 400
    assert response.json() == {
        "detail": f"Host '{host}' is not served here: use localhost or 127.0.0.1, "
        "or add it to ALLOWED_HOSTS"
    }


def test_another_host_changes_nothing(loopback_only: TestClient) -> None:
    response = loopback_only.delete(f"/customer/{SAMPLE_OIDS[0]}", headers={"Host": ATTACKER})
    assert response.status_code == 400
    exists = loopback_only.get(f"/customer/{SAMPLE_OIDS[0]}/exists", headers={"Host": "localhost"})
    assert exists.json()["exists"] is True


@on_sqlite_only
def test_health_answers_any_host(loopback_only: TestClient) -> None:
    response = loopback_only.get("/health", headers={"Host": "10.0.0.5:3000"})
    assert response.status_code == 200


@on_sqlite_only
def test_allowed_hosts_adds_names_to_the_loopback_ones(
    app_client: Callable[..., TestClient],
) -> None:
    client = app_client(ALLOWED_HOSTS="bank.internal")
    assert client.get("/customers", headers={"Host": "BANK.internal:8080"}).status_code == 200
    assert client.get("/customers", headers={"Host": "localhost:3000"}).status_code == 200
    assert client.get("/customers", headers={"Host": ATTACKER}).status_code == 400


@on_sqlite_only
def test_a_star_answers_every_host(app_client: Callable[..., TestClient]) -> None:
    client = app_client(ALLOWED_HOSTS="*")
    assert client.get("/customers", headers={"Host": ATTACKER}).status_code == 200


@on_sqlite_only
def test_mcp_refuses_another_host_whatever_host_is_bound(
    app_client: Callable[..., TestClient],
) -> None:
    client = app_client(ALLOWED_HOSTS="", HOST="0.0.0.0")
    refused = client.post("/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, "Host": ATTACKER})
    assert refused.status_code == 400
    served = client.post("/mcp", json=LIST_TOOLS, headers={**MCP_HEADERS, "Host": "127.0.0.1"})
    assert served.status_code == 200
    assert served.json()["result"]["tools"]


@on_sqlite_only
@pytest.mark.parametrize(
    "origin, status",
    [("http://attacker.example", 403), ("http://localhost:5173", 200), (None, 200)],
)
def test_mcp_checks_a_browsers_origin_against_the_same_names(
    loopback_only: TestClient, origin: str | None, status: int
) -> None:
    headers = {**MCP_HEADERS, "Host": "127.0.0.1:3000"}
    if origin is not None:
        headers["Origin"] = origin
    response = loopback_only.post("/mcp", json=LIST_TOOLS, headers=headers)
    assert response.status_code == status
