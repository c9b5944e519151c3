"""Market data: every held symbol and a benchmark, with reproducible daily closes."""

import datetime as dt
import math
import statistics
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp import Client

import seed
from bank import market
from tests.fixtures import SANDBOX_DAY, on_sqlite_only

pytestmark = on_sqlite_only  # prices are computed, not stored: no engine in the way


def sandbox_today() -> dt.date:
    """The sandbox's today in the tests' databases."""
    return SANDBOX_DAY


def closes(client: TestClient, symbol: str, **days: str) -> list[dict[str, Any]]:
    response = client.get(f"/securities/{symbol}/prices", params=days)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


def test_every_held_symbol_and_a_benchmark_are_listed(client: TestClient) -> None:
    listed = {s["symbol"]: s for s in client.get("/securities").json()}
    held = {asset[1] for customer in seed.SAMPLE_CUSTOMERS for asset in customer["holdings"]}
    held |= {symbol for pool in market.PRICE_RANGES.values() for symbol, *_ in pool}
    held |= {symbol for symbol, *_ in market.FOREIGN_STOCKS}
    assert held <= set(listed)
    assert listed["SPX"]["asset_type"] == "index"
    assert listed["ASML"]["currency"] == "EUR" and listed["BTC"]["asset_type"] == "crypto"
    assert all(s["name"] and s["currency"] for s in listed.values())


def test_one_close_a_business_day_and_every_day_for_crypto(client: TestClient) -> None:
    days = {"from": "2026-09-01", "to": "2026-09-30"}
    stock = [dt.date.fromisoformat(p["date"]) for p in closes(client, "AAPL", **days)]
    assert len(stock) == 22 and all(day.weekday() < 5 for day in stock)
    crypto = [dt.date.fromisoformat(p["date"]) for p in closes(client, "BTC", **days)]
    assert len(crypto) == 30 and crypto == sorted(crypto)


def test_the_same_request_gives_the_same_closes_and_ranges_agree(client: TestClient) -> None:
    year = closes(client, "MSFT", **{"from": "2025-01-01", "to": "2025-12-31"})
    assert closes(client, "MSFT", **{"from": "2025-01-01", "to": "2025-12-31"}) == year
    march = closes(client, "msft", **{"from": "2025-03-01", "to": "2025-03-31"})
    assert march == [p for p in year if p["date"].startswith("2025-03")]
    assert all(isinstance(p["close"], float) and p["close"] > 0 for p in year)


def test_by_default_the_last_30_days_and_never_after_today(client: TestClient) -> None:
    today = sandbox_today()
    recent = closes(client, "ETH")
    assert recent[-1]["date"] == today.isoformat()
    assert recent[0]["date"] == (today - dt.timedelta(days=29)).isoformat()
    later = {"from": (today - dt.timedelta(days=3)).isoformat()}
    future = closes(client, "ETH", **later, to=(today + dt.timedelta(days=400)).isoformat())
    assert future[-1]["date"] == today.isoformat() and len(future) == 4
    # Without `to`, up to today.
    assert closes(client, "ETH", **later) == future


@pytest.mark.parametrize(
    ("symbol", "low", "high"), [("AAPL", 0.16, 0.24), ("US10Y", 0.03, 0.07), ("BTC", 0.6, 0.8)]
)
def test_volatility_is_the_asset_classes(
    client: TestClient, symbol: str, low: float, high: float
) -> None:
    history = closes(client, symbol, **{"from": "2016-01-01", "to": "2026-10-31"})
    returns = [
        math.log(b["close"] / a["close"]) for a, b in zip(history, history[1:], strict=False)
    ]
    per_year = 365 if symbol == "BTC" else 252
    assert low <= statistics.pstdev(returns) * math.sqrt(per_year) <= high


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/securities/NOPE/prices", 404),
        ("/securities/AAPL/prices?from=2026-05-01&to=2026-04-01", 400),
        ("/securities/AAPL/prices?from=2026-13-01", 400),
        ("/securities/AAPL/prices?since=2026-01-01", 400),
    ],
)
def test_bad_requests_say_why(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert response.json()["detail"]


@pytest.mark.anyio
async def test_mcp_market_tools_match_rest_and_fit(mcp: Client, client: TestClient) -> None:
    listed = await mcp.call_tool("list_securities", {})
    assert listed.structured_content == {"result": client.get("/securities").json()}
    days = {"from": "2026-10-01", "to": "2026-10-31"}
    month = await mcp.call_tool(
        "get_prices", {"symbol": "SPX", "from_date": days["from"], "to_date": days["to"]}
    )
    rest = closes(client, "SPX", **days)
    assert month.structured_content == {
        "prices": rest, "prices_shown": len(rest), "prices_total": len(rest), "hint": None
    }  # fmt: skip
    # Ten years of daily crypto closes are more than an agent's context takes.
    decade = await mcp.call_tool("get_prices", {"symbol": "BTC", "from_date": "2016-01-01"})
    found = decade.structured_content
    assert found is not None and found["hint"]
    everything = closes(client, "BTC", **{"from": "2016-01-01", "to": "2016-01-30"})
    assert found["prices_shown"] < found["prices_total"] and found["prices"][0]["date"] > "2016"
    assert everything[0]["date"] == "2016-01-04"  # the walk's first day
    unknown = await mcp.call_tool("get_prices", {"symbol": "NOPE"})
    assert unknown.is_error
