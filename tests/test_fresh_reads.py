"""No read ever serves stale data: after any write, by any route, every worker shows it."""

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp import Client

from settings import PROJECT_DIR
from tests.conftest import SAMPLE_OIDS, free_port, run_python

READS = 30  # enough that both workers answer some of them


@pytest.fixture
def two_workers(database_url: str, tmp_path: Path) -> Iterator[str]:
    """The app under uvicorn with two worker processes, on `database_url`."""
    run_python(database_url, "seed.py")  # migrate and seed before the workers race to
    port = free_port()
    log = (tmp_path / "workers.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port), "--workers", "2"],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "warning"},
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def every_read(url: str) -> list[httpx.Response]:
    # A new connection each time, so the two workers share the reads.
    return [httpx.get(url, headers={"Connection": "close"}) for _ in range(READS)]


def test_writes_over_rest_show_on_every_worker(two_workers: str) -> None:
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


def test_writes_over_mcp_show_on_every_worker(two_workers: str) -> None:
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


def test_a_reset_by_script_shows_on_every_worker(two_workers: str, database_url: str) -> None:
    oid = SAMPLE_OIDS[0]
    original = httpx.get(f"{two_workers}/user-portfolio/{oid}").json()
    account_url = f"{two_workers}/customer/{oid}/bank-accounts/{original['bank_accounts'][0]['id']}"
    assert httpx.patch(account_url, json={"balance": 1.23}).status_code == 200
    every_read(f"{two_workers}/user-portfolio/{oid}")  # both workers keep the changed answer
    result = run_python(database_url, "reset_database.py")
    assert result.returncode == 0, result.stderr
    for response in every_read(f"{two_workers}/user-portfolio/{oid}"):
        assert response.json() == original


def test_writes_by_seed_script_show_on_every_worker(two_workers: str, database_url: str) -> None:
    every_read(f"{two_workers}/customers")
    result = run_python(database_url, "seed.py", "--customers", "3", "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert {len(r.json()) for r in every_read(f"{two_workers}/customers")} == {8}
