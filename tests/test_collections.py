"""Per-customer collections over HTTP: create, read, change and delete items, strictly validated."""

import json
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import CHANGES, NEW_OID, PORTFOLIO_LIST, SAMPLE_OIDS, VALID, on_sqlite_only

OWNER, OTHER = SAMPLE_OIDS[0], SAMPLE_OIDS[4]

OPTIONAL_DEFAULTS: dict[str, dict[str, Any]] = {
    "assets": {"currency": "USD", "cost_basis": None},
    "bank-accounts": {"currency": "USD", "iban": None},
    "transactions": {"currency": "USD", "symbol": None},
    "spending": {"currency": "USD"},
    "derivative-transactions": {
        "currency": "USD", "option_type": None, "strike_price": None, "premium": None,
        "strategy": None, "counterparty": None,
    },
}  # fmt: skip
COLLECTIONS = list(VALID)


def create(client: TestClient, collection: str, oid: str = OWNER, **fields: Any) -> dict[str, Any]:
    response = client.post(f"/customer/{oid}/{collection}", json={**VALID[collection], **fields})
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


def portfolio(client: TestClient, oid: str = OWNER) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/user-portfolio/{oid}").json()
    return body


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_create_is_201_with_the_item_as_the_portfolio_shows_it(
    client: TestClient, collection: str
) -> None:
    response = client.post(f"/customer/{OWNER}/{collection}", json=VALID[collection])
    assert response.status_code == 201
    item = response.json()
    assert response.headers["location"] == f"/customer/{OWNER}/{collection}/{item['id']}"
    assert item["customer_oid"] == OWNER
    for field, value in VALID[collection].items():
        assert item[field] == value
    assert item in portfolio(client)[PORTFOLIO_LIST[collection]]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_optional_fields_default_to_usd_and_none(client: TestClient, collection: str) -> None:
    item = create(client, collection)
    for field, default in OPTIONAL_DEFAULTS[collection].items():
        assert item[field] == default, field


def test_bank_account_carries_its_institution(client: TestClient) -> None:
    item = create(client, "bank-accounts", institution_id=2)
    assert item["institution"]["name"] == "Summit Securities"


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_get_one_item(client: TestClient, collection: str) -> None:
    item = create(client, collection)
    response = client.get(f"/customer/{OWNER}/{collection}/{item['id']}")
    assert response.status_code == 200
    assert response.json() == item


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_list_includes_the_new_item(client: TestClient, collection: str) -> None:
    item = create(client, collection)
    listed = client.get(f"/customer/{OWNER}/{collection}", params={"limit": 1000}).json()
    assert item in listed
    assert listed == portfolio(client)[PORTFOLIO_LIST[collection]]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_patch_changes_only_the_given_fields(client: TestClient, collection: str) -> None:
    item = create(client, collection)
    response = client.patch(
        f"/customer/{OWNER}/{collection}/{item['id']}", json=CHANGES[collection]
    )
    assert response.status_code == 200
    assert response.json() == {**item, **CHANGES[collection]} | (
        {"unrealized_gain": None, "unrealized_gain_pct": None} if collection == "assets" else {}
    )
    assert client.get(f"/customer/{OWNER}/{collection}/{item['id']}").json() == response.json()


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_patch_cannot_blank_a_required_field(client: TestClient, collection: str) -> None:
    item = create(client, collection)
    field = next(iter(VALID[collection]))
    response = client.patch(f"/customer/{OWNER}/{collection}/{item['id']}", json={field: None})
    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{field}: ")
    assert client.get(f"/customer/{OWNER}/{collection}/{item['id']}").json() == item


def test_patch_can_clear_an_optional_field(client: TestClient) -> None:
    item = create(client, "assets", cost_basis=100)
    response = client.patch(f"/customer/{OWNER}/assets/{item['id']}", json={"cost_basis": None})
    assert response.status_code == 200
    assert response.json()["cost_basis"] is None and response.json()["unrealized_gain"] is None


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_delete_is_204_and_the_item_is_gone(client: TestClient, collection: str) -> None:
    item = create(client, collection)
    response = client.delete(f"/customer/{OWNER}/{collection}/{item['id']}")
    assert response.status_code == 204
    assert response.content == b""
    assert client.get(f"/customer/{OWNER}/{collection}/{item['id']}").status_code == 404
    assert item not in portfolio(client)[PORTFOLIO_LIST[collection]]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_an_item_of_another_customer_is_404_on_every_path(
    client: TestClient, collection: str
) -> None:
    item = create(client, collection, oid=OWNER)
    url = f"/customer/{OTHER}/{collection}/{item['id']}"
    responses = [
        client.get(url),
        client.patch(url, json=CHANGES[collection]),
        client.delete(url),
    ]
    expected = {
        "detail": f"{item_label(collection)} {item['id']} not found for CustomerOID '{OTHER}'"
    }
    assert [r.status_code for r in responses] == [404, 404, 404]
    assert all(r.json() == expected for r in responses)
    assert client.get(f"/customer/{OWNER}/{collection}/{item['id']}").json() == item
    assert item not in client.get(f"/customer/{OTHER}/{collection}").json()


def item_label(collection: str) -> str:
    return {
        "assets": "Asset",
        "bank-accounts": "Bank account",
        "transactions": "Transaction",
        "spending": "Spending entry",
        "derivative-transactions": "Derivative transaction",
    }[collection]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_unknown_item_is_404(client: TestClient, collection: str) -> None:
    response = client.get(f"/customer/{OWNER}/{collection}/999999")
    assert response.status_code == 404


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_unknown_customer_is_404(client: TestClient, collection: str) -> None:
    listed = client.get(f"/customer/{NEW_OID}/{collection}")
    created = client.post(f"/customer/{NEW_OID}/{collection}", json=VALID[collection])
    expected = {"detail": f"Customer with CustomerOID '{NEW_OID}' not found"}
    assert (listed.status_code, listed.json()) == (404, expected)
    assert (created.status_code, created.json()) == (404, expected)


@on_sqlite_only
@pytest.mark.parametrize("item_id", ["abc", "0", "-1", str(2**64)])
def test_bad_item_id_is_400(client: TestClient, item_id: str) -> None:
    assert client.get(f"/customer/{OWNER}/assets/{item_id}").status_code == 400


@pytest.mark.parametrize(
    "sent, stored",
    [
        (1.234, 1.23),
        (1.235, 1.24),
        (0.1 + 0.2, 0.3),
        (2.5e-7, 0),
        (9999999999999.99, 9999999999999.99),
    ],
)
def test_money_is_rounded_to_the_cent(client: TestClient, sent: float, stored: float) -> None:
    item = create(client, "assets", current_value=sent)
    assert item["current_value"] == stored
    assert item in portfolio(client)["assets"]


@pytest.mark.parametrize(
    "collection, field, value, problem",
    [
        ("assets", "quantity", "10", "Input should be a number"),
        ("assets", "quantity", True, "Input should be a number"),
        ("assets", "quantity", 0, "greater than 0"),
        ("assets", "current_value", 1e13, "less than or equal to 9999999999999.99"),
        ("bank-accounts", "balance", -1e13, "greater than or equal to -9999999999999.99"),
        ("assets", "current_value", -5, "greater than or equal to 0"),
        ("assets", "asset_type", "gold", "Input should be 'stock'"),
        ("assets", "currency", "XYZ", "Input should be 'USD'"),
        ("assets", "symbol", "", "at least 1 character"),
        ("bank-accounts", "account_type", "piggy_bank", "Input should be 'checking'"),
        ("bank-accounts", "balance", "1e3", "Input should be a number"),
        ("transactions", "date", "2026-02-30", "valid date"),
        ("transactions", "date", "01/02/2026", "YYYY-MM-DD"),
        ("transactions", "date", 1767225600, "YYYY-MM-DD"),
        ("transactions", "type", "gift", "Input should be 'buy'"),
        ("transactions", "description", "a\x00b", "cannot contain the NUL character"),
        ("transactions", "symbol", "\x00", "cannot contain the NUL character"),
        ("bank-accounts", "institution_id", True, "Input should be an integer"),
        ("bank-accounts", "institution_id", 2**53, "less than or equal to 9007199254740991"),
        ("spending", "month", "2026-13", "YYYY-MM"),
        ("spending", "month", "2026-1", "YYYY-MM"),
        ("spending", "amount", -1, "greater than or equal to 0"),
        ("derivative-transactions", "side", "long", "Input should be 'buy' or 'sell'"),
        ("derivative-transactions", "status", "pending", "Input should be 'open'"),
        ("derivative-transactions", "type", "warrant", "Input should be 'option'"),
        ("derivative-transactions", "expiration_date", "soon", "YYYY-MM-DD"),
    ],
)
def test_invalid_field_is_400_and_stores_nothing(
    client: TestClient, collection: str, field: str, value: Any, problem: str
) -> None:
    before = portfolio(client)
    response = client.post(
        f"/customer/{OWNER}/{collection}", json={**VALID[collection], field: value}
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith(f"{field}: ") and problem in detail, detail
    assert portfolio(client) == before


@on_sqlite_only
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_400(client: TestClient, literal: str) -> None:
    body = json.dumps(VALID["assets"]).replace('"quantity": 10', f'"quantity": {literal}')
    response = client.post(
        f"/customer/{OWNER}/assets", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("quantity: ")


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_each_seed_field_is_required(client: TestClient, collection: str) -> None:
    for field in VALID[collection]:
        body = {k: v for k, v in VALID[collection].items() if k != field}
        response = client.post(f"/customer/{OWNER}/{collection}", json=body)
        assert response.status_code == 400
        assert response.json()["detail"] == f"{field}: Field required"


def test_unknown_field_is_400(client: TestClient) -> None:
    response = client.post(f"/customer/{OWNER}/assets", json={**VALID["assets"], "colour": "red"})
    assert response.status_code == 400
    assert response.json()["detail"] == "colour: Extra inputs are not permitted"


def test_bank_account_with_unknown_institution_is_400(client: TestClient) -> None:
    created = client.post(
        f"/customer/{OWNER}/bank-accounts", json={**VALID["bank-accounts"], "institution_id": 999}
    )
    assert created.status_code == 400
    assert "Institution 999 does not exist" in created.json()["detail"]
    account = create(client, "bank-accounts")
    patched = client.patch(
        f"/customer/{OWNER}/bank-accounts/{account['id']}", json={"institution_id": 999}
    )
    assert patched.status_code == 400
    assert client.get(f"/customer/{OWNER}/bank-accounts/{account['id']}").json() == account


def test_institutions_are_listed(client: TestClient) -> None:
    response = client.get("/institutions")
    assert response.status_code == 200
    assert [(i["id"], i["type"]) for i in response.json()] == [
        (1, "bank"),
        (2, "broker"),
        (3, "exchange"),
    ]


@on_sqlite_only
def test_enumerations_are_documented_in_the_schema(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert "real_estate" in schemas["AssetType"]["enum"]
    assert "money_market" in schemas["AccountType"]["enum"]
    assert "dividend" in schemas["TransactionType"]["enum"]
    assert "future" in schemas["DerivativeType"]["enum"]
    assert schemas["Side"]["enum"] == ["buy", "sell"]
    assert "expired" in schemas["DerivativeStatus"]["enum"]


# --- The summary follows every change -------------------------------------------------------


def summary(client: TestClient, oid: str = OWNER) -> dict[str, Any]:
    result: dict[str, Any] = portfolio(client, oid)["portfolio_summary"]
    return result


def test_summary_analytics_add_up(client: TestClient) -> None:
    for oid in SAMPLE_OIDS:
        s = summary(client, oid)
        assert s["net_worth"] == round(s["total_cash_balance"] + s["total_asset_value"], 2)
        assert round(sum(s["asset_allocation"].values()), 2) == s["total_asset_value"]
        assert round(sum(s["spending_by_category"].values()), 2) == s["total_spending"]
        assert round(sum(s["spending_by_month"].values()), 2) == s["total_spending"]


def test_allocation_converts_currencies(client: TestClient) -> None:
    # Michael Chen: MSFT in USD, and ASML in EUR at 1.08 USD.
    assets = {a["symbol"]: a for a in portfolio(client, SAMPLE_OIDS[4])["assets"]}
    assert assets["ASML"]["currency"] == "EUR"
    stock = Decimal(str(assets["MSFT"]["current_value"]))
    stock += Decimal(str(assets["ASML"]["current_value"])) * Decimal("1.08")
    allocation = summary(client, SAMPLE_OIDS[4])["asset_allocation"]["stock"]
    assert Decimal(str(allocation)) == stock.quantize(Decimal("0.01"))


def test_new_asset_moves_asset_value_allocation_and_net_worth(client: TestClient) -> None:
    before = summary(client)
    create(client, "assets", asset_type="crypto", current_value=1000.1)
    after = summary(client)
    assert after["total_asset_value"] == round(before["total_asset_value"] + 1000.1, 2)
    assert after["net_worth"] == round(before["net_worth"] + 1000.1, 2)
    assert after["asset_allocation"]["crypto"] == 1000.1
    assert after["total_assets"] == before["total_assets"] + 1


def test_changed_balance_moves_cash_and_net_worth(client: TestClient) -> None:
    account = create(client, "bank-accounts", balance=100)
    before = summary(client)
    client.patch(f"/customer/{OWNER}/bank-accounts/{account['id']}", json={"balance": 350.25})
    after = summary(client)
    assert after["total_cash_balance"] == round(before["total_cash_balance"] + 250.25, 2)
    assert after["net_worth"] == round(before["net_worth"] + 250.25, 2)


def test_deleted_spending_leaves_the_breakdowns(client: TestClient) -> None:
    entry = create(client, "spending", category="books", amount=45.9, month="2031-01")
    assert summary(client)["spending_by_month"]["2031-01"] == 45.9
    client.delete(f"/customer/{OWNER}/spending/{entry['id']}")
    after = summary(client)
    assert "2031-01" not in after["spending_by_month"]
    assert "books" not in after["spending_by_category"]


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("OPTIONS", f"/customer/{OWNER}/assets", "GET, POST"),
        ("PUT", f"/customer/{OWNER}/assets/1", "DELETE, GET, PATCH"),
        ("PATCH", f"/user-portfolio/{OWNER}", "GET, PUT"),
        ("POST", "/customers", "GET"),
    ],
)
def test_a_method_the_path_lacks_is_405_naming_every_allowed_one(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    before = portfolio(client)
    response = client.request(method, path, json={})
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json() == {"detail": f"Method {method} is not allowed here; use {allowed}"}
    assert portfolio(client) == before
