"""Transactions posted to bank accounts: balances that follow every change, statements, imports."""

import asyncio
import datetime as dt
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.fixtures import NEW_OID, SAMPLE_OIDS, SANDBOX_DAY, VALID, LiveServer, on_sqlite_only

OWNER, OTHER = SAMPLE_OIDS[0], SAMPLE_OIDS[4]
LEDGER_FIELDS = ["account_id", "merchant", "mcc"]


def cents(value: float) -> int:
    return round(value * 100)


def sandbox_today() -> dt.date:
    """The sandbox's today in the tests' databases."""
    return SANDBOX_DAY


def new_account(
    client: TestClient, currency: str = "EUR", oid: str = OWNER, balance: float = 1200.75
) -> int:
    """A fresh bank account of `oid`, with a known balance; its id."""
    body = {**VALID["bank-accounts"], "currency": currency, "balance": balance}
    response = client.post(f"/customer/{oid}/bank-accounts", json=body)
    assert response.status_code == 201, response.text
    account_id: int = response.json()["id"]
    return account_id


def balance(client: TestClient, account_id: int, oid: str = OWNER) -> float:
    response = client.get(f"/customer/{oid}/bank-accounts/{account_id}")
    assert response.status_code == 200, response.text
    value: float = response.json()["balance"]
    return value


def post(client: TestClient, oid: str = OWNER, **fields: Any) -> httpx2.Response:
    return client.post(f"/customer/{oid}/transactions", json={**VALID["transactions"], **fields})


def posted(client: TestClient, oid: str = OWNER, **fields: Any) -> dict[str, Any]:
    response = post(client, oid, **fields)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


def patch(client: TestClient, transaction_id: int, **fields: Any) -> httpx2.Response:
    return client.patch(f"/customer/{OWNER}/transactions/{transaction_id}", json=fields)


def transaction(client: TestClient, transaction_id: int, oid: str = OWNER) -> dict[str, Any]:
    response = client.get(f"/customer/{oid}/transactions/{transaction_id}")
    assert response.status_code == 200, response.text
    item: dict[str, Any] = response.json()
    return item


def portfolio(client: TestClient, oid: str) -> dict[str, Any]:
    response = client.get(f"/user-portfolio/{oid}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def state(client: TestClient) -> list[dict[str, Any]]:
    """Everything a refused write could have touched: both customers' portfolios."""
    return [portfolio(client, OWNER), portfolio(client, OTHER)]


def assert_refused(response: httpx2.Response, case: object = None) -> None:
    assert response.status_code == 400, (case, response.text)
    assert isinstance(response.json()["detail"], str), case


# --- 1. The three new fields -----------------------------------------------------------------


def test_new_fields_are_null_when_not_given(client: TestClient) -> None:
    item = posted(client)
    assert {field: item[field] for field in LEDGER_FIELDS} == dict.fromkeys(LEDGER_FIELDS)
    for seeded in client.get(f"/customer/{OWNER}/transactions").json():
        assert set(LEDGER_FIELDS) <= set(seeded), seeded
    for seeded in portfolio(client, OWNER)["transactions"]:
        assert set(LEDGER_FIELDS) <= set(seeded), seeded


def test_new_fields_follow_currency(client: TestClient) -> None:
    keys = list(posted(client))
    at = keys.index("currency")
    assert keys[at + 1 : at + 4] == LEDGER_FIELDS


def test_new_fields_appear_in_every_shape(client: TestClient) -> None:
    account_id = new_account(client, "USD")
    fields: dict[str, Any] = {"account_id": account_id, "merchant": "Corner Café", "mcc": "5411"}
    item = posted(client, **fields)
    assert {field: item[field] for field in LEDGER_FIELDS} == fields
    assert transaction(client, item["id"]) == item
    assert item in client.get(f"/customer/{OWNER}/transactions", params={"limit": 1000}).json()
    assert item in portfolio(client, OWNER)["transactions"]


def test_patch_changes_and_clears_merchant_and_mcc(client: TestClient) -> None:
    item = posted(client, merchant="Old", mcc="5411")
    response = patch(client, item["id"], merchant="M" * 100, mcc="0000")
    assert response.status_code == 200, response.text
    assert (response.json()["merchant"], response.json()["mcc"]) == ("M" * 100, "0000")
    response = patch(client, item["id"], merchant=None, mcc=None)
    assert response.status_code == 200, response.text
    assert transaction(client, item["id"]) == {**item, "merchant": None, "mcc": None}


INVALID_FIELDS: list[dict[str, Any]] = [
    {"merchant": "M" * 101},
    {"mcc": "541"},
    {"mcc": "54a1"},
    {"mcc": "54111"},
    {"mcc": ""},
    {"mcc": 5411},
    {"mcc": "٥٤١١"},  # four digits, but not ASCII ones
    {"account_id": "1"},
    {"account_id": 1.5},
    {"account_id": True},
]


@on_sqlite_only  # validation, before any query
def test_invalid_new_fields_are_400_and_store_nothing(client: TestClient) -> None:
    item = posted(client)
    before = state(client)
    for fields in INVALID_FIELDS:
        assert_refused(post(client, **fields), fields)
        assert_refused(patch(client, item["id"], **fields), fields)
    assert state(client) == before


# --- 2. Posting to an account ----------------------------------------------------------------


def test_post_takes_the_accounts_currency_and_moves_its_balance(client: TestClient) -> None:
    account_id = new_account(client, "EUR")
    item = posted(client, account_id=account_id, amount=-12.5)
    assert item["account_id"] == account_id
    assert item["currency"] == "EUR"
    assert balance(client, account_id) == 1188.25
    posted(client, account_id=account_id, amount=0.1, currency="EUR")
    posted(client, account_id=account_id, amount=0.2)
    assert balance(client, account_id) == 1188.55


def test_post_without_an_account_moves_no_balance(client: TestClient) -> None:
    account_id = new_account(client, "USD")
    before = state(client)
    posted(client, amount=-99.99)
    assert balance(client, account_id) == 1200.75
    after = state(client)
    assert after[0]["bank_accounts"] == before[0]["bank_accounts"]
    assert after[1] == before[1]


def test_post_to_an_unknown_account_is_400_and_changes_nothing(client: TestClient) -> None:
    new_account(client)
    before = state(client)
    assert_refused(post(client, account_id=999_999))
    assert state(client) == before


def test_post_to_another_customers_account_is_400_and_changes_nothing(
    client: TestClient,
) -> None:
    theirs = new_account(client, "EUR", oid=OTHER)
    before = state(client)
    assert_refused(post(client, account_id=theirs))
    assert_refused(post(client, account_id=theirs, currency="EUR"))
    assert balance(client, theirs, oid=OTHER) == 1200.75
    assert state(client) == before


def test_post_in_another_currency_than_the_account_is_400_and_changes_nothing(
    client: TestClient,
) -> None:
    account_id = new_account(client, "EUR")
    before = state(client)
    assert_refused(post(client, account_id=account_id, currency="USD"))
    assert state(client) == before
    assert balance(client, account_id) == 1200.75


# --- 3. Changing and deleting a posted transaction --------------------------------------------


def test_patch_amount_moves_the_balance_by_the_difference(client: TestClient) -> None:
    account_id = new_account(client)
    item = posted(client, account_id=account_id, amount=-12.5)
    response = patch(client, item["id"], amount=100.1)
    assert response.status_code == 200, response.text
    assert balance(client, account_id) == 1300.85
    assert patch(client, item["id"], description="No amount").status_code == 200
    assert balance(client, account_id) == 1300.85


def test_patch_account_moves_the_amount_to_the_new_account(client: TestClient) -> None:
    first, second = new_account(client), new_account(client, balance=50)
    item = posted(client, account_id=first, amount=-12.5)
    response = patch(client, item["id"], account_id=second)
    assert response.status_code == 200, response.text
    assert response.json()["account_id"] == second
    assert (balance(client, first), balance(client, second)) == (1200.75, 37.5)


def test_patch_account_and_amount_together(client: TestClient) -> None:
    first, second = new_account(client), new_account(client, balance=50)
    item = posted(client, account_id=first, amount=-12.5)
    response = patch(client, item["id"], account_id=second, amount=20.05)
    assert response.status_code == 200, response.text
    assert (balance(client, first), balance(client, second)) == (1200.75, 70.05)


def test_patch_account_to_null_takes_the_amount_off_it(client: TestClient) -> None:
    account_id = new_account(client)
    item = posted(client, account_id=account_id, amount=-12.5)
    response = patch(client, item["id"], account_id=None)
    assert response.status_code == 200, response.text
    assert transaction(client, item["id"])["account_id"] is None
    assert balance(client, account_id) == 1200.75


def test_patch_links_an_unlinked_transaction(client: TestClient) -> None:
    account_id = new_account(client, "USD")
    item = posted(client, amount=-12.5)
    assert balance(client, account_id) == 1200.75
    assert patch(client, item["id"], account_id=account_id).status_code == 200
    assert balance(client, account_id) == 1188.25


def test_patch_into_another_currency_is_400_and_changes_nothing(client: TestClient) -> None:
    euros, dollars = new_account(client, "EUR"), new_account(client, "USD")
    item = posted(client, account_id=euros, amount=-12.5)
    unlinked = posted(client, currency="USD")
    before = state(client)
    assert_refused(patch(client, item["id"], account_id=dollars))
    assert_refused(patch(client, item["id"], currency="USD"))
    assert_refused(patch(client, item["id"], account_id=dollars, currency="EUR"))
    assert_refused(patch(client, unlinked["id"], account_id=euros))
    assert state(client) == before
    response = patch(client, item["id"], account_id=dollars, currency="USD")
    assert response.status_code == 200, response.text
    assert (balance(client, euros), balance(client, dollars)) == (1200.75, 1188.25)


def test_patch_to_an_unknown_or_foreign_account_is_400_and_changes_nothing(
    client: TestClient,
) -> None:
    account_id = new_account(client)
    theirs = new_account(client, oid=OTHER)
    item = posted(client, account_id=account_id, amount=-12.5)
    before = state(client)
    assert_refused(patch(client, item["id"], account_id=999_999))
    assert_refused(patch(client, item["id"], account_id=theirs))
    assert state(client) == before


def test_post_then_delete_restores_the_balance_exactly(client: TestClient) -> None:
    account_id = new_account(client)
    items = [posted(client, account_id=account_id, amount=amount) for amount in (0.1, 0.2, -7.33)]
    assert balance(client, account_id) == 1193.72
    for item in items:
        response = client.delete(f"/customer/{OWNER}/transactions/{item['id']}")
        assert response.status_code == 204
    assert balance(client, account_id) == 1200.75


# --- 4. Overriding a balance, deleting an account ---------------------------------------------


def test_patching_a_balance_sets_it_and_moves_nothing_else(client: TestClient) -> None:
    account_id, other = new_account(client), new_account(client)
    item = posted(client, account_id=account_id, amount=-12.5)
    response = client.patch(
        f"/customer/{OWNER}/bank-accounts/{account_id}", json={"balance": 99.99}
    )
    assert response.status_code == 200, response.text
    assert balance(client, account_id) == 99.99
    assert balance(client, other) == 1200.75
    assert transaction(client, item["id"]) == item
    posted(client, account_id=account_id, amount=0.01)
    assert balance(client, account_id) == 100.0


def test_deleting_an_account_keeps_its_transactions_unlinked(client: TestClient) -> None:
    account_id = new_account(client)
    items = [posted(client, account_id=account_id, amount=amount) for amount in (-1, 2)]
    response = client.delete(f"/customer/{OWNER}/bank-accounts/{account_id}")
    assert response.status_code == 204
    for item in items:
        assert transaction(client, item["id"]) == {**item, "account_id": None}
    response = client.delete(f"/customer/{OWNER}/transactions/{items[0]['id']}")
    assert response.status_code == 204


# --- 5. Statements -----------------------------------------------------------------------------


@dataclass
class Ledger:
    """An account with postings around a 30-day window, each described by its name in POSTINGS."""

    account_id: int
    today: dt.date


# Days before today, and amounts, posted in this order (not date order).
POSTINGS = {
    "before_from": (31, 500.0),
    "on_from": (30, -12.34),
    "same_day_first": (10, 0.1),
    "earlier": (20, -100.2),
    "same_day_second": (10, -7.0),
    "on_to": (3, 1.11),
    "after_to": (2, 250.05),
    "today": (0, -0.01),
}
OPENING_CENTS = 100_000  # the account's balance when it was created


@pytest.fixture
def ledger(client: TestClient) -> Ledger:
    today = sandbox_today()
    account_id = new_account(client, "EUR", balance=OPENING_CENTS / 100)
    other_account = new_account(client, "EUR")
    for name, (days, amount) in POSTINGS.items():
        day = (today - dt.timedelta(days=days)).isoformat()
        posted(client, account_id=account_id, date=day, amount=amount, description=name)
    # In the window, but not on the account.
    posted(client, account_id=other_account, date=(today - dt.timedelta(days=5)).isoformat())
    posted(client, date=(today - dt.timedelta(days=5)).isoformat())
    return Ledger(account_id, today)


def statement(client: TestClient, account_id: int, **params: str) -> dict[str, Any]:
    response = client.get(f"/customer/{OWNER}/bank-accounts/{account_id}/statement", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_adds_up(body: dict[str, Any]) -> None:
    running = cents(body["opening_balance"])
    for item in body["transactions"]:
        running += cents(item["amount"])
        assert cents(item["running_balance"]) == running, item
    assert cents(body["closing_balance"]) == running


def window(ledger: Ledger, first: int, last: int) -> dict[str, str]:
    """The statement query from `first` days ago to `last` days ago."""
    day = ledger.today
    return {
        "from": (day - dt.timedelta(days=first)).isoformat(),
        "to": (day - dt.timedelta(days=last)).isoformat(),
    }


def test_statement_lists_the_accounts_transactions_in_range_oldest_first(
    client: TestClient, ledger: Ledger
) -> None:
    query = window(ledger, 30, 3)
    body = statement(client, ledger.account_id, **query)
    assert {key: body[key] for key in ("account_id", "currency", "from", "to")} == {
        "account_id": ledger.account_id,
        "currency": "EUR",
        **query,
    }
    names = ["on_from", "earlier", "same_day_first", "same_day_second", "on_to"]
    assert [item["description"] for item in body["transactions"]] == names
    for item in body["transactions"]:
        assert "running_balance" in item
        shown = {key: value for key, value in item.items() if key != "running_balance"}
        assert shown == transaction(client, item["id"])


def test_statement_balances_add_up_and_close_before_later_postings(
    client: TestClient, ledger: Ledger
) -> None:
    body = statement(client, ledger.account_id, **window(ledger, 30, 3))
    assert_adds_up(body)
    later = cents(POSTINGS["after_to"][1]) + cents(POSTINGS["today"][1])
    assert cents(body["closing_balance"]) == cents(balance(client, ledger.account_id)) - later
    assert cents(body["opening_balance"]) == OPENING_CENTS + cents(POSTINGS["before_from"][1])
    assert [cents(item["running_balance"]) for item in body["transactions"]] == [
        148766,
        138746,
        138756,
        138056,
        138167,
    ]


def test_statement_before_every_posting_is_the_initial_balance(
    client: TestClient, ledger: Ledger
) -> None:
    body = statement(client, ledger.account_id, **window(ledger, 60, 40))
    assert body["transactions"] == []
    assert cents(body["opening_balance"]) == cents(body["closing_balance"]) == OPENING_CENTS


def test_statement_defaults_to_the_last_30_days(client: TestClient, ledger: Ledger) -> None:
    body = statement(client, ledger.account_id)
    assert (body["from"], body["to"]) == tuple(window(ledger, 29, 0).values())
    names = ["earlier", "same_day_first", "same_day_second", "on_to", "after_to", "today"]
    assert [item["description"] for item in body["transactions"]] == names
    assert_adds_up(body)
    assert body["closing_balance"] == balance(client, ledger.account_id)


def test_statement_to_in_the_future_closes_at_the_balance(
    client: TestClient, ledger: Ledger
) -> None:
    body = statement(client, ledger.account_id, **window(ledger, 30, -7))
    assert len(body["transactions"]) == 7
    assert_adds_up(body)
    assert body["closing_balance"] == balance(client, ledger.account_id)


BAD_RANGES: list[dict[str, str]] = [
    {"from": "2026-10-02", "to": "2026-10-01"},
    {"from": "2026-02-30", "to": "2026-03-01"},
    {"from": "2026-10-01", "to": "2026-13-01"},
    {"from": "2026-9-01", "to": "2026-10-01"},
    {"from": "yesterday"},
    {"to": "2026-10-01T00:00:00"},
]


@on_sqlite_only  # validation, before any query
def test_statement_with_a_bad_range_is_400(client: TestClient) -> None:
    account_id = new_account(client)
    path = f"/customer/{OWNER}/bank-accounts/{account_id}/statement"
    for params in BAD_RANGES:
        assert_refused(client.get(path, params=params), params)


def test_statement_of_an_unknown_or_foreign_account_or_customer_is_404(client: TestClient) -> None:
    mine, theirs = new_account(client), new_account(client, oid=OTHER)
    for path in (
        f"/customer/{OWNER}/bank-accounts/999999/statement",
        f"/customer/{OWNER}/bank-accounts/{theirs}/statement",
        f"/customer/{NEW_OID}/bank-accounts/{mine}/statement",
    ):
        assert client.get(path).status_code == 404, path


# --- 6. Imports --------------------------------------------------------------------------------


def account_document(account_id: int, currency: str, balance: float) -> dict[str, Any]:
    return {
        **VALID["bank-accounts"],
        "id": account_id,
        "currency": currency,
        "balance": balance,
    }


def transaction_document(account_id: int | None, currency: str, **fields: Any) -> dict[str, Any]:
    return {**VALID["transactions"], "account_id": account_id, "currency": currency, **fields}


def test_import_links_transactions_by_the_documents_account_ids(client: TestClient) -> None:
    # Ids 1 and 2 are other accounts in the database: only the document's own ids count.
    document = {
        "user": {"name": "Ledger Import"},
        "bank_accounts": [account_document(2, "EUR", 10.0), account_document(1, "USD", 20.0)],
        "transactions": [
            transaction_document(1, "USD", description="usd", merchant="Shop", mcc="5411"),
            transaction_document(2, "EUR", description="eur", amount=-3.0),
            transaction_document(None, "GBP", description="none"),
        ],
    }
    response = client.put(f"/user-portfolio/{NEW_OID}", json=document)
    assert response.status_code == 201, response.text
    stored = portfolio(client, NEW_OID)
    euros, dollars = (account["id"] for account in stored["bank_accounts"])
    links = {item["description"]: item["account_id"] for item in stored["transactions"]}
    assert links == {"usd": dollars, "eur": euros, "none": None}
    usd = next(item for item in stored["transactions"] if item["description"] == "usd")
    assert (usd["merchant"], usd["mcc"]) == ("Shop", "5411")
    assert [account["balance"] for account in stored["bank_accounts"]] == [10.0, 20.0]
    assert balance(client, euros, oid=NEW_OID) == 10.0


def test_import_with_an_unknown_account_id_is_400_and_changes_nothing(client: TestClient) -> None:
    before = state(client)
    document = {
        "user": {"name": "Ledger Import"},
        "bank_accounts": [account_document(7, "USD", 10.0)],
        "transactions": [transaction_document(8, "USD")],
    }
    for oid in (NEW_OID, OWNER):
        assert_refused(client.put(f"/user-portfolio/{oid}", json=document), oid)
    assert state(client) == before
    assert client.get(f"/customer/{NEW_OID}/exists").json()["exists"] is False


def test_import_with_an_invalid_new_field_is_400_and_changes_nothing(client: TestClient) -> None:
    before = state(client)
    for fields in [{"mcc": "541"}, {"mcc": "54a1"}, {"merchant": "M" * 101}, {"account_id": "7"}]:
        document = {
            "user": {"name": "Ledger Import"},
            "bank_accounts": [account_document(7, "USD", 10.0)],
            "transactions": [{**transaction_document(7, "USD"), **fields}],
        }
        assert_refused(client.put(f"/user-portfolio/{OWNER}", json=document), fields)
    assert state(client) == before


def comparable(item: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in item.items() if key not in ("id", "customer_oid")}


def test_export_then_import_elsewhere_keeps_the_ledger(client: TestClient) -> None:
    euros, dollars = new_account(client, "EUR"), new_account(client, "USD", balance=5)
    posted(client, account_id=euros, amount=-12.5, merchant="Bakery", mcc="5462")
    posted(client, account_id=dollars, amount=3.25, date="2026-09-15")
    posted(client, account_id=euros, amount=0.3, description="same day, later")
    source = portfolio(client, OWNER)
    assert client.put(f"/user-portfolio/{NEW_OID}", json=source).status_code == 201
    copied = portfolio(client, NEW_OID)

    assert len(copied["bank_accounts"]) == len(source["bank_accounts"])
    ids = {
        old["id"]: new["id"]
        for old, new in zip(source["bank_accounts"], copied["bank_accounts"], strict=True)
    }
    for old, new in zip(source["bank_accounts"], copied["bank_accounts"], strict=True):
        assert comparable(new) == comparable(old)
    assert len(copied["transactions"]) == len(source["transactions"])
    for old, new in zip(source["transactions"], copied["transactions"], strict=True):
        translated = None if old["account_id"] is None else ids[old["account_id"]]
        assert comparable(new) == {**comparable(old), "account_id": translated}
    linked = [item for item in copied["transactions"] if item["account_id"] is not None]
    assert {ids[euros], ids[dollars]} <= {item["account_id"] for item in linked}
    assert portfolio(client, OWNER) == source


# --- 7. Concurrent postings ----------------------------------------------------------------------


async def post_concurrently(
    base_url: str, account_id: int, amounts: list[float], day: str
) -> list[int]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        responses = await asyncio.gather(
            *(
                http.post(
                    f"/customer/{OWNER}/transactions",
                    json={
                        **VALID["transactions"],
                        "account_id": account_id,
                        "amount": amount,
                        "date": day,
                    },
                )
                for amount in amounts
            )
        )
    return [response.status_code for response in responses]


def test_concurrent_postings_on_one_account_lose_nothing(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.base_url, timeout=30) as http:
        body = {**VALID["bank-accounts"], "currency": "USD", "balance": 1200.75}
        response = http.post(f"/customer/{OWNER}/bank-accounts", json=body)
        assert response.status_code == 201, response.text
        account_id: int = response.json()["id"]
        amounts = [(101 * n + 7) / 100 * (-1) ** n for n in range(20)]
        day = sandbox_today().isoformat()
        statuses = asyncio.run(post_concurrently(live_server.base_url, account_id, amounts, day))
        assert statuses == [201] * 20
        final = http.get(f"/customer/{OWNER}/bank-accounts/{account_id}").json()["balance"]
        assert cents(final) == 120075 + sum(cents(amount) for amount in amounts)
        listed = http.get(f"/customer/{OWNER}/transactions", params={"limit": 1000}).json()
        mine = sorted(cents(item["amount"]) for item in listed if item["account_id"] == account_id)
        assert mine == sorted(cents(amount) for amount in amounts)
