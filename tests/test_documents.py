"""Lists and portfolios are built straight from rows (bank/documents.py), not from models: they
must still be, byte for byte, what the models serialize, and the same on both engines."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from models import Portfolio
from tests.fixtures import NEW_OID, SAMPLE_OIDS, Shared, postgres_unavailable

# Floats that print differently in different places (shortest repr, 17 digits, exponents),
# integral floats, every currency, signs, text needing escapes, and empty optional fields.
QUANTITIES = [0.30000000000000004, 1e-07, 123456789.12345679, 1e16, 5, 2.5e-5, 1 / 3]
CURRENCIES = ["USD", "EUR", "GBP", "CHF", "JPY", "CAD"]
TEXT = 'Café "quoted" \\ back ☕ 𝄞 \u2028 tab\t end'


def awkward_document() -> dict[str, Any]:
    assets = [
        {
            "asset_type": "stock",
            "symbol": f"S{n}",
            "quantity": quantity,
            "current_value": 1234.5 + n,
            "currency": CURRENCIES[n % 6],
            "cost_basis": [None, 0, 1000.01, 9999999999999.99][n % 4],
        }
        for n, quantity in enumerate(QUANTITIES)
    ]
    accounts = [
        {
            "account_number": f"ACC-{n}",
            "account_type": "checking",
            "balance": balance,
            "currency": currency,
            "iban": None if n % 2 else "DE89370400440532013000",
            "institution_id": 1 + n % 3,
        }
        for n, (balance, currency) in enumerate(
            zip([-12.34, 0.05, 0.005, 1e12, 7, 0], CURRENCIES, strict=True)
        )
    ]
    transactions = [
        {
            "date": f"2026-0{1 + n % 9}-1{n % 10}",
            "amount": -0.01 * (n + 1),
            "description": TEXT,
            "category": "Food & drink",
            "type": "withdrawal",
            "symbol": None,
            "currency": CURRENCIES[n % 6],
        }
        for n in range(12)
    ]
    spending = [
        {
            "category": ["Rent", "Food", "Travel"][n % 3],
            "amount": 100.1 * n,
            "month": f"2026-0{1 + n % 3}",
            "currency": CURRENCIES[n % 6],
        }
        for n in range(9)
    ]
    derivatives = [
        {
            "type": "option",
            "option_type": None,
            "side": "buy",
            "underlying": "SPY",
            "quantity": 0.1,
            "strike_price": None,
            "premium": 2.5,
            "expiration_date": "2027-01-15",
            "execution_date": "2026-01-15",
            "strategy": TEXT[:50],
            "status": "open",
            "counterparty": None,
            "currency": "EUR",
        }
    ]
    return {
        "user": {"name": "Zoë Ångström-Ðặng"},
        "assets": assets,
        "bank_accounts": accounts,
        "transactions": transactions,
        "spending": spending,
        "derivative_transactions": derivatives,
    }


def as_the_models_serialize(body: bytes) -> bytes:
    adapter = TypeAdapter(Portfolio)
    return adapter.dump_json(adapter.validate_json(body), by_alias=True)


def read_back(client: TestClient) -> list[bytes]:
    """The awkward document stored as a new customer, read back whole and as pages."""
    stored = client.put(f"/user-portfolio/{NEW_OID}", json=awkward_document())
    assert stored.status_code == 201, stored.text
    urls = [f"/user-portfolio/{oid}" for oid in [*SAMPLE_OIDS, NEW_OID]]
    urls += [f"/customer/{NEW_OID}/transactions?limit=5", f"/customer/{NEW_OID}/assets"]
    urls += ["/customers?limit=3"]
    answers = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, response.text
        answers.append(response.content + response.headers.get("link", "").encode())
    return answers


def test_answers_are_the_bytes_the_models_serialize(client: TestClient) -> None:
    awkward = client.put(f"/user-portfolio/{NEW_OID}", json=awkward_document())
    assert awkward.status_code == 201, awkward.text
    for oid in [*SAMPLE_OIDS, NEW_OID]:
        body = client.get(f"/user-portfolio/{oid}").content
        assert body == as_the_models_serialize(body)
    # The PUT's answer went through the Portfolio model and FastAPI's own serialization (the
    # values come from the same rows: the summary's arithmetic is test_portfolio.py's).
    assert client.get(f"/user-portfolio/{NEW_OID}").content == awkward.content


def test_floats_come_back_exactly_as_sent(client: TestClient) -> None:
    client.put(f"/user-portfolio/{NEW_OID}", json=awkward_document())
    portfolio = json.loads(client.get(f"/user-portfolio/{NEW_OID}").content)
    assert [asset["quantity"] for asset in portfolio["assets"]] == [float(q) for q in QUANTITIES]
    assert all(type(asset["quantity"]) is float for asset in portfolio["assets"])
    assert portfolio["transactions"][0]["description"] == TEXT


def test_both_engines_answer_the_same_bytes(shared: Shared) -> None:
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    sqlite, postgresql = (read_back(shared.client(backend)) for backend in ("sqlite", "postgresql"))
    for one, other in zip(sqlite, postgresql, strict=True):
        assert one == other
