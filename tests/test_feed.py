"""The change feed: GET /customer/{customer_oid}/transactions/sync, Plaid's semantics."""

import random
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from main import create_app
from settings import Settings
from tests.fixtures import NEW_OID, SAMPLE_OIDS, LiveServer, seed_here

OID = SAMPLE_OIDS[0]
SPENT = {"date": "2026-11-01", "amount": -5, "description": "Coffee", "category": "dining",
         "type": "payment"}  # fmt: skip


def sync(
    client: TestClient | httpx.Client, oid: str, cursor: str | None = None, count: int = 500
) -> dict[str, Any]:
    params: dict[str, Any] = {"count": count}
    if cursor is not None:
        params["cursor"] = cursor
    response = client.get(f"/customer/{oid}/transactions/sync", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def walk(
    client: TestClient | httpx.Client, oid: str, cursor: str | None = None, count: int = 500
) -> tuple[list[dict[str, Any]], str]:
    """Every page from `cursor` until has_more is false; the pages and the last next_cursor."""
    pages = []
    while True:
        page = sync(client, oid, cursor, count)
        pages.append(page)
        cursor = page["next_cursor"]
        if not page["has_more"]:
            return pages, cursor


def test_the_first_sync_gives_every_current_transaction_as_added(client: TestClient) -> None:
    pages, _ = walk(client, OID, count=200)
    assert len(pages) > 1
    added = [t for page in pages for t in page["added"]]
    assert all(page["modified"] == page["removed"] == [] for page in pages)
    listed = client.get(f"/customer/{OID}/transactions", params={"limit": 1000}).json()
    assert sorted(added, key=lambda t: t["id"]) == sorted(listed, key=lambda t: t["id"])


def test_later_syncs_give_each_change_once_as_it_is_now(client: TestClient) -> None:
    _, cursor = walk(client, OID)
    made = client.post(f"/customer/{OID}/transactions", json=SPENT).json()
    changed = client.patch(f"/customer/{OID}/transactions/{made['id']}", json={"amount": -6})
    oldest = client.get(f"/customer/{OID}/transactions", params={"limit": 1000}).json()[-1]
    assert client.delete(f"/customer/{OID}/transactions/{oldest['id']}").status_code == 204
    other = client.get(f"/customer/{OID}/transactions", params={"limit": 1}).json()[0]
    client.patch(f"/customer/{OID}/transactions/{other['id']}", json={"category": "coffee"})
    page = sync(client, OID, cursor)
    assert page["added"] == [changed.json()]
    assert page["modified"] == [{**other, "category": "coffee"}]
    assert page["removed"] == [{"id": oldest["id"]}]
    assert page["has_more"] is False
    # Nothing since: the same cursor back, and nothing else.
    again = sync(client, OID, page["next_cursor"])
    assert (again["added"], again["modified"], again["removed"]) == ([], [], [])
    assert again["next_cursor"] == page["next_cursor"]
    # Another customer's feed shows none of it.
    _, other_cursor = walk(client, SAMPLE_OIDS[1])
    assert sync(client, SAMPLE_OIDS[1], other_cursor)["added"] == []


def test_an_import_the_clock_and_a_deletion_are_in_the_feed(client: TestClient) -> None:
    _, cursor = walk(client, OID)
    before = {t["id"] for t in client.get(f"/customer/{OID}/transactions?limit=1000").json()}
    document = client.get(f"/user-portfolio/{OID}").json()
    assert client.put(f"/user-portfolio/{OID}", json=document).status_code == 200
    after = {t["id"] for t in client.get(f"/customer/{OID}/transactions?limit=1000").json()}
    pages, cursor = walk(client, OID, cursor)
    assert {r["id"] for p in pages for r in p["removed"]} == before
    assert {t["id"] for p in pages for t in p["added"]} == after
    added = client.post("/sandbox/clock/advance", json={"days": 3}).json()
    pages, cursor = walk(client, OID, cursor)
    new = [t for p in pages for t in p["added"]]
    assert new and all(t["date"] > "2026-11-02" for t in new)
    assert added["transactions_added"] >= len(new)


def test_seed_scripts_customers_are_in_the_feed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    seed_here(url, "--customers", "3", "--seed", "9", "--months", "1")
    with TestClient(create_app(Settings(DATABASE_URL=url))) as client:
        for customer in client.get("/customers").json():
            oid = customer["customer_oid"]
            pages, _ = walk(client, oid)
            added = sorted(t["id"] for p in pages for t in p["added"])
            listed = client.get(f"/customer/{oid}/transactions?limit=1000").json()
            assert added == sorted(t["id"] for t in listed) and added


def test_a_cursor_stays_valid_across_restarts(tmp_path: Path) -> None:
    settings = Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'bank.db'}")
    with TestClient(create_app(settings)) as client:
        _, cursor = walk(client, OID)
        made = client.post(f"/customer/{OID}/transactions", json=SPENT).json()
    with TestClient(create_app(settings)) as client:
        assert sync(client, OID, cursor)["added"] == [made]


@pytest.mark.parametrize("cursor", ["abc", "-1", "1.5", "99999999999", "١٢"])
def test_a_cursor_the_feed_never_gave_is_400(client: TestClient, cursor: str) -> None:
    response = client.get(f"/customer/{OID}/transactions/sync", params={"cursor": cursor})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("cursor: ")


@pytest.mark.parametrize("count", [0, 501, "all"])
def test_a_count_out_of_range_is_400(client: TestClient, count: int | str) -> None:
    response = client.get(f"/customer/{OID}/transactions/sync", params={"count": count})
    assert response.status_code == 400
    assert response.json()["detail"].startswith("count: ")


def test_an_unknown_customer_is_404(client: TestClient) -> None:
    response = client.get(f"/customer/{NEW_OID}/transactions/sync")
    assert response.status_code == 404


def writer(base: str, oid: str, seed: int, stop: threading.Event, errors: list[str]) -> None:
    """Adds, changes and deletes the customer's transactions until told to stop."""
    rng = random.Random(seed)
    mine: list[int] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        while not stop.is_set():
            roll = rng.random()
            if roll < 0.5 or not mine:
                response = http.post(f"/customer/{oid}/transactions", json=SPENT)
                if response.status_code == 201:
                    mine.append(response.json()["id"])
            elif roll < 0.8:
                amount = -rng.randint(1, 9999) / 100
                response = http.patch(
                    f"/customer/{oid}/transactions/{rng.choice(mine)}", json={"amount": amount}
                )
            else:
                response = http.delete(f"/customer/{oid}/transactions/{mine.pop()}")
            if response.status_code >= 300:
                errors.append(f"{response.status_code} {response.text}")


def test_a_sync_walked_beside_eight_writers_sees_every_change_once(
    live_server: LiveServer,
) -> None:
    base = live_server.base_url
    stop, errors = threading.Event(), list[str]()
    threads = [threading.Thread(target=writer, args=(base, OID, n, stop, errors)) for n in range(8)]
    seen: dict[int, dict[str, Any]] = {}
    added_twice: list[int] = []
    with httpx.Client(base_url=base, timeout=30) as http:
        pages, cursor = walk(http, OID)
        for page in pages:
            seen.update({t["id"]: t for t in page["added"]})
        for thread in threads:
            thread.start()
        syncs = 0
        while syncs < 60 or any(thread.is_alive() for thread in threads):
            if syncs == 60:
                stop.set()
            page = sync(http, OID, cursor, count=25)
            syncs += 1
            for t in page["added"]:
                if t["id"] in seen:
                    added_twice.append(t["id"])
                seen[t["id"]] = t
            for t in page["modified"]:
                assert t["id"] in seen, ("modified before it was added", t)
                seen[t["id"]] = t
            for removed in page["removed"]:
                seen.pop(removed["id"], None)
            cursor = page["next_cursor"]
        for thread in threads:
            thread.join()
        # Catch up with what the last writes committed.
        for page in walk(http, OID, cursor)[0]:
            seen.update({t["id"]: t for t in page["added"] + page["modified"]})
            for removed in page["removed"]:
                seen.pop(removed["id"], None)
        listed = http.get(f"/customer/{OID}/transactions", params={"limit": 1000}).json()
    assert errors == []
    assert added_twice == []
    assert seen == {t["id"]: t for t in listed}
