"""Days that pass: POST /sandbox/clock/advance makes them happen, for the generated customers."""

import contextlib
import datetime as dt
import logging
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from main import create_app
from settings import Settings
from tests.fixtures import (
    NEW_OID,
    SAMPLE_OIDS,
    SANDBOX_DAY,
    LiveServer,
    days_worked_out_in_one_process,
    last_closes,
    money,
    on_sqlite_only,
    reconcile,
    seed_here,
)

FIRST = SANDBOX_DAY + dt.timedelta(days=1)
SPENT = {"date": "2026-11-01", "amount": -5, "description": "Coffee", "category": "dining",
         "type": "payment"}  # fmt: skip
THIRTY_ON = SANDBOX_DAY + dt.timedelta(days=30)


def advance(client: TestClient, days: int) -> dict[str, Any]:
    response = client.post("/sandbox/clock/advance", json={"days": days})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def new_transactions(client: TestClient, oid: str, since: dt.date) -> list[dict[str, Any]]:
    portfolio = client.get(f"/user-portfolio/{oid}").json()
    return [t for t in portfolio["transactions"] if t["date"] > since.isoformat()]


def test_thirty_days_bring_salary_bills_and_card_payments_on_those_days(
    client: TestClient,
) -> None:
    result = advance(client, 30)
    assert result["from"] == FIRST.isoformat() and result["to"] == THIRTY_ON.isoformat()
    assert result["days"] == 30 and result["customers"] == 5
    assert client.get("/sandbox/clock").json() == {"today": THIRTY_ON.isoformat()}
    added = companies = 0
    for oid in SAMPLE_OIDS:
        made = new_transactions(client, oid, SANDBOX_DAY)
        added += len(made)
        assert all(FIRST.isoformat() <= t["date"] <= THIRTY_ON.isoformat() for t in made)
        categories = Counter(t["category"] for t in made)
        if categories["revenue"]:  # the company: invoices in, payroll and suppliers out
            assert {"payroll", "suppliers", "taxes"} <= set(categories), categories
            companies += 1
            continue
        assert categories["income"] >= 1, (oid, categories)
        assert {"housing", "utilities"} <= set(categories), (oid, categories)
        card = sum(categories[c] for c in ("groceries", "dining", "transport", "shopping"))
        assert card >= 15, (oid, categories)
        assert all(t["account_id"] is not None for t in made if t["category"] != "investment")
    assert companies == 1
    assert added == result["transactions_added"] >= 5 * 30


def test_after_the_days_every_statement_spending_row_and_holding_still_adds_up(
    client: TestClient,
) -> None:
    before = {
        oid: {
            a["id"]: money(a["balance"])
            for a in client.get(f"/customer/{oid}/bank-accounts").json()
        }
        for oid in SAMPLE_OIDS
    }
    result = advance(client, 45)
    closes = last_closes(client)
    today = SANDBOX_DAY + dt.timedelta(days=45)
    revalued = 0
    for oid in SAMPLE_OIDS:
        portfolio = reconcile(client, oid, closes, today=today, never_below_zero=False)
        revalued += len(portfolio["assets"])
        # Each account moved by exactly what was posted to it on the new days.
        for account in portfolio["bank_accounts"]:
            posted = sum(
                money(t["amount"])
                for t in portfolio["transactions"]
                if t["account_id"] == account["id"] and t["date"] > SANDBOX_DAY.isoformat()
            )
            assert money(account["balance"]) == before[oid][account["id"]] + posted
    assert result["holdings_revalued"] == revalued


def test_every_security_gets_a_close_on_each_new_trading_day(client: TestClient) -> None:
    result = advance(client, 30)
    days = [FIRST + dt.timedelta(days=n) for n in range(30)]
    weekdays = [d.isoformat() for d in days if d.weekday() < 5]
    total = 0
    for security in client.get("/securities").json():
        points = client.get(
            f"/securities/{security['symbol']}/prices",
            params={"from": FIRST.isoformat(), "to": THIRTY_ON.isoformat()},
        ).json()
        expected = [d.isoformat() for d in days] if security["asset_type"] == "crypto" else weekdays
        assert [p["date"] for p in points] == expected, security["symbol"]
        total += len(points)
    assert result["prices_added"] == total


def test_options_past_expiry_are_settled_by_their_close(client: TestClient) -> None:
    positions = [
        (oid, d)
        for oid in SAMPLE_OIDS
        for d in client.get(f"/customer/{oid}/derivative-transactions").json()
        if d["status"] == "open"
    ]
    last = max(dt.date.fromisoformat(d["expiration_date"]) for _, d in positions)
    days = (last - SANDBOX_DAY).days
    result = advance(client, days)
    settled: Counter[str] = Counter()
    for oid, before in positions:
        after = client.get(f"/customer/{oid}/derivative-transactions/{before['id']}").json()
        if before["type"] == "option":
            close = client.get(
                f"/securities/{before['underlying']}/prices",
                params={"from": "2016-01-01", "to": before["expiration_date"]},
            ).json()[-1]["close"]
            call = before["option_type"] == "call"
            in_the_money = (
                close > before["strike_price"] if call else close < before["strike_price"]
            )
            assert after["status"] == ("exercised" if in_the_money else "expired"), before
        else:
            assert after["status"] == "expired", before
        settled[after["status"]] += 1
    assert result["derivatives_expired"] == settled["expired"]
    assert result["derivatives_exercised"] == settled["exercised"]
    assert sum(settled.values()) == len(positions) >= 1


def test_a_customer_registered_through_the_api_gets_no_invented_activity(
    client: TestClient,
) -> None:
    client.post("/register-customer", json={"name": "Own Life", "customer_oid": NEW_OID})
    account = client.post(
        f"/customer/{NEW_OID}/bank-accounts",
        json={"account_number": "OWN-1", "account_type": "checking", "balance": 100,
              "institution_id": 1},
    ).json()  # fmt: skip
    before = client.get(f"/user-portfolio/{NEW_OID}").json()
    result = advance(client, 30)
    assert result["customers"] == 5
    after = client.get(f"/user-portfolio/{NEW_OID}").json()
    assert after == before
    assert after["bank_accounts"][0]["id"] == account["id"]


@pytest.mark.parametrize("days", [0, -1, 367, "a week", None])
def test_an_advance_out_of_range_is_400_and_changes_nothing(
    client: TestClient, days: object
) -> None:
    response = client.post("/sandbox/clock/advance", json={"days": days})
    assert response.status_code == 400
    assert "days" in response.json()["detail"]
    assert client.get("/sandbox/clock").json() == {"today": SANDBOX_DAY.isoformat()}


def database_rows(client: TestClient) -> dict[str, Any]:
    oids = [c["customer_oid"] for c in client.get("/customers?limit=1000").json()]
    return {oid: client.get(f"/user-portfolio/{oid}").content for oid in oids}


def test_the_same_start_and_the_same_advances_give_the_same_bytes(tmp_path: Path) -> None:
    documents = []
    for name in ("one", "two"):
        url = f"sqlite:///{tmp_path / name}.db"
        seed_here(url, "--customers", "12", "--seed", "3", "--months", "2")
        with TestClient(create_app(Settings(DATABASE_URL=url))) as client:
            advance(client, 10)
            advance(client, 20)
            documents.append(database_rows(client))
    assert len(documents[0]) == 17
    assert documents[0] == documents[1]


def table_rows(path: Path) -> dict[str, list[Any]]:
    """Every row the days write, table by table, as SQLite holds them."""
    with contextlib.closing(sqlite3.connect(path)) as connection:
        return {
            table: connection.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("transactions", "transaction_changes", "spending", "bank_accounts",
                          "assets", "derivative_transactions", "sandbox_clock")
        }  # fmt: skip


def test_days_worked_out_in_a_worker_process_are_the_same_rows(tmp_path: Path) -> None:
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    # 501 customers with the samples: three batches, past PIPELINE_FROM.
    seed_here(f"sqlite:///{one}", "--customers", "496", "--seed", "5", "--months", "1")
    with contextlib.closing(sqlite3.connect(one)) as source:
        with contextlib.closing(sqlite3.connect(two)) as copy:
            source.backup(copy)
    for path, in_one_process in ((one, False), (two, True)):
        alone = days_worked_out_in_one_process() if in_one_process else contextlib.nullcontext()
        with alone, TestClient(create_app(Settings(DATABASE_URL=f"sqlite:///{path}"))) as client:
            result = advance(client, 30)
            assert result["customers"] == 501 and result["transactions_added"] > 501 * 30
    assert table_rows(one) == table_rows(two)


@on_sqlite_only
def test_an_advance_leaves_the_wal_checkpoint_to_a_thread_after_its_commit(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="db")
    advance(client, 30)
    deadline = time.monotonic() + 10
    while not any("Checkpoint after a large write" in r.message for r in caplog.records):
        assert time.monotonic() < deadline, "no checkpoint after the advance"
        time.sleep(0.05)
    done = [r for r in caplog.records if "Checkpoint after a large write" in r.message]
    assert done and all(record.threadName == "checkpoint" for record in done)


def test_synthetic_customers_live_the_days_and_still_add_up(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    seed_here(url, "--customers", "20", "--seed", "8", "--months", "2")
    with TestClient(create_app(Settings(DATABASE_URL=url))) as client:
        result = advance(client, 31)
        assert result["customers"] == 25
        closes = last_closes(client)
        today = SANDBOX_DAY + dt.timedelta(days=31)
        for customer in client.get("/customers?limit=1000").json():
            oid = customer["customer_oid"]
            reconcile(client, oid, closes, today=today, never_below_zero=False)
            assert len(new_transactions(client, oid, SANDBOX_DAY)) >= 20, oid


def test_an_advance_beside_writers_of_the_same_customers_never_fails(
    live_server: LiveServer,
) -> None:
    base = live_server.base_url
    statuses: Counter[int] = Counter()
    stop = threading.Event()

    def write(oid: str) -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            asset = http.get(f"/customer/{oid}/assets").json()[0]
            account = http.get(f"/customer/{oid}/bank-accounts").json()[0]
            spent = {**SPENT, "account_id": account["id"]}
            while not stop.is_set():
                for response in (
                    http.post(f"/customer/{oid}/transactions", json=spent),
                    http.patch(f"/customer/{oid}/assets/{asset['id']}", json={"quantity": 3}),
                    http.get(f"/customer/{oid}/transactions/sync", params={"count": 5}),
                ):
                    statuses[response.status_code] += 1

    writers = [threading.Thread(target=write, args=(oid,)) for oid in SAMPLE_OIDS[:4]]
    for thread in writers:
        thread.start()
    with httpx.Client(base_url=base, timeout=120) as http:
        advanced = [http.post("/sandbox/clock/advance", json={"days": 20}) for _ in range(3)]
    stop.set()
    for thread in writers:
        thread.join()
    assert [response.status_code for response in advanced] == [200, 200, 200]
    assert advanced[-1].json()["to"] == (SANDBOX_DAY + dt.timedelta(days=60)).isoformat()
    assert set(statuses) <= {200, 201}, statuses


def test_a_month_a_day_at_a_time_brings_what_a_month_at_once_does(client: TestClient) -> None:
    for _ in range(30):
        advance(client, 1)
    made = [t for oid in SAMPLE_OIDS for t in new_transactions(client, oid, SANDBOX_DAY)]
    kinds = Counter(t["category"] for t in made)
    # A company invoices 6-12 times a month, and a retail customer takes cash about once.
    assert 3 <= kinds["revenue"] <= 20, kinds
    assert kinds["cash"] <= 12, kinds
    assert kinds["suppliers"] >= 5, kinds


def test_money_at_its_limits_never_breaks_an_advance_or_a_read(client: TestClient) -> None:
    oid = SAMPLE_OIDS[0]
    account = client.get(f"/customer/{oid}/bank-accounts").json()[0]
    top = 9_999_999_999_999.0
    assert (
        client.patch(
            f"/customer/{oid}/bank-accounts/{account['id']}", json={"balance": top}
        ).status_code
        == 200
    )
    asset = client.post(
        f"/customer/{SAMPLE_OIDS[1]}/assets",
        json={"asset_type": "stock", "symbol": "aapl", "quantity": 1e12, "current_value": 1},
    ).json()
    assert advance(client, 30)["customers"] == 5
    assert client.get(f"/customer/{oid}/bank-accounts/{account['id']}").status_code == 200
    assert client.get(f"/user-portfolio/{oid}").status_code == 200
    assert (
        client.get(f"/customer/{SAMPLE_OIDS[1]}/assets/{asset['id']}").json()["current_value"] == 1
    )
    assert client.get(f"/user-portfolio/{SAMPLE_OIDS[1]}").status_code == 200
