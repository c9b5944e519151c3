"""GET /user-portfolio: the seed's shape, the sample data, and totals that are exact."""

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from models import AccountType, BankAccount, Currency, Institution, Transaction, TransactionType
from tests.fixtures import NEW_OID, SAMPLE_OIDS

COLLECTIONS = ("assets", "bank_accounts", "transactions", "spending", "derivative_transactions")
SEED_SUMMARY_FIELDS = {
    "customer_oid",
    "total_cash_balance",
    "total_spending",
    "total_assets",
    "total_accounts",
    "total_transactions",
    "total_spending_categories",
    "total_derivative_positions",
}


def portfolio(client: TestClient, oid: str) -> dict[str, Any]:
    response = client.get(f"/user-portfolio/{oid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def register(client: TestClient, oid: str = NEW_OID) -> None:
    response = client.post(
        "/register-customer", json={"name": "Test Customer", "customer_oid": oid}
    )
    assert response.status_code == 200


def add_accounts(engine: Engine, oid: str, balances: list[tuple[str, Currency]]) -> None:
    with Session(engine) as session:
        bank = session.exec(select(Institution)).first()
        assert bank is not None and bank.id is not None
        for number, (balance, currency) in enumerate(balances):
            session.add(
                BankAccount(
                    customer_oid=oid,
                    account_number=f"T-{number}",
                    account_type=AccountType.CHECKING,
                    balance=Decimal(balance),
                    currency=currency,
                    institution_id=bank.id,
                )
            )
        session.commit()


def test_portfolio_has_seed_shape(client: TestClient) -> None:
    body = portfolio(client, SAMPLE_OIDS[0])
    assert list(body) == ["customer_oid", "user", *COLLECTIONS, "portfolio_summary"]
    assert body["customer_oid"] == SAMPLE_OIDS[0]
    assert body["user"] == {"customer_oid": SAMPLE_OIDS[0], "name": "John Doe"}
    summary = body["portfolio_summary"]
    assert SEED_SUMMARY_FIELDS <= set(summary)
    assert summary["currency"] == "USD"
    assert set(summary["has_data"]) == {
        "assets",
        "accounts",
        "transactions",
        "spending",
        "derivatives",
    }


def test_portfolio_items_carry_seed_fields(client: TestClient) -> None:
    body = portfolio(client, SAMPLE_OIDS[1])
    asset = body["assets"][0]
    assert {"id", "customer_oid", "asset_type", "symbol", "quantity", "current_value"} <= set(asset)
    account = body["bank_accounts"][0]
    assert {"id", "customer_oid", "account_number", "account_type", "balance"} <= set(account)
    assert set(account["institution"]) == {"id", "name", "routing_number", "type"}
    assert account["institution"]["id"] == account["institution_id"]
    derivative = body["derivative_transactions"][0]
    assert {
        "type", "side", "underlying", "quantity", "strike_price", "premium",
        "expiration_date", "execution_date", "strategy", "status", "counterparty",
    } <= set(derivative)  # fmt: skip
    for collection in COLLECTIONS:
        assert all(item["customer_oid"] == SAMPLE_OIDS[1] for item in body[collection])


def test_summary_counts_match_the_lists(client: TestClient) -> None:
    for oid in SAMPLE_OIDS:
        body = portfolio(client, oid)
        summary = body["portfolio_summary"]
        assert summary["customer_oid"] == oid
        assert summary["total_assets"] == len(body["assets"])
        assert summary["total_accounts"] == len(body["bank_accounts"])
        assert summary["total_transactions"] == len(body["transactions"])
        assert summary["total_derivative_positions"] == len(body["derivative_transactions"])
        categories = {item["category"] for item in body["spending"]}
        assert summary["total_spending_categories"] == len(categories)
        assert summary["has_data"] == {
            "assets": bool(body["assets"]),
            "accounts": bool(body["bank_accounts"]),
            "transactions": bool(body["transactions"]),
            "spending": bool(body["spending"]),
            "derivatives": bool(body["derivative_transactions"]),
        }


def test_every_sample_customer_has_a_complete_portfolio(client: TestClient) -> None:
    asset_types: set[str] = set()
    derivative_types: set[str] = set()
    holders_of_derivatives = 0
    for oid in SAMPLE_OIDS:
        body = portfolio(client, oid)
        assert body["assets"] and body["bank_accounts"] and body["transactions"]
        assert len({item["month"] for item in body["spending"]}) >= 2
        asset_types |= {item["asset_type"] for item in body["assets"]}
        derivative_types |= {item["type"] for item in body["derivative_transactions"]}
        holders_of_derivatives += bool(body["derivative_transactions"])
    assert len(asset_types) >= 3
    assert holders_of_derivatives >= 2
    assert {"option", "future"} <= derivative_types


def test_three_institutions_of_each_kind(client: TestClient, engine: Engine) -> None:
    with Session(engine) as session:
        kinds = sorted(str(i.type) for i in session.exec(select(Institution)).all())
    assert kinds == ["bank", "broker", "exchange"]


def test_cash_total_converts_currencies_at_documented_rates(client: TestClient) -> None:
    # Michael Chen: 18,750.25 USD + 42,000 EUR x 1.08 + 15,000 GBP x 1.27 + 9,100 USD.
    summary = portfolio(client, SAMPLE_OIDS[4])["portfolio_summary"]
    assert summary["total_cash_balance"] == 92260.25
    assert summary["currency"] == "USD"


def test_cash_total_has_no_float_drift(client: TestClient, engine: Engine) -> None:
    register(client)
    add_accounts(engine, NEW_OID, [("0.10", Currency.USD)] * 10 + [("0.20", Currency.USD)])
    body = portfolio(client, NEW_OID)
    assert [a["balance"] for a in body["bank_accounts"]] == [0.1] * 10 + [0.2]
    assert body["portfolio_summary"]["total_cash_balance"] == 1.2


def test_converted_amounts_round_to_the_cent(client: TestClient, engine: Engine) -> None:
    register(client)
    add_accounts(engine, NEW_OID, [("1000.00", Currency.JPY), ("0.05", Currency.EUR)])
    # 1,000 JPY x 0.0067 = 6.70; 0.05 EUR x 1.08 = 0.054, which rounds to 0.05.
    assert portfolio(client, NEW_OID)["portfolio_summary"]["total_cash_balance"] == 6.75


def money_values(body: dict[str, Any]) -> list[float]:
    fields = {
        "current_value",
        "cost_basis",
        "unrealized_gain",
        "balance",
        "amount",
        "strike_price",
        "premium",
    }
    values = [v for c in COLLECTIONS for item in body[c] for k, v in item.items() if k in fields]
    summary = body["portfolio_summary"]
    return [v for v in values if v is not None] + [
        summary["total_cash_balance"],
        summary["total_spending"],
    ]


@pytest.mark.parametrize("oid", SAMPLE_OIDS)
def test_money_has_at_most_two_decimals(client: TestClient, oid: str) -> None:
    response = client.get(f"/user-portfolio/{oid}")
    for value in money_values(response.json()):
        assert Decimal(str(value)) == Decimal(str(value)).quantize(Decimal("0.01"))


def test_unrealized_gain_is_value_minus_cost(client: TestClient) -> None:
    for asset in portfolio(client, SAMPLE_OIDS[4])["assets"]:
        if asset["cost_basis"] is None:
            assert asset["unrealized_gain"] is None
        else:
            assert asset["unrealized_gain"] == round(
                asset["current_value"] - asset["cost_basis"], 2
            )


def test_transactions_are_newest_first(client: TestClient, engine: Engine) -> None:
    register(client)
    with Session(engine) as session:
        for day in ("2026-01-05", "2026-03-01", "2026-02-10"):
            session.add(
                Transaction(
                    customer_oid=NEW_OID, date=dt.date.fromisoformat(day), amount=Decimal("1.00"),
                    description="t", category="c", type=TransactionType.DEPOSIT,
                )
            )  # fmt: skip
        session.commit()
    dates = [t["date"] for t in portfolio(client, NEW_OID)["transactions"]]
    assert dates == ["2026-03-01", "2026-02-10", "2026-01-05"]


def test_new_customer_portfolio_is_empty(client: TestClient) -> None:
    register(client)
    body = portfolio(client, NEW_OID)
    assert body["user"] == {"customer_oid": NEW_OID, "name": "Test Customer"}
    summary = body["portfolio_summary"]
    assert summary["total_cash_balance"] == 0 and summary["total_spending"] == 0
    assert summary["total_assets"] == 0


def test_portfolio_of_unknown_customer_is_404(client: TestClient) -> None:
    response = client.get(f"/user-portfolio/{NEW_OID}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Customer with CustomerOID '{NEW_OID}' not found"}


def test_portfolio_accepts_upper_case_oid(client: TestClient) -> None:
    assert portfolio(client, SAMPLE_OIDS[0].upper())["customer_oid"] == SAMPLE_OIDS[0]


def test_portfolio_invalid_oid_is_400(client: TestClient) -> None:
    response = client.get("/user-portfolio/123")
    assert response.status_code == 400
    assert "Invalid CustomerOID '123'" in response.json()["detail"]
