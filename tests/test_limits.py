"""Request bodies over MAX_BODY_BYTES are refused with 413 before they are read whole."""

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fixtures import NEW_OID, SAMPLE_OIDS, LiveServer, on_sqlite_only

LIMIT = 400
TOO_LARGE = {"detail": "Request body too large: the limit is 400 bytes"}


@pytest.fixture
def small_limit_client(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(MAX_BODY_BYTES=LIMIT)


def padded_registration(size: int) -> bytes:
    """A valid registration whose JSON is exactly `size` bytes, padded with spaces."""
    body = json.dumps({"customer_oid": NEW_OID, "name": "Big Body"}).encode()
    return body + b" " * (size - len(body))


def test_a_body_over_the_limit_is_413_and_changes_nothing(small_limit_client: TestClient) -> None:
    response = small_limit_client.post(
        "/register-customer",
        content=padded_registration(LIMIT + 1),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert small_limit_client.get(f"/customer/{NEW_OID}/exists").json()["exists"] is False


def test_a_body_at_the_limit_is_read(small_limit_client: TestClient) -> None:
    response = small_limit_client.post(
        "/register-customer",
        content=padded_registration(LIMIT),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 200, response.text


def test_a_streamed_body_without_length_is_cut_off_at_the_limit(
    small_limit_client: TestClient,
) -> None:
    chunks_sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal chunks_sent
        for chunk in (padded_registration(LIMIT - 100), *[b" " * 100] * 50):
            chunks_sent += 1
            yield chunk

    oid = SAMPLE_OIDS[0]
    before = small_limit_client.get(f"/user-portfolio/{oid}").json()
    response = small_limit_client.put(
        f"/user-portfolio/{oid}", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == TOO_LARGE
    assert small_limit_client.get(f"/user-portfolio/{oid}").json() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/register-customer"),
        ("PUT", f"/user-portfolio/{SAMPLE_OIDS[0]}"),
        ("POST", f"/customer/{SAMPLE_OIDS[0]}/assets"),
        ("PATCH", f"/customer/{SAMPLE_OIDS[0]}/assets/1"),
        ("POST", "/mcp"),
    ],
)
def test_every_body_taking_route_has_the_limit(
    small_limit_client: TestClient, method: str, path: str
) -> None:
    response = small_limit_client.request(
        method,
        path,
        content=b"{" + b" " * LIMIT + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


def test_a_streamed_mcp_request_is_cut_off_too(small_limit_client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"x": "'
        yield from [b"y" * 100] * 20
        yield b'"}}'

    response = small_limit_client.post(
        "/mcp",
        content=chunks(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
    )
    assert (response.status_code, response.json()) == (413, TOO_LARGE)


@on_sqlite_only
def test_the_openapi_document_lists_413_for_body_taking_routes(client: TestClient) -> None:
    paths: dict[str, Any] = client.get("/openapi.json").json()["paths"]
    with_body = [
        (path, method)
        for path, item in paths.items()
        for method, operation in item.items()
        if "requestBody" in operation
    ]
    assert with_body
    for path, method in with_body:
        assert "413" in paths[path][method]["responses"], (method, path)


def test_the_real_server_refuses_two_mebibytes_by_default(live_server: LiveServer) -> None:
    document = {"user": {"name": "Far Too Big"}, "assets": [], "padding": "x" * 2 * 2**20}
    response = httpx.put(
        f"{live_server.base_url}/user-portfolio/{NEW_OID}", json=document, timeout=30
    )
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body too large: the limit is 1,048,576 bytes"}
    assert httpx.get(f"{live_server.base_url}/customer/{NEW_OID}/exists").json()["exists"] is False
