"""PUT /user-portfolio: a whole portfolio in the shape GET returns, stored in one transaction."""

import copy
import datetime as dt
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import (
    AccountType,
    AssetType,
    Currency,
    DerivativeStatus,
    DerivativeType,
    OptionType,
    Side,
    TransactionType,
)
from tests.fixtures import NEW_OID, SAMPLE_OIDS, accounts_by_place

LISTS = ("assets", "bank_accounts", "transactions", "spending", "derivative_transactions")


def get(client: TestClient, oid: str) -> dict[str, Any]:
    response = client.get(f"/user-portfolio/{oid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def without_keys(portfolio: dict[str, Any]) -> dict[str, Any]:
    """The portfolio without what identifies the customer or the rows: ids and OIDs."""
    copied = copy.deepcopy(portfolio)
    copied["transactions"] = accounts_by_place(copied)
    del copied["customer_oid"], copied["user"]["customer_oid"]
    del copied["portfolio_summary"]["customer_oid"]
    for name in LISTS:
        for item in copied[name]:
            del item["id"], item["customer_oid"]
    return copied


def test_put_creates_the_customer_with_201(client: TestClient) -> None:
    source = get(client, SAMPLE_OIDS[4])
    response = client.put(f"/user-portfolio/{NEW_OID}", json=source)
    assert response.status_code == 201
    assert response.json() == get(client, NEW_OID)
    assert client.get(f"/customer/{NEW_OID}/exists").json()["name"] == "Michael Chen"


def test_put_then_get_elsewhere_is_the_same_portfolio_up_to_ids(client: TestClient) -> None:
    for oid in SAMPLE_OIDS:
        target = str(uuid.uuid4())
        assert client.put(f"/user-portfolio/{target}", json=get(client, oid)).status_code == 201
        assert without_keys(get(client, target)) == without_keys(get(client, oid))


def test_put_on_an_existing_customer_replaces_everything_with_200(client: TestClient) -> None:
    jane = get(client, SAMPLE_OIDS[1])
    response = client.put(f"/user-portfolio/{SAMPLE_OIDS[0]}", json=jane)
    assert response.status_code == 200
    john = get(client, SAMPLE_OIDS[0])
    assert without_keys(john) == without_keys(jane)
    assert john["user"] == {"customer_oid": SAMPLE_OIDS[0], "name": "Jane Smith"}
    assert get(client, SAMPLE_OIDS[1]) == jane


def test_transactions_of_one_day_keep_their_order(client: TestClient) -> None:
    same_day = [
        {
            "date": "2026-05-01",
            "amount": -n,
            "description": f"item {n}",
            "category": "c",
            "type": "fee",
        }
        for n in (3, 1, 2)
    ]
    client.put(
        f"/user-portfolio/{NEW_OID}", json={"user": {"name": "Ordered"}, "transactions": same_day}
    )
    stored = get(client, NEW_OID)["transactions"]
    assert [t["description"] for t in stored] == ["item 3", "item 1", "item 2"]
    client.put(f"/user-portfolio/{SAMPLE_OIDS[0]}", json=get(client, NEW_OID))
    again = get(client, SAMPLE_OIDS[0])["transactions"]
    assert [t["description"] for t in again] == ["item 3", "item 1", "item 2"]


def test_missing_lists_mean_empty_ones(client: TestClient) -> None:
    response = client.put(f"/user-portfolio/{SAMPLE_OIDS[2]}", json={"user": {"name": "Robert J."}})
    assert response.status_code == 200
    body = get(client, SAMPLE_OIDS[2])
    assert body["user"]["name"] == "Robert J."
    assert all(body[name] == [] for name in LISTS)


def test_ids_oids_and_summary_in_the_document_are_ignored(client: TestClient) -> None:
    source = get(client, SAMPLE_OIDS[3])
    source["portfolio_summary"]["total_cash_balance"] = 1
    source["assets"][0]["id"] = 999_999
    client.put(f"/user-portfolio/{NEW_OID}", json=source)
    stored = get(client, NEW_OID)
    assert (
        stored["portfolio_summary"]["total_cash_balance"]
        == get(client, SAMPLE_OIDS[3])["portfolio_summary"]["total_cash_balance"]
    )
    assert all(item["customer_oid"] == NEW_OID for item in stored["assets"])
    assert client.get(f"/customer/{SAMPLE_OIDS[3]}/assets/999999").status_code == 404


@pytest.mark.parametrize(
    "path, value, problem",
    [
        (("assets", 1, "quantity"), -1, "assets.1.quantity: Input should be greater than 0"),
        (("transactions", 2, "date"), "2026-02-30", "transactions.2.date: "),
        (("spending", 0, "month"), "2026-00", "spending.0.month: "),
        (("bank_accounts", 0, "balance"), "lots", "bank_accounts.0.balance: "),
        (("derivative_transactions", 0, "side"), "long", "derivative_transactions.0.side: "),
        (("user", "name"), "J", "Customer name must be 2 to 100"),
    ],
)
def test_one_invalid_item_rejects_the_whole_document(
    client: TestClient, path: tuple[Any, ...], value: Any, problem: str
) -> None:
    oid = SAMPLE_OIDS[1]
    before = get(client, oid)
    document = copy.deepcopy(before)
    target: Any = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    response = client.put(f"/user-portfolio/{oid}", json=document)
    assert response.status_code == 400
    assert problem in response.json()["detail"]
    assert get(client, oid) == before


def test_unknown_institution_rejects_the_whole_document(client: TestClient) -> None:
    oid = SAMPLE_OIDS[4]
    before = get(client, oid)
    document = copy.deepcopy(before)
    document["bank_accounts"][-1]["institution_id"] = 42
    response = client.put(f"/user-portfolio/{oid}", json=document)
    assert response.status_code == 400
    assert "Institution 42 does not exist" in response.json()["detail"]
    assert get(client, oid) == before


def test_unknown_institution_does_not_create_the_customer(client: TestClient) -> None:
    document = get(client, SAMPLE_OIDS[4])
    document["bank_accounts"][0]["institution_id"] = 42
    assert client.put(f"/user-portfolio/{NEW_OID}", json=document).status_code == 400
    assert client.get(f"/customer/{NEW_OID}/exists").json()["exists"] is False


def test_unknown_field_is_400(client: TestClient) -> None:
    document = get(client, SAMPLE_OIDS[0])
    document["assets"][0]["colour"] = "red"
    response = client.put(f"/user-portfolio/{SAMPLE_OIDS[0]}", json=document)
    assert response.status_code == 400
    assert response.json()["detail"] == "assets.0.colour: Extra inputs are not permitted"


def test_put_with_invalid_oid_is_400(client: TestClient) -> None:
    response = client.put("/user-portfolio/nope", json={"user": {"name": "Somebody"}})
    assert response.status_code == 400


# --- Round trip of generated portfolios -----------------------------------------------------

texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1)
money = st.decimals(min_value=0, max_value=10**9, places=2).map(float)
signed_money = st.decimals(min_value=-(10**9), max_value=10**9, places=2).map(float)
quantities = st.floats(min_value=1e-6, max_value=1e9, allow_subnormal=False)
# A narrow range, so that several transactions often share a date and their order is tested.
days = st.dates(dt.date(2026, 1, 1), dt.date(2026, 1, 10)).map(dt.date.isoformat)
months = st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(2000, 2099), st.integers(1, 12))
currencies = st.sampled_from([c.value for c in Currency])


def values(enum: Any) -> Any:
    return st.sampled_from([member.value for member in enum])


assets = st.fixed_dictionaries(
    {
        "asset_type": values(AssetType),
        "symbol": texts.filter(lambda s: len(s) <= 20),
        "quantity": quantities,
        "current_value": money,
    },
    optional={"currency": currencies, "cost_basis": st.none() | money},
)
accounts = st.fixed_dictionaries(
    {
        "account_number": texts.filter(lambda s: len(s) <= 34),
        "account_type": values(AccountType),
        "balance": signed_money,
        "institution_id": st.sampled_from([1, 2, 3]),
    },
    optional={
        "currency": currencies,
        "iban": st.none() | st.from_regex(r"[A-Z]{2}\d{2}[A-Z0-9]{10,30}", fullmatch=True),
    },
)
transactions = st.fixed_dictionaries(
    {
        "date": days,
        "amount": signed_money,
        "description": texts.filter(lambda s: len(s) <= 200),
        "category": texts.filter(lambda s: len(s) <= 50),
        "type": values(TransactionType),
    },
    optional={"symbol": st.none() | texts.filter(lambda s: len(s) <= 20), "currency": currencies},
)
spending = st.fixed_dictionaries(
    {"category": texts.filter(lambda s: len(s) <= 50), "amount": money, "month": months},
    optional={"currency": currencies},
)
derivatives = st.fixed_dictionaries(
    {
        "type": values(DerivativeType),
        "side": values(Side),
        "underlying": texts.filter(lambda s: len(s) <= 20),
        "quantity": quantities,
        "expiration_date": days,
        "execution_date": days,
        "status": values(DerivativeStatus),
    },
    optional={
        "option_type": st.none() | values(OptionType),
        "strike_price": st.none() | money,
        "premium": st.none() | money,
        "strategy": st.none() | texts.filter(lambda s: len(s) <= 50),
        "counterparty": st.none() | texts.filter(lambda s: len(s) <= 100),
        "currency": currencies,
    },
)
portfolios = st.fixed_dictionaries(
    {
        "user": st.fixed_dictionaries(
            {"name": st.from_regex(r"[A-Za-z][A-Za-z .'-]{0,58}[a-z]", fullmatch=True)}
        ),
        "assets": st.lists(assets, max_size=4),
        "bank_accounts": st.lists(accounts, max_size=4),
        "transactions": st.lists(transactions, max_size=8),
        "spending": st.lists(spending, max_size=6),
        "derivative_transactions": st.lists(derivatives, max_size=3),
    }
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(document=portfolios)
def test_round_trip_get_put_elsewhere_get_is_equal(
    client: TestClient, document: dict[str, Any]
) -> None:
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    assert client.put(f"/user-portfolio/{first}", json=document).status_code == 201
    original = get(client, first)
    assert client.put(f"/user-portfolio/{second}", json=original).status_code == 201
    assert without_keys(get(client, second)) == without_keys(original)
    assert len(original["transactions"]) == len(document["transactions"])
