"""Webhooks: endpoints, events, Standard Webhooks signatures, retries, and the outbox."""

import base64
import hashlib
import hmac
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from standardwebhooks import Webhook

from constants import NOT_A_WEBHOOK_URL
from settings import PROJECT_DIR
from tests.fixtures import (
    NEW_OID,
    SAMPLE_OIDS,
    LiveServer,
    Received,
    Receiver,
    free_port,
    on_sqlite_only,
    receiving,
    running,
)

EVENTS = ["transactions.updated", "clock.advanced", "customer.created", "customer.deleted"]
# Retries within the test's patience: 0.05 s, then 0.1 s (each with jitter), three attempts.
QUICK_RETRIES = {
    "WEBHOOK_RETRY_BASE_SECONDS": 0.05,
    "WEBHOOK_MAX_ATTEMPTS": 3,
    "WEBHOOK_TIMEOUT_SECONDS": 2,
}
ADDED_ONE = {"added": 1, "modified": 0, "removed": 0}
MODIFIED_ONE = {"added": 0, "modified": 1, "removed": 0}
SPENT = {"date": "2026-11-01", "amount": -5, "description": "Coffee", "category": "dining",
         "type": "payment"}  # fmt: skip


@pytest.fixture
def hooks(app_client: Callable[..., TestClient]) -> TestClient:
    """The app with quick retries, on freshly seeded data, its dispatcher running."""
    return app_client(**QUICK_RETRIES)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as receiver:
        yield receiver


def subscribe(client: TestClient | httpx.Client, url: str, events: list[str]) -> dict[str, Any]:
    response = client.post("/webhooks", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def verified(received: Received, secret: str) -> dict[str, Any]:
    """The payload, once the spec's library and an HMAC of our own both accept the signature."""
    payload: dict[str, Any] = Webhook(secret).verify(received.body, received.headers)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}."
    digest = hmac.new(key, signed.encode() + received.body, hashlib.sha256).digest()
    assert received.headers["webhook-signature"] == "v1," + base64.b64encode(digest).decode()
    return payload


def deliveries(client: TestClient | httpx.Client, webhook_id: int) -> list[dict[str, Any]]:
    response = client.get(f"/webhooks/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    listed: list[dict[str, Any]] = response.json()
    return listed


def settled(
    client: TestClient | httpx.Client, webhook_id: int, count: int, timeout: float = 20
) -> list[dict[str, Any]]:
    """The endpoint's deliveries once `count` of them are delivered or failed."""
    deadline = time.monotonic() + timeout
    while True:
        listed = deliveries(client, webhook_id)
        if sum(d["status"] != "pending" for d in listed) >= count:
            return listed
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)


def test_an_endpoint_is_created_listed_and_deleted(client: TestClient) -> None:
    created = subscribe(client, "http://localhost:8000/hooks", ["customer.created"])
    assert created["secret"].startswith("whsec_")
    assert len(base64.b64decode(created["secret"].removeprefix("whsec_"))) == 24
    public = {key: created[key] for key in ("id", "url", "events", "created_at")}
    assert client.get("/webhooks").json() == [public]
    assert client.get(f"/webhooks/{created['id']}").json() == public
    assert client.get(f"/webhooks/{created['id']}/deliveries").json() == []

    assert client.delete(f"/webhooks/{created['id']}").status_code == 204
    assert client.get("/webhooks").json() == []
    for method, path in [
        ("GET", ""),
        ("DELETE", ""),
        ("GET", "/deliveries"),
        ("POST", "/test"),
    ]:
        response = client.request(method, f"/webhooks/{created['id']}{path}")
        assert response.status_code == 404
        assert response.json() == {
            "detail": f"Webhook {created['id']} not found (see GET /webhooks)"
        }


@on_sqlite_only
@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://localhost/hooks", "events": ["customer.created"]},
        {"url": "http://", "events": ["customer.created"]},
        {"url": "localhost:8000", "events": ["customer.created"]},
        {"url": "http://:8000/hooks", "events": ["customer.created"]},  # no host
        {"url": "http://localhost:99999/hooks", "events": ["customer.created"]},
        {"url": "http://localhost:8000/hooks", "events": []},
        {"url": "http://localhost:8000/hooks", "events": ["customer.updated"]},
        {"url": "http://localhost:8000/hooks", "events": ["customer.created"], "secret": "x"},
        {"url": "http://localhost:8000/hooks"},
    ],
)
def test_a_bad_endpoint_is_400_and_changes_nothing(
    client: TestClient, body: dict[str, Any]
) -> None:
    response = client.post("/webhooks", json=body)
    assert response.status_code == 400
    detail = response.json()["detail"]
    if "url" in body and not body["url"].startswith("http://localhost:8000"):
        assert detail == "url: " + NOT_A_WEBHOOK_URL  # in words, not a pattern
    assert client.get("/webhooks").json() == []


def test_events_arrive_signed_to_the_standard_webhooks_spec(
    hooks: TestClient, receiver: Receiver
) -> None:
    everything = subscribe(hooks, receiver.url, EVENTS)
    registered = hooks.post("/register-customer", json={"name": "Ada", "customer_oid": NEW_OID})
    assert registered.status_code == 200
    made = hooks.post(f"/customer/{NEW_OID}/transactions", json=SPENT).json()
    hooks.patch(f"/customer/{NEW_OID}/transactions/{made['id']}", json={"amount": -6})
    assert hooks.delete(f"/customer/{NEW_OID}").status_code == 200

    arrived = receiver.wait_for(4)
    # Sent side by side, so in any order (as the specification allows): by event id here.
    got = {r.headers["webhook-id"]: verified(r, everything["secret"]) for r in arrived}
    listed = settled(hooks, everything["id"], 4)  # newest first
    assert [(got[d["event_id"]]["type"], got[d["event_id"]]["data"]) for d in listed[::-1]] == [
        ("customer.created", {"customer_oid": NEW_OID, "name": "Ada"}),
        ("transactions.updated", {"customer_oid": NEW_OID, **ADDED_ONE}),
        ("transactions.updated", {"customer_oid": NEW_OID, **MODIFIED_ONE}),
        # Its transactions' removal is the deletion's: no transactions.updated for it.
        ("customer.deleted", {"customer_oid": NEW_OID}),
    ]  # fmt: skip
    assert all(d["event_type"] == got[d["event_id"]]["type"] for d in listed)
    assert len(got) == 4 and all(event_id.startswith("msg_") for event_id in got)
    assert all(r.headers["content-type"] == "application/json" for r in arrived)
    assert all(abs(int(r.headers["webhook-timestamp"]) - time.time()) < 60 for r in arrived)
    assert all(
        d["status"] == "delivered" and d["attempts"] == 1 and d["last_status_code"] == 200
        and d["last_error"] is None and d["next_attempt_at"] is None and d["delivered_at"]
        for d in listed
    )  # fmt: skip


def test_an_endpoint_gets_only_the_events_it_subscribed_to(
    hooks: TestClient, receiver: Receiver
) -> None:
    deleted_only = subscribe(hooks, receiver.url, ["customer.deleted"])
    imported = hooks.get(f"/user-portfolio/{SAMPLE_OIDS[1]}").json()
    assert hooks.put(f"/user-portfolio/{NEW_OID}", json=imported).status_code == 201
    assert hooks.delete(f"/customer/{SAMPLE_OIDS[0]}").status_code == 200

    (got,) = receiver.wait_for(1)
    assert verified(got, deleted_only["secret"])["data"] == {"customer_oid": SAMPLE_OIDS[0]}
    time.sleep(0.3)  # time for anything else to have come
    assert len(receiver.received) == 1


def test_an_import_announces_the_customer_and_their_transactions(
    hooks: TestClient, receiver: Receiver
) -> None:
    subscribe(hooks, receiver.url, ["customer.created", "transactions.updated"])
    imported = hooks.get(f"/user-portfolio/{SAMPLE_OIDS[1]}").json()
    assert hooks.put(f"/user-portfolio/{NEW_OID}", json=imported).status_code == 201
    got = {r.json()["type"]: r.json()["data"] for r in receiver.wait_for(2)}
    assert got["customer.created"] == {"customer_oid": NEW_OID, "name": imported["user"]["name"]}
    assert got["transactions.updated"] == {
        "customer_oid": NEW_OID,
        "added": len(imported["transactions"]),
        "modified": 0,
        "removed": 0,
    }


@on_sqlite_only
def test_a_failed_delivery_is_retried_with_backoff_under_the_same_id(
    hooks: TestClient, receiver: Receiver
) -> None:
    receiver.statuses = [500, 503]
    created = subscribe(hooks, receiver.url, ["clock.advanced"])
    queued = hooks.post(f"/webhooks/{created['id']}/test")
    assert queued.status_code == 202
    assert queued.json()["status"] == "pending" and queued.json()["event_type"] == "webhook.test"

    tries = receiver.wait_for(3)
    assert len({r.headers["webhook-id"] for r in tries}) == 1
    assert all(
        verified(r, created["secret"])["data"] == {"webhook_id": created["id"]} for r in tries
    )
    # Each wait at least half the doubled delay (jitter takes up to half away).
    assert tries[1].at - tries[0].at >= 0.025
    assert tries[2].at - tries[1].at >= 0.05
    (delivery,) = settled(hooks, created["id"], 1)
    assert delivery["id"] == queued.json()["id"]
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert delivery["last_status_code"] == 200 and delivery["last_error"] is None


@on_sqlite_only
def test_a_delivery_fails_for_good_once_its_attempts_are_spent(
    hooks: TestClient, receiver: Receiver
) -> None:
    receiver.statuses = [500] * 10
    answering = subscribe(hooks, receiver.url, ["customer.created"])
    refused = subscribe(hooks, f"http://127.0.0.1:{free_port()}/hooks", ["customer.created"])
    hooks.post("/register-customer", json={"name": "Ada"})

    assert len(receiver.wait_for(3)) == 3
    (failed,) = settled(hooks, answering["id"], 1)
    assert failed["status"] == "failed" and failed["attempts"] == 3
    assert failed["last_status_code"] == 500 and failed["next_attempt_at"] is None
    assert failed["last_error"] == "The receiver answered HTTP 500"
    (unreachable,) = settled(hooks, refused["id"], 1)
    assert unreachable["status"] == "failed" and unreachable["attempts"] == 3
    assert unreachable["last_error"] == "Could not connect to the receiver"
    assert unreachable["last_status_code"] is None
    time.sleep(0.3)
    assert len(receiver.received) == 3


@on_sqlite_only
def test_a_delivery_never_holds_up_the_request_that_caused_it(
    hooks: TestClient, receiver: Receiver
) -> None:
    receiver.hold = threading.Event()  # the receiver keeps every delivery waiting, unanswered
    subscribe(hooks, receiver.url, ["customer.created", "customer.deleted"])
    started = time.monotonic()
    registered = hooks.post("/register-customer", json={"name": "Ada", "customer_oid": NEW_OID})
    answered = time.monotonic() - started
    assert registered.status_code == 200
    # Sent inside the request, it would have waited for the receiver's answer, or for the
    # sender's timeout (2 s) before giving up on it.
    assert answered < QUICK_RETRIES["WEBHOOK_TIMEOUT_SECONDS"] / 2
    receiver.wait_for(1)  # being delivered now, and still unanswered
    assert hooks.delete(f"/customer/{NEW_OID}").status_code == 200
    receiver.wait_for(2)
    receiver.hold.set()


@on_sqlite_only
def test_a_deleted_endpoint_gets_nothing_more(hooks: TestClient, receiver: Receiver) -> None:
    receiver.statuses = [500] * 10
    created = subscribe(hooks, receiver.url, ["customer.created"])
    hooks.post("/register-customer", json={"name": "Ada"})
    receiver.wait_for(1)
    assert hooks.delete(f"/webhooks/{created['id']}").status_code == 204
    time.sleep(0.5)  # the retries' time, 0.05 s and 0.1 s
    assert len(receiver.received) <= 2  # at most the one in flight at the deletion


def test_advancing_the_clock_announces_each_changed_customer_once(
    hooks: TestClient, receiver: Receiver
) -> None:
    subscribed = subscribe(hooks, receiver.url, ["transactions.updated", "clock.advanced"])
    cursors = {oid: synced(hooks, oid, None)[1] for oid in SAMPLE_OIDS}
    advanced = hooks.post("/sandbox/clock/advance", json={"days": 30}).json()

    got = [verified(r, subscribed["secret"]) for r in receiver.wait_for(6)]
    time.sleep(0.3)  # time for a second announcement of anyone to have come
    assert len(receiver.received) == 6
    updated = {
        p["data"]["customer_oid"]: p["data"] for p in got if p["type"] == "transactions.updated"
    }
    assert len(updated) == len(got) - 1 == len(SAMPLE_OIDS)
    (clock,) = [p for p in got if p["type"] == "clock.advanced"]
    assert clock["data"] == advanced
    for oid, cursor in cursors.items():
        added, _ = synced(hooks, oid, cursor)  # what the customer's sync now brings
        assert updated[oid] == {"customer_oid": oid, "added": added, "modified": 0, "removed": 0}
    assert sum(u["added"] for u in updated.values()) == advanced["transactions_added"]


def synced(client: TestClient, oid: str, cursor: str | None) -> tuple[int, str]:
    """How many transactions a sync from `cursor` brings as added, and where it ends."""
    added = 0
    while True:
        params: dict[str, Any] = {"count": 500} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/customer/{oid}/transactions/sync", params=params).json()
        assert page["modified"] == page["removed"] == []
        added += len(page["added"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return added, page["next_cursor"]


@on_sqlite_only  # what is stored survives on either engine: the outbox is rows like any other
def test_events_waiting_when_the_server_is_killed_are_delivered_after_its_restart(
    database_url: str, tmp_path: Path
) -> None:
    port = free_port()  # the receiver's, down for now
    env = {"WEBHOOK_RETRY_BASE_SECONDS": "0.2", "WEBHOOK_RETRY_MAX_SECONDS": "0.5"}
    server = LiveServer(database_url, tmp_path / "server.log", env)
    with running(server):
        http = httpx.Client(base_url=server.base_url)
        created = subscribe(http, f"http://127.0.0.1:{port}/hooks", ["customer.created"])
        http.post("/register-customer", json={"name": "Ada", "customer_oid": NEW_OID})
        (waiting,) = settled_attempts(http, created["id"], 1)
        assert waiting["status"] == "pending" and waiting["last_error"]
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait(10)
    with receiving(port) as receiver, running(server):
        (got,) = receiver.wait_for(1)
        assert got.headers["webhook-id"] == waiting["event_id"]
        assert verified(got, created["secret"])["data"] == {"customer_oid": NEW_OID, "name": "Ada"}
        (delivered,) = settled(httpx.Client(base_url=server.base_url), created["id"], 1)
        assert delivered["status"] == "delivered" and delivered["attempts"] >= 2


def settled_attempts(
    client: httpx.Client, webhook_id: int, attempts: int, timeout: float = 20
) -> list[dict[str, Any]]:
    """The endpoint's deliveries once one has made `attempts` attempts."""
    deadline = time.monotonic() + timeout
    while True:
        listed = deliveries(client, webhook_id)
        if any(d["attempts"] >= attempts for d in listed):
            return listed
        assert time.monotonic() < deadline, listed
        time.sleep(0.05)


@on_sqlite_only
def test_the_readmes_receiver_verifies_and_prints_each_event_once(
    hooks: TestClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    code = readme.split("<!-- receiver.py")[1].split("```python\n")[1].split("```")[0]
    port = free_port()
    created = subscribe(hooks, f"http://127.0.0.1:{port}/hooks", ["customer.created"])
    monkeypatch.setenv("WEBHOOK_SECRET", created["secret"])
    namespace: dict[str, Any] = {}
    exec(compile(code, str(tmp_path / "receiver.py"), "exec"), namespace)  # noqa: S102
    server = uvicorn.Server(uvicorn.Config(namespace["app"], port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        hooks.post("/register-customer", json={"name": "Ada", "customer_oid": NEW_OID})
        (delivery,) = settled(hooks, created["id"], 1)
        assert delivery["status"] == "delivered" and delivery["last_status_code"] == 204
        forged = httpx.post(
            f"http://127.0.0.1:{port}/hooks",
            content=b'{"type":"customer.created"}',
            headers={"webhook-id": "msg_x", "webhook-timestamp": str(int(time.time())),
                     "webhook-signature": "v1,AAAA"},
        )  # fmt: skip
        assert forged.status_code == 400
    finally:
        server.should_exit = True
        thread.join(10)
    printed = capsys.readouterr().out
    assert printed.count("customer.created") == 1
    assert f"'customer_oid': '{NEW_OID}'" in printed
