"""The ledger, statements, prices and performance at their edges: the first days there are,
balances at their bound, ambiguous imports, a currency under posted transactions, and
statements too long for an agent's context."""

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient

import bank.performance
from mcp_views import TOOL_RESULT_BYTES, agent_statement, json_size
from models import AccountStatement
from tests.fixtures import NEW_OID, SAMPLE_OIDS, VALID, on_sqlite_only

OID = SAMPLE_OIDS[0]


def new_account(client: TestClient, **fields: Any) -> int:
    body = {**VALID["bank-accounts"], "currency": "USD", **fields}
    response = client.post(f"/customer/{OID}/bank-accounts", json=body)
    assert response.status_code == 201, response.text
    account_id: int = response.json()["id"]
    return account_id


def balance(client: TestClient, account_id: int) -> float:
    value: float = client.get(f"/customer/{OID}/bank-accounts/{account_id}").json()["balance"]
    return value


@on_sqlite_only
def test_the_first_days_there_are_are_a_range_not_an_error(client: TestClient) -> None:
    account_id = new_account(client)
    statement = client.get(
        f"/customer/{OID}/bank-accounts/{account_id}/statement", params={"to": "0001-01-05"}
    )
    assert statement.status_code == 200, statement.text
    assert statement.json()["from"] == "0001-01-01" and statement.json()["transactions"] == []
    prices = client.get("/securities/AAPL/prices", params={"to": "0001-01-05"})
    assert prices.status_code == 200 and prices.json() == []


def test_a_change_of_amount_near_the_bound_posts_the_difference(client: TestClient) -> None:
    account_id = new_account(client)
    posted = {**VALID["transactions"], "amount": -10, "account_id": account_id}
    transaction = client.post(f"/customer/{OID}/transactions", json=posted).json()
    at_bound = client.patch(
        f"/customer/{OID}/bank-accounts/{account_id}", json={"balance": 9999999999999.99}
    )
    assert at_bound.status_code == 200
    changed = client.patch(
        f"/customer/{OID}/transactions/{transaction['id']}", json={"amount": -20}
    )
    assert changed.status_code == 200, changed.text
    assert balance(client, account_id) == 9999999999989.99


def test_an_accounts_currency_cannot_change_under_its_transactions(client: TestClient) -> None:
    account_id = new_account(client)
    url = f"/customer/{OID}/bank-accounts/{account_id}"
    assert client.patch(url, json={"currency": "EUR"}).status_code == 200  # none posted yet
    posted = {**VALID["transactions"], "account_id": account_id}
    assert client.post(f"/customer/{OID}/transactions", json=posted).status_code == 201
    refused = client.patch(url, json={"currency": "GBP", "balance": 1})
    assert refused.status_code == 400 and "transactions in EUR" in refused.json()["detail"]
    assert client.get(url).json()["currency"] == "EUR"
    assert client.patch(url, json={"currency": "EUR"}).status_code == 200  # no change


def test_an_import_naming_two_accounts_by_one_id_is_refused(client: TestClient) -> None:
    account = {**VALID["bank-accounts"], "id": 1}
    document = {
        "user": {"name": "Two Ones"},
        "bank_accounts": [account, {**account, "currency": "EUR"}],
        "transactions": [{**VALID["transactions"], "account_id": 1}],
    }
    refused = client.put(f"/user-portfolio/{NEW_OID}", json=document)
    assert refused.status_code == 400 and "id 1" in refused.json()["detail"]
    assert client.get(f"/customer/{NEW_OID}/exists").json()["exists"] is False
    # A currency mismatch names the account as the document does.
    document["bank_accounts"] = [{**account, "id": 7, "currency": "EUR"}]
    document["transactions"] = [{**VALID["transactions"], "account_id": 7, "currency": "USD"}]
    mismatch = client.put(f"/user-portfolio/{NEW_OID}", json=document)
    assert mismatch.status_code == 400 and "bank account 7 " in mismatch.json()["detail"]


def test_ytd_before_the_years_first_business_day_is_empty_not_an_error(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1 January 2028 is a Saturday: the period holds no business day yet.
    monkeypatch.setattr(bank.performance, "today", lambda _session: dt.date(2028, 1, 1))
    response = client.get(f"/customer/{OID}/performance", params={"period": "YTD"})
    assert response.status_code == 200, response.text
    found = response.json()
    assert found["values"] == [] and found["start_value"] == found["end_value"] == 0
    assert found["holdings"] and all(h["start_value"] is None for h in found["holdings"])


def statement_of(days: list[str], description_length: int = 190) -> AccountStatement:
    transactions = [
        {
            "id": n + 1, "customer_oid": OID, "date": day, "amount": -1.0,
            "description": "x" * description_length, "category": "c", "type": "payment",
            "symbol": None, "currency": "USD", "account_id": 1, "merchant": None, "mcc": None,
            "running_balance": 100.0 - n,
        }
        for n, day in enumerate(days)
    ]  # fmt: skip
    return AccountStatement.model_validate(
        {
            "account_id": 1, "currency": "USD", "from": days[0], "to": days[-1],
            "opening_balance": 101.0, "closing_balance": 101.0 - len(days),
            "transactions": transactions,
        }
    )  # fmt: skip


def test_a_long_statement_is_cut_to_whole_days_and_says_where_to_go_on() -> None:
    days = [f"2026-{1 + n // 50:02d}-{1 + n // 50 % 28:02d}" for n in range(600)]
    found = agent_statement(statement_of(days)).model_dump(mode="json", by_alias=True)
    shown = found["transactions_shown"]
    assert 0 < shown < 600 and json_size(found) <= TOOL_RESULT_BYTES
    # Whole days: the next transaction's day is one not shown at all.
    assert days[shown] != days[shown - 1]
    assert f"from_date={days[shown]}" in found["hint"]


def test_one_day_too_long_for_a_statement_is_paged_with_get_transactions() -> None:
    found = agent_statement(statement_of(["2026-11-01"] * 600)).model_dump(mode="json")
    assert 0 < found["transactions_shown"] < 600
    assert "get_transactions" in found["hint"] and "from_date=2026-11-01," in found["hint"]
