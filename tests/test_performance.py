"""Performance: today's holdings valued on each business day at that day's close."""

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp import Client

from tests.fixtures import SAMPLE_OIDS, SANDBOX_DAY, VALID, on_sqlite_only

OID = SAMPLE_OIDS[0]  # John Doe: AAPL, VTI and US10Y, all in USD


def performance(client: TestClient, oid: str = OID, period: str = "3M") -> dict[str, Any]:
    response = client.get(f"/customer/{oid}/performance", params={"period": period})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def cents(value: float) -> int:
    return round(value * 100)


def close_on(client: TestClient, symbol: str, day: str) -> Decimal:
    (point,) = client.get(f"/securities/{symbol}/prices", params={"from": day, "to": day}).json()
    return Decimal(str(point["close"]))


@pytest.mark.parametrize("period", ["1M", "3M", "6M", "YTD", "1Y"])
def test_every_period_values_each_business_day_up_to_today(client: TestClient, period: str) -> None:
    found = performance(client, period=period)
    days = [dt.date.fromisoformat(value["date"]) for value in found["values"]]
    assert days == sorted(days) and all(day.weekday() < 5 for day in days)
    today = SANDBOX_DAY
    assert days[-1] <= today and (today - days[-1]).days < 3
    assert found["from"] == days[0].isoformat() and found["to"] == days[-1].isoformat()
    if period == "YTD":
        assert days[0].year == today.year and days[0] <= dt.date(today.year, 1, 5)
    assert found["start_value"] == found["values"][0]["value"]
    assert found["end_value"] == found["values"][-1]["value"]
    assert found["currency"] == "USD"


def test_the_totals_are_the_holdings_at_each_days_close(client: TestClient) -> None:
    found = performance(client)
    assets = {a["symbol"]: a for a in client.get(f"/user-portfolio/{OID}").json()["assets"]}
    first = found["from"]
    for holding in found["holdings"]:
        quantity = Decimal(str(assets[holding["symbol"]]["quantity"]))
        value = quantity * close_on(client, holding["symbol"], first)
        assert cents(holding["start_value"]) == int(
            (value * 100).to_integral_value(ROUND_HALF_EVEN)
        )
    # Exact, in cents: the total is the sum of the holdings.
    assert sum(cents(h["start_value"]) for h in found["holdings"]) == cents(found["start_value"])
    assert sum(cents(h["end_value"]) for h in found["holdings"]) == cents(found["end_value"])
    expected = round((found["end_value"] - found["start_value"]) / found["start_value"] * 100, 2)
    assert found["return_pct"] == pytest.approx(expected, abs=0.01)


def test_drawdown_volatility_and_benchmark(client: TestClient) -> None:
    found = performance(client, period="1Y")
    values = [v["value"] for v in found["values"]]
    deepest, peak = 0.0, values[0]
    for value in values:
        peak = max(peak, value)
        deepest = max(deepest, (peak - value) / peak)
    assert found["max_drawdown_pct"] == pytest.approx(deepest * 100, abs=0.01)
    assert 0 < found["volatility_pct"] < 60
    spx = [close_on(client, "SPX", day) for day in (found["from"], found["to"])]
    assert found["benchmark"]["symbol"] == "SPX"
    assert found["benchmark"]["return_pct"] == pytest.approx(
        float((spx[1] - spx[0]) / spx[0] * 100), abs=0.01
    )


def test_a_holding_without_prices_is_listed_and_counts_in_no_value(client: TestClient) -> None:
    before = performance(client)
    unknown = {**VALID["assets"], "symbol": "PRIVATE-ART", "asset_type": "commodity"}
    assert client.post(f"/customer/{OID}/assets", json=unknown).status_code == 201
    after = performance(client)
    assert {"symbol": "PRIVATE-ART", "priced": False, "start_value": None, "end_value": None,
            "return_pct": None} in after["holdings"]  # fmt: skip
    assert after["values"] == before["values"]


def test_a_customer_without_holdings_has_zero_values(client: TestClient) -> None:
    oid = client.post("/register-customer", json={"name": "Only Cash"}).json()["customer_oid"]
    found = performance(client, oid=oid)
    assert found["holdings"] == [] and found["start_value"] == found["end_value"] == 0
    assert found["return_pct"] is None and found["volatility_pct"] is None


@on_sqlite_only
@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/customer/{OID}/performance?period=2Y", 400),
        (f"/customer/{OID}/performance?period=1m", 400),
        ("/customer/123e4567-e89b-42d3-a456-426614174999/performance", 404),
    ],
)
def test_bad_requests_say_why(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status and response.json()["detail"]


@pytest.mark.anyio
async def test_mcp_get_performance_matches_rest(mcp: Client, client: TestClient) -> None:
    result = await mcp.call_tool("get_performance", {"customer_oid": OID, "period": "6M"})
    assert result.structured_content == performance(client, period="6M")
