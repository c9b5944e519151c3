"""SQLite writers wait their turn in the process instead of failing when the lock is busy."""

import asyncio
import copy
import uuid
from collections import Counter
from typing import Any

import httpx

from tests.fixtures import SAMPLE_OIDS, LiveServer, Shared, on_sqlite_only

# A queue that gives up at once: writers behind a large import are answered 503.
IMPATIENT = {"WRITE_QUEUE_TIMEOUT_SECONDS": "0.01"}

# A busy timeout far shorter than one import: without a queue in the process, writers that
# wait on SQLite's lock give up with "database is locked".
STORM = {"SQLITE_BUSY_TIMEOUT_MS": "50"}


def large_document(source: dict[str, Any], transactions: int) -> dict[str, Any]:
    document = copy.deepcopy(source)
    template = document["transactions"][0]
    document["transactions"] = [
        {**template, "description": f"Storm {n}"} for n in range(transactions)
    ]
    return document


async def storm(
    base_url: str, document: dict[str, Any], writers: int, *, deleters: int = 0, readers: int = 0
) -> dict[str, Counter[Any]]:
    """`writers` imports of `document` over three shared customers and as many registrations, with
    `deleters` deletes of the shared customers and `readers` reads of them, all at once. Statuses
    by kind; for reads answered 200, the transaction counts seen too."""
    shared = SAMPLE_OIDS[:3]
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        puts = [http.put(f"/user-portfolio/{shared[n % 3]}", json=document) for n in range(writers)]
        posts = [
            http.post("/register-customer", json={"name": f"Storm {n}"}) for n in range(writers)
        ]
        deletes = [http.delete(f"/customer/{shared[n % 3]}") for n in range(deleters)]
        reads = [http.get(f"/user-portfolio/{shared[n % 3]}") for n in range(readers)]
        kinds = {"put": puts, "post": posts, "delete": deletes, "read": reads}
        responses = await asyncio.gather(*puts, *posts, *deletes, *reads)
    results: dict[str, Counter[Any]] = {}
    position = 0
    for kind, requests in kinds.items():
        answered = responses[position : position + len(requests)]
        position += len(requests)
        results[kind] = Counter(response.status_code for response in answered)
        if kind == "read":
            results["transactions read"] = Counter(
                response.json()["portfolio_summary"]["total_transactions"]
                for response in answered
                if response.status_code == 200
            )
    return results


def server_and_large_document(
    shared: Shared, backend: str, env: dict[str, str]
) -> tuple[LiveServer, dict[str, Any]]:
    """A real server with `env`, and a copy of a sample portfolio with 600 transactions."""
    server = shared.server(backend, env)
    source = httpx.get(f"{server.base_url}/user-portfolio/{SAMPLE_OIDS[0]}").json()
    return server, large_document(source, transactions=600)


def test_a_storm_of_large_imports_deletes_and_reads_has_no_5xx_and_no_half_import(
    backend: str, shared: Shared
) -> None:
    """Imports, registrations, deletes and reads of the same customers at once. On SQLite under a
    busy timeout far shorter than one import: writers queue in the process instead."""
    server, document = server_and_large_document(shared, backend, STORM)
    before = {
        httpx.get(f"{server.base_url}/user-portfolio/{oid}").json()["portfolio_summary"][
            "total_transactions"
        ]
        for oid in SAMPLE_OIDS[:3]
    }
    results = asyncio.run(storm(server.base_url, document, writers=8, deleters=2, readers=6))
    assert set(results["put"]) <= {200, 201, 404}, results
    assert results["post"] == {200: 8}, results
    assert set(results["delete"]) <= {200, 404}, results
    assert set(results["read"]) <= {200, 404}, results
    # Every read saw a whole portfolio: as it was before, or one whole import.
    assert set(results["transactions read"]) <= before | {600}, results
    assert b"Unhandled error" not in server.log_path.read_bytes()


@on_sqlite_only
def test_concurrent_large_imports_all_succeed_under_a_short_busy_timeout(
    backend: str, shared: Shared
) -> None:
    server, document = server_and_large_document(shared, backend, STORM)
    results = asyncio.run(storm(server.base_url, document, writers=8))
    assert results["put"] == {200: 8} and results["post"] == {200: 8}, results
    stored = httpx.get(f"{server.base_url}/user-portfolio/{SAMPLE_OIDS[1]}").json()
    assert stored["portfolio_summary"]["total_transactions"] == 600
    assert b"Unhandled error" not in server.log_path.read_bytes()


@on_sqlite_only
def test_a_write_that_cannot_start_in_time_is_503_with_retry_after_and_changes_nothing(
    backend: str, shared: Shared
) -> None:
    server, document = server_and_large_document(shared, backend, IMPATIENT)
    oids = [str(uuid.uuid4()) for _ in range(12)]

    async def imports_and_registrations() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=120) as http:
            imports = [http.put(f"/user-portfolio/{oid}", json=document) for oid in SAMPLE_OIDS]
            registrations = [
                http.post("/register-customer", json={"name": "Queued", "customer_oid": oid})
                for oid in oids
            ]
            return list(await asyncio.gather(*imports, *registrations))

    responses = asyncio.run(imports_and_registrations())
    assert {response.status_code for response in responses} <= {200, 503}
    refused = [response for response in responses if response.status_code == 503]
    assert refused
    for response in refused:
        assert response.headers["Retry-After"] == "2"
        assert response.json() == {
            "detail": "The bank is busy with other writes: nothing was changed; "
            "retry after 2 seconds"
        }
    registered = {
        oid
        for oid, response in zip(oids, responses[5:], strict=True)
        if response.status_code == 200
    }
    listed = {
        customer["customer_oid"] for customer in httpx.get(f"{server.base_url}/customers").json()
    }
    assert listed == set(SAMPLE_OIDS) | registered
