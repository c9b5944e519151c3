"""The real server under accident: SIGKILL mid-write, SIGTERM mid-request, deletes racing reads."""

import asyncio
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fixtures import SAMPLE_OIDS, LiveServer, accounts_by_place

KILL_ROUNDS = 1  # one kill in the middle of eight writers; each round costs about 5 s
# Deletes each raced by four readers, about 0.2 s each. A portfolio is read in one snapshot, so a
# half read is a bug in how it is read, not bad luck: each round has four chances to show it.
READ_RACE_ROUNDS = 10
WRITERS = 8
LISTS = ("assets", "bank_accounts", "transactions", "spending", "derivative_transactions")


def sqlite_path(database_url: str) -> Path | None:
    return (
        Path(database_url.removeprefix("sqlite:///")) if database_url.startswith("sqlite") else None
    )


def integrity(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        result: str = connection.execute("PRAGMA integrity_check").fetchone()[0]
    return result


class Writers:
    """Threads that register customers and import portfolios until the server goes away,
    keeping what the server acknowledged."""

    def __init__(self, base_url: str, document: dict[str, Any]) -> None:
        self.base_url = base_url
        self.document = document
        self.registered: list[str] = []
        self.imported: list[str] = []
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.write, daemon=True) for _ in range(WRITERS)]

    def write(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=10) as http:
            while True:
                oid = str(uuid.uuid4())
                try:
                    registered = http.post(
                        "/register-customer", json={"name": "Kept", "customer_oid": oid}
                    )
                    if registered.status_code == 200:
                        with self.lock:
                            self.registered.append(oid)
                    imported = http.put(f"/user-portfolio/{uuid.uuid4()}", json=self.document)
                    if imported.status_code == 201:
                        with self.lock:
                            self.imported.append(imported.json()["customer_oid"])
                except httpx.TransportError:
                    return  # the server is gone: nothing more is acknowledged

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=30)
            assert not thread.is_alive()


def a_document(base_url: str) -> dict[str, Any]:
    """A sample's portfolio with its newest 40 transactions: a document to write over and
    over (the races, not the size, are the point here)."""
    document: dict[str, Any] = httpx.get(f"{base_url}/user-portfolio/{SAMPLE_OIDS[1]}").json()
    return {**document, "transactions": document["transactions"][:40]}


def without_keys(portfolio: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The portfolio's items without what names the rows and their owner."""
    placed = {**portfolio, "transactions": accounts_by_place(portfolio)}
    return {
        name: [{**item, "id": 0, "customer_oid": ""} for item in placed[name]] for name in LISTS
    }


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_every_acknowledged_write_survives_sigkill(own_live_server: LiveServer) -> None:
    live_server = own_live_server
    document = a_document(live_server.base_url)
    registered: list[str] = []
    imported: list[str] = []
    for _ in range(KILL_ROUNDS):
        writers = Writers(live_server.base_url, document)
        writers.start()
        time.sleep(1.0)
        assert live_server.process is not None
        live_server.process.send_signal(signal.SIGKILL)  # no shutdown, no checkpoint
        live_server.process.wait(timeout=10)
        writers.join()
        assert writers.registered and writers.imported, "the writers never got going"
        registered += writers.registered
        imported += writers.imported
        live_server.start()
    with httpx.Client(base_url=live_server.base_url, timeout=10) as http:
        lost = [
            oid for oid in registered if not http.get(f"/customer/{oid}/exists").json()["exists"]
        ]
        expected = without_keys(document)
        broken = [
            oid
            for oid in imported
            if without_keys(http.get(f"/user-portfolio/{oid}").json()) != expected
        ]
    print(
        f"{KILL_ROUNDS} SIGKILL rounds: {len(registered)} registrations and {len(imported)} "
        f"imports acknowledged, {len(lost)} + {len(broken)} lost"
    )
    assert lost == [] and broken == []
    path = sqlite_path(live_server.database_url)
    if path is not None:
        live_server.stop()
        assert integrity(path) == "ok"


def test_sigterm_lets_a_request_in_flight_finish(own_live_server: LiveServer) -> None:
    live_server = own_live_server
    oid = str(uuid.uuid4())
    body = f'{{"name": "In flight", "customer_oid": "{oid}"}}'.encode()
    head = (
        f"POST /register-customer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    assert live_server.process is not None
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=20) as sock:
        sock.sendall(head + body[:10])  # the request has begun; its body is still coming
        time.sleep(0.5)
        live_server.process.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert live_server.process.poll() is None, "the server quit with a request in flight"
        sock.sendall(body[10:])
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer
    assert oid.encode() in answer
    # uvicorn, once shut down, re-raises the signal: the exit status says SIGTERM ended it.
    assert live_server.process.wait(timeout=20) in (0, -signal.SIGTERM)
    path = sqlite_path(live_server.database_url)
    if path is not None:  # the database was closed cleanly: checkpointed, no WAL left behind
        assert not path.with_name(path.name + "-wal").exists()
        assert integrity(path) == "ok"
    live_server.start()
    exists = httpx.get(f"{live_server.base_url}/customer/{oid}/exists").json()
    assert exists["exists"] is True


@pytest.mark.timeout(180)
def test_a_portfolio_read_racing_its_delete_is_whole_or_404(live_server: LiveServer) -> None:
    base = live_server.base_url
    document = a_document(base)
    expected = without_keys(document)
    seen: dict[str, int] = {"whole": 0, "404": 0}
    half: list[Any] = []

    def read(oid: str, stop: threading.Event, read_once: threading.Event) -> None:
        with httpx.Client(base_url=base, timeout=10) as http:
            while not stop.is_set():
                response = http.get(f"/user-portfolio/{oid}")
                if response.status_code == 404:
                    seen["404"] += 1
                    return
                if without_keys(response.json()) == expected:
                    seen["whole"] += 1
                    read_once.set()
                else:
                    half.append(response.json())
                    return

    with httpx.Client(base_url=base, timeout=10) as http:
        for _ in range(READ_RACE_ROUNDS):
            oid = str(uuid.uuid4())
            assert http.put(f"/user-portfolio/{oid}", json=document).status_code == 201
            stop, read_once = threading.Event(), threading.Event()
            readers = [threading.Thread(target=read, args=(oid, stop, read_once)) for _ in range(4)]
            for reader in readers:
                reader.start()
            # The delete goes in while the readers read: after one of them has read the
            # document whole (however slow the machine), the others still reading.
            read_once.wait(timeout=10)
            assert http.delete(f"/customer/{oid}").status_code == 200
            time.sleep(0.05)
            stop.set()
            for reader in readers:
                reader.join(timeout=20)
    assert half == []
    assert seen["whole"] > 0 and seen["404"] > 0, seen


async def put_and_delete_together(
    base: str, document: dict[str, Any], oids: list[str]
) -> list[tuple[int, int]]:
    """PUT each customer's portfolio and DELETE the customer at the same moment."""
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        pairs = [
            asyncio.gather(
                http.put(f"/user-portfolio/{oid}", json=document), http.delete(f"/customer/{oid}")
            )
            for oid in oids
        ]
        results = await asyncio.gather(*pairs)
    return [(put.status_code, delete.status_code) for put, delete in results]


@pytest.mark.timeout(180)
def test_a_portfolio_import_racing_the_customers_delete_is_200_201_or_404(
    live_server: LiveServer,
) -> None:
    base = live_server.base_url
    document = a_document(base)
    expected = without_keys(document)
    oids = [str(uuid.uuid4()) for _ in range(8)]
    statuses: Counter[tuple[int, int]] = Counter()
    with httpx.Client(base_url=base, timeout=60) as http:
        for _ in range(4):
            # Half of the customers exist before the round, half do not.
            for oid in oids[::2]:
                http.put(f"/user-portfolio/{oid}", json=document)
            statuses.update(asyncio.run(put_and_delete_together(base, document, oids)))
            for oid in oids:
                response = http.get(f"/user-portfolio/{oid}")
                assert response.status_code in {200, 404}
                if response.status_code == 200:
                    assert without_keys(response.json()) == expected
    assert {put for put, _ in statuses} <= {200, 201, 404}, statuses
    assert {delete for _, delete in statuses} <= {200, 404}, statuses
    assert b"Unhandled error" not in live_server.log_path.read_bytes()
