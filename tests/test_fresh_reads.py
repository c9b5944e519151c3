"""No read ever serves stale data: after any write, by any route, every worker shows it."""

import asyncio
import uuid

import httpx
import pytest
from mcp import Client

from tests.fixtures import SAMPLE_OIDS, LiveServer, Shared, run_python

READS = 30  # enough that both workers answer some of them


@pytest.fixture
def two_workers_server(backend: str, shared: Shared) -> LiveServer:
    """The app under uvicorn with two worker processes, on freshly seeded data."""
    return shared.server(backend, workers=2)


@pytest.fixture
def two_workers(two_workers_server: LiveServer) -> str:
    return two_workers_server.base_url


def every_read(url: str) -> list[httpx.Response]:
    # A new connection each time, so the two workers share the reads (one client: a new client
    # per request would cost more than the request).
    with httpx.Client(headers={"Connection": "close"}) as http:
        return [http.get(url) for _ in range(READS)]


def test_every_write_shows_on_every_worker(
    two_workers: str, two_workers_server: LiveServer
) -> None:
    """A reset by script, then writes over REST, over MCP and by seed.py, each read back from
    both workers. One test: a server of two workers takes seconds to start, and each process
    running tests starts its own."""
    a_reset_by_script_shows_on_every_worker(two_workers, two_workers_server)
    writes_over_rest_show_on_every_worker(two_workers)
    writes_over_mcp_show_on_every_worker(two_workers)
    writes_by_seed_script_show_on_every_worker(two_workers, two_workers_server)


def writes_over_rest_show_on_every_worker(two_workers: str) -> None:
    oid = SAMPLE_OIDS[0]
    before = httpx.get(f"{two_workers}/user-portfolio/{oid}").json()
    every_read(f"{two_workers}/user-portfolio/{oid}")  # warm whatever a worker might keep
    account = before["bank_accounts"][0]
    patched = httpx.patch(
        f"{two_workers}/customer/{oid}/bank-accounts/{account['id']}", json={"balance": 1.23}
    )
    assert patched.status_code == 200
    for response in every_read(f"{two_workers}/user-portfolio/{oid}"):
        assert response.json()["bank_accounts"][0]["balance"] == 1.23
    assert httpx.delete(f"{two_workers}/customer/{oid}").status_code == 200
    assert {r.status_code for r in every_read(f"{two_workers}/user-portfolio/{oid}")} == {404}


def writes_over_mcp_show_on_every_worker(two_workers: str) -> None:
    oid, deleted = str(uuid.uuid4()), SAMPLE_OIDS[1]
    every_read(f"{two_workers}/customers")
    every_read(f"{two_workers}/user-portfolio/{deleted}")

    async def register_and_delete() -> None:
        async with Client(f"{two_workers}/mcp") as mcp:
            registered = await mcp.call_tool(
                "register_customer", {"name": "Via MCP", "customer_oid": oid}
            )
            assert not registered.is_error
            assert not (await mcp.call_tool("delete_customer", {"customer_oid": deleted})).is_error

    asyncio.run(register_and_delete())
    for response in every_read(f"{two_workers}/customers"):
        listed = [customer["customer_oid"] for customer in response.json()]
        assert oid in listed and deleted not in listed
    assert {r.status_code for r in every_read(f"{two_workers}/user-portfolio/{deleted}")} == {404}


def a_reset_by_script_shows_on_every_worker(
    two_workers: str, two_workers_server: LiveServer
) -> None:
    oid = SAMPLE_OIDS[0]
    original = httpx.get(f"{two_workers}/user-portfolio/{oid}").json()
    account_url = f"{two_workers}/customer/{oid}/bank-accounts/{original['bank_accounts'][0]['id']}"
    assert httpx.patch(account_url, json={"balance": 1.23}).status_code == 200
    every_read(f"{two_workers}/user-portfolio/{oid}")  # both workers keep the changed answer
    result = run_python(two_workers_server.database_url, "reset_database.py")
    assert result.returncode == 0, result.stderr
    for response in every_read(f"{two_workers}/user-portfolio/{oid}"):
        assert response.json() == original


def writes_by_seed_script_show_on_every_worker(
    two_workers: str, two_workers_server: LiveServer
) -> None:
    before = {len(r.json()) for r in every_read(f"{two_workers}/customers")}
    assert len(before) == 1
    result = run_python(
        two_workers_server.database_url, "seed.py", "--customers", "3", "--seed", "5"
    )
    assert result.returncode == 0, result.stderr
    assert {len(r.json()) for r in every_read(f"{two_workers}/customers")} == {before.pop() + 3}
