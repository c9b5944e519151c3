"""BANK_API_KEY and BANK_READ_ONLY over HTTP and MCP, and CORS origins.

On SQLite only: access is middleware in front of every route, decided before any query, and the
storage behind it is the other tests' on both engines. Over HTTP in-process, through real
servers, and over stdio.
"""

import sys
from collections.abc import Callable
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from constants import INVALID_API_KEY, MISSING_API_KEY, READ_ONLY_REFUSAL
from settings import PROJECT_DIR
from tests.fixtures import (
    CHANGES,
    MCP_TOOLS,
    SAMPLE_OIDS,
    VALID,
    LiveServer,
    Shared,
    a_webhook,
    on_sqlite_only,
)

pytestmark = on_sqlite_only

KEY = "s3cret-key-for-tests"
WITH_KEY = {"X-API-Key": KEY}
READ_TOOLS = {"list_customers", "get_portfolio", "customer_exists", "get_transactions"} | {
    "get_items",
    "get_account_statement",
    "list_securities",
    "get_prices",
    "get_performance",
    "list_institutions",
    "sync_transactions",
}
# The owner holds items of every collection; the whole portfolio of SAMPLE_OIDS[4] replaces
# REPLACED's.
OWNER, DELETED, REPLACED = SAMPLE_OIDS[1], SAMPLE_OIDS[2], SAMPLE_OIDS[3]
PUBLIC = ["/health", "/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"]


@pytest.fixture
def locked(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(BANK_API_KEY=KEY)


@pytest.fixture
def read_only(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(BANK_READ_ONLY=True)


# A rule for a path nothing requests: a profile that changes what GET /sandbox/faults shows,
# and strikes nothing.
LATENCY_RULE = {"match": {"path": "/nowhere"}, "rate": 1, "fault": {"latency": 1}}


def every_operation(client: TestClient, **headers: str) -> list[tuple[str, str, Any]]:
    """A request for each operation of the OpenAPI document, each one that would succeed.

    Reads first, then writes, the deletes last, so that played in order all of them do.
    """
    schema = client.get("/openapi.json").json()
    owner = client.get(f"/user-portfolio/{OWNER}", headers=headers).json()
    replacement = client.get(f"/user-portfolio/{SAMPLE_OIDS[4]}", headers=headers).json()
    first_ids = {
        collection: client.get(f"/customer/{OWNER}/{collection}", headers=headers).json()[0]["id"]
        for collection in VALID
    }
    assert owner["customer_oid"] == OWNER
    webhook_id = a_webhook(client)
    requests = []
    for path, item in schema["paths"].items():
        for method in item:
            collection = path.split("/")[3] if path.count("/") >= 3 else ""
            oid = {"delete": DELETED, "put": REPLACED}.get(method, OWNER)
            if path == "/customer/{customer_oid}" or path.startswith("/user-portfolio"):
                url = path.replace("{customer_oid}", oid)
            else:
                url = path.replace("{customer_oid}", OWNER)
            url = url.replace("{item_id}", str(first_ids.get(collection, 1)))
            url = url.replace("{account_id}", str(first_ids["bank-accounts"]))
            url = url.replace("{symbol}", "AAPL").replace("{webhook_id}", str(webhook_id))
            body = {
                ("post", "/register-customer"): {"name": "Let In"},
                ("put", "/user-portfolio/{customer_oid}"): replacement,
                ("post", "/sandbox/clock/advance"): {"days": 1},
                ("post", "/webhooks"): {"url": "http://127.0.0.1:9/", "events": ["clock.advanced"]},
                ("put", "/sandbox/faults"): {"seed": 7, "rules": [LATENCY_RULE]},
            }.get((method, path))
            if method == "post" and collection in VALID:
                body = VALID[collection]
            if method == "patch":
                body = CHANGES[collection]
            requests.append((method.upper(), url, body))
    order = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
    requests.sort(key=lambda request: (order[request[0]], request[1].count("/") == 2))
    return requests


def snapshot(client: TestClient, **headers: str) -> dict[str, Any]:
    """Everything the bank holds, as its reads show it."""
    customers = client.get("/customers", headers=headers).json()
    return {
        "customers": customers,
        "institutions": client.get("/institutions", headers=headers).json(),
        "webhooks": client.get("/webhooks", headers=headers).json(),
        "faults": client.get("/sandbox/faults", headers=headers).json(),
        "portfolios": [
            client.get(f"/user-portfolio/{c['customer_oid']}", headers=headers).json()
            for c in customers
        ],
    }


# --- The API key over HTTP ----------------------------------------------------------------


def test_every_operation_needs_the_key_and_changes_nothing_without_it(locked: TestClient) -> None:
    operations = [op for op in every_operation(locked, **WITH_KEY) if op[1] != "/health"]
    before = snapshot(locked, **WITH_KEY)
    assert len(operations) == 48
    for method, url, body in operations:
        for headers, detail in [
            ({}, MISSING_API_KEY),
            ({"X-API-Key": "wrong"}, INVALID_API_KEY),
            ({"Authorization": "Bearer wrong"}, INVALID_API_KEY),
            ({"Authorization": f"Basic {KEY}"}, MISSING_API_KEY),
            ({"X-API-Key": KEY[:-1]}, INVALID_API_KEY),
        ]:
            response = locked.request(method, url, json=body, headers=headers)
            assert response.status_code == 401, (method, url, headers)
            assert response.json() == {"detail": detail}
            assert response.headers["www-authenticate"].startswith('Bearer realm="dummy-bank-api"')
    assert snapshot(locked, **WITH_KEY) == before


@pytest.mark.parametrize(
    "headers",
    [WITH_KEY, {"Authorization": f"Bearer {KEY}"}, {"authorization": f"bearer {KEY}"}],
    ids=["x-api-key", "bearer", "bearer-lowercase"],
)
def test_every_operation_succeeds_with_the_key(locked: TestClient, headers: dict[str, str]) -> None:
    for method, url, body in every_operation(locked, **headers):
        response = locked.request(method, url, json=body, headers=headers)
        assert response.status_code < 300, (method, url, response.text)
    assert locked.get(f"/customer/{DELETED}/exists", headers=headers).json()["exists"] is False


def test_a_wrong_key_is_told_apart_from_a_missing_one(locked: TestClient) -> None:
    wrong = locked.get("/customers", headers={"X-API-Key": "nope"})
    missing = locked.get("/customers")
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert "error=" not in missing.headers["www-authenticate"]


@pytest.mark.parametrize("path", PUBLIC)
def test_health_and_docs_stay_open(locked: TestClient, path: str) -> None:
    assert locked.get(path).status_code == 200


def test_the_docs_assets_stay_open(locked: TestClient) -> None:
    page = locked.get("/docs").text
    assets = [part.split('"')[0] for part in page.split('src="')[1:]]
    assert assets and all(locked.get(asset).status_code == 200 for asset in assets)


def test_a_kept_answer_is_not_given_without_the_key(locked: TestClient) -> None:
    url = f"/user-portfolio/{OWNER}"
    assert locked.get(url, headers=WITH_KEY).status_code == 200
    assert locked.get(url, headers=WITH_KEY).status_code == 200  # now answered from memory
    assert locked.get(url).status_code == 401


def test_an_oversized_body_without_the_key_is_401(locked: TestClient) -> None:
    response = locked.post("/register-customer", content=b"x" * 2_000_000)
    assert response.status_code == 401


def test_openapi_declares_both_ways_to_send_the_key(locked: TestClient) -> None:
    schema = locked.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"] == {
        "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "HTTPBearer": {"type": "http", "scheme": "bearer"},
    }
    assert schema["security"] == [{"APIKeyHeader": []}, {"HTTPBearer": []}]
    for path, item in schema["paths"].items():
        for operation in item.values():
            if path == "/health":
                assert operation["security"] == [] and "401" not in operation["responses"]
            else:
                assert "401" in operation["responses"], path


def test_without_a_key_the_bank_is_open_and_declares_no_scheme(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "securitySchemes" not in schema["components"] and "security" not in schema
    assert all(
        "401" not in operation["responses"] and "403" not in operation["responses"]
        for item in schema["paths"].values()
        for operation in item.values()
    )
    assert client.get("/customers").status_code == 200


def test_an_empty_key_setting_means_no_key(app_client: Callable[..., TestClient]) -> None:
    client = app_client(BANK_API_KEY="")
    assert client.get("/customers").status_code == 200


def test_a_401_is_readable_by_an_allowed_origin(locked: TestClient) -> None:
    origin = {"Origin": "http://localhost:3000"}
    response = locked.get("/customers", headers=origin)
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == "http://localhost:3000"
    preflight = locked.options(
        "/customers",
        headers={
            **origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-api-key",
        },
    )
    assert preflight.status_code == 200
    assert "x-api-key" in preflight.headers["access-control-allow-headers"].lower()


# --- Read-only mode over HTTP -------------------------------------------------------------


def test_read_only_refuses_every_write_and_changes_nothing(read_only: TestClient) -> None:
    writes = [op for op in every_operation(read_only) if op[0] != "GET"]
    before = snapshot(read_only)
    assert {method for method, _, _ in writes} == {"POST", "PUT", "PATCH", "DELETE"}
    assert len(writes) == 24
    for method, url, body in writes:
        response = read_only.request(method, url, json=body)
        assert response.status_code == 403, (method, url)
        assert response.json() == {"detail": READ_ONLY_REFUSAL}
    assert snapshot(read_only) == before


def test_read_only_leaves_a_method_a_path_lacks_to_the_router(read_only: TestClient) -> None:
    response = read_only.put("/customers")
    assert (response.status_code, response.headers["allow"]) == (405, "GET")


def test_read_only_still_answers_every_read(read_only: TestClient) -> None:
    for method, url, _ in every_operation(read_only):
        if method == "GET":
            assert read_only.get(url).status_code == 200, url


def test_read_only_documents_403_on_writes_only(read_only: TestClient) -> None:
    for item in read_only.get("/openapi.json").json()["paths"].values():
        for method, operation in item.items():
            assert ("403" in operation["responses"]) == (method != "get")


def test_key_and_read_only_together_ask_for_the_key_first(
    app_client: Callable[..., TestClient],
) -> None:
    client = app_client(BANK_API_KEY=KEY, BANK_READ_ONLY=True)
    assert client.delete(f"/customer/{OWNER}").status_code == 401
    assert client.delete(f"/customer/{OWNER}", headers=WITH_KEY).status_code == 403
    assert client.get(f"/customer/{OWNER}/exists", headers=WITH_KEY).json()["exists"]


# --- CORS ---------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str) -> httpx2.Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": "DELETE"}
    return client.options("/customers", headers=headers)


def test_cors_allows_the_local_dev_ports_by_default(client: TestClient) -> None:
    allowed = preflight(client, "http://localhost:3000")
    assert allowed.headers["access-control-allow-origin"] == "http://localhost:3000"
    refused = preflight(client, "https://evil.example")
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


def test_cors_origins_replace_the_defaults(app_client: Callable[..., TestClient]) -> None:
    client = app_client(CORS_ORIGINS="https://app.example")
    allowed = preflight(client, "https://app.example")
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in preflight(client, "http://localhost:3000").headers


def test_a_wildcard_origin_never_comes_with_credentials(
    app_client: Callable[..., TestClient],
) -> None:
    client = app_client(CORS_ORIGINS="*")
    response = client.get("/health", headers={"Origin": "https://anywhere.example"})
    assert response.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in response.headers


# --- MCP ------------------------------------------------------------------------------------


@pytest.fixture
def locked_server(backend: str, shared: Shared) -> LiveServer:
    return shared.server(backend, {"BANK_API_KEY": KEY})


@pytest.fixture
def read_only_server(backend: str, shared: Shared) -> LiveServer:
    return shared.server(backend, {"BANK_READ_ONLY": "1"})


def mcp_client(server: LiveServer, headers: dict[str, str]) -> Client:
    http = httpx2.AsyncClient(headers=headers)
    return Client(streamable_http_client(f"{server.base_url}/mcp", http_client=http))


@pytest.mark.anyio
async def test_mcp_over_http_needs_the_key(locked_server: LiveServer) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    accept = {"Accept": "application/json, text/event-stream"}
    for headers in [{}, {"X-API-Key": "wrong"}]:
        response = httpx.post(
            f"{locked_server.base_url}/mcp", json=initialize, headers={**accept, **headers}
        )
        assert response.status_code == 401
        assert "detail" in response.json() and "www-authenticate" in response.headers
    for headers in [WITH_KEY, {"Authorization": f"Bearer {KEY}"}]:
        async with mcp_client(locked_server, headers) as mcp:
            assert {tool.name for tool in (await mcp.list_tools()).tools} == MCP_TOOLS
            result = await mcp.call_tool("get_portfolio", {"customer_oid": OWNER})
            assert not result.is_error


@pytest.mark.anyio
async def test_mcp_over_http_in_read_only_offers_no_write_tools(
    read_only_server: LiveServer,
) -> None:
    async with mcp_client(read_only_server, {}) as mcp:
        assert {tool.name for tool in (await mcp.list_tools()).tools} == READ_TOOLS
        result = await mcp.call_tool("delete_customer", {"customer_oid": OWNER})
        assert result.is_error
        portfolio = await mcp.call_tool("get_portfolio", {"customer_oid": OWNER})
        assert not portfolio.is_error
    exists = httpx.get(f"{read_only_server.base_url}/customer/{OWNER}/exists").json()
    assert exists["exists"] is True


@pytest.mark.anyio
async def test_stdio_needs_no_key_and_honours_read_only(database_url: str) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["mcp_server.py"],
        cwd=PROJECT_DIR,
        env={"DATABASE_URL": database_url, "BANK_API_KEY": KEY, "BANK_READ_ONLY": "1"},
    )
    async with Client(params) as mcp:
        assert {tool.name for tool in (await mcp.list_tools()).tools} == READ_TOOLS
        result = await mcp.call_tool("customer_exists", {"customer_oid": OWNER})
        assert not result.is_error
