"""Market data: the securities customers hold, a benchmark index, and their daily closes.

Prices come from a seeded random walk per security: daily log-returns drawn from a normal
distribution with its asset class's drift and volatility (bonds about 5% a year, stocks 20%,
crypto 70%). A security's generator is seeded from its symbol alone and draws one return per
trading day from WALK_START on, so a day's close never depends on which range is asked for, or
when: the same request gives the same bytes. Stocks, funds, bonds, commodities and the index
trade on business days (Monday to Friday); crypto every day. The walk is scaled so that each
security closes at its reference price on ANCHOR_DATE, near the prices the synthetic customers
were generated with.
"""

import datetime as dt
import hashlib
import math
import random
from array import array
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache

from sqlmodel import Session

from bank.clock import today
from bank.ledger import days_asked
from errors import SecurityNotFound
from models import DayRange, PricePoint, SecurityPublic

WALK_START = dt.date(2016, 1, 4)
ANCHOR_DATE = dt.date(2026, 11, 2)
TRADING_DAYS_A_YEAR = {"crypto": 365}  # every other class: 252
# (annual drift, annual volatility) of each class's log-returns.
WALKS: dict[str, tuple[float, float]] = {
    "stock": (0.08, 0.20),
    "etf": (0.07, 0.16),
    "index": (0.07, 0.16),
    "mutual_fund": (0.06, 0.12),
    "bond": (0.02, 0.05),
    "crypto": (0.15, 0.70),
    "commodity": (0.04, 0.15),
    "real_estate": (0.05, 0.12),
    "cash": (0.0, 0.0),
}
# What synthetic customers hold: (symbol, price range in whole currency units) per asset type.
# A security closes at the middle of its range on ANCHOR_DATE.
PRICE_RANGES: dict[str, list[tuple[str, int, int]]] = {
    "stock": [("AAPL", 170, 240), ("MSFT", 330, 460), ("NVDA", 90, 190), ("AMZN", 140, 230),
              ("GOOGL", 130, 200), ("JPM", 180, 260), ("KO", 55, 75), ("TSLA", 160, 420)],
    "etf": [("VTI", 220, 300), ("SPY", 480, 620), ("QQQ", 400, 540), ("VXUS", 55, 70)],
    "bond": [("US10Y", 95, 102), ("US2Y", 98, 101), ("MUNI-CA", 96, 104), ("CORP-IG", 92, 103)],
    "mutual_fund": [("VWELX", 38, 46), ("FXAIX", 170, 220), ("VBTLX", 9, 11)],
    "crypto": [("BTC", 55_000, 110_000), ("ETH", 2_200, 4_200), ("SOL", 120, 260)],
    "commodity": [("XAU", 2_300, 2_900), ("XAG", 27, 36)],
    "real_estate": [("VNQ", 80, 100), ("O", 50, 62)],
    "cash": [("MMF-USD", 1, 1)],
}  # fmt: skip
FOREIGN_STOCKS = [("ASML", 600, 900, "EUR"), ("NESN", 80, 110, "CHF"), ("SHEL", 24, 30, "GBP")]
BENCHMARK = "SPX"
NAMES = {
    "AAPL": "Apple Inc.", "MSFT": "Microsoft Corporation", "NVDA": "NVIDIA Corporation",
    "AMZN": "Amazon.com, Inc.", "GOOGL": "Alphabet Inc. Class A", "JPM": "JPMorgan Chase & Co.",
    "KO": "The Coca-Cola Company", "TSLA": "Tesla, Inc.", "ASML": "ASML Holding N.V.",
    "NESN": "Nestlé S.A.", "SHEL": "Shell plc", "VTI": "Vanguard Total Stock Market ETF",
    "SPY": "SPDR S&P 500 ETF Trust", "QQQ": "Invesco QQQ Trust",
    "VXUS": "Vanguard Total International Stock ETF", "US10Y": "US Treasury 10-year note",
    "US2Y": "US Treasury 2-year note", "UST-2Y": "US Treasury 2-year note (sample holding)",
    "MUNI-CA": "California municipal bond", "MUNI-NY-2031": "New York municipal bond 2031",
    "CORP-IG": "Investment-grade corporate bond", "VWELX": "Vanguard Wellington Fund",
    "FXAIX": "Fidelity 500 Index Fund", "VBTLX": "Vanguard Total Bond Market Index Fund",
    "BTC": "Bitcoin", "ETH": "Ether", "SOL": "Solana", "XAU": "Gold (troy ounce)",
    "XAG": "Silver (troy ounce)", "VNQ": "Vanguard Real Estate ETF", "O": "Realty Income Corp.",
    "HQ-BUILDING": "Headquarters building (appraised)", "MMF-USD": "US dollar money market fund",
    BENCHMARK: "S&P 500 index (benchmark)",
}  # fmt: skip


@dataclass(frozen=True)
class Security:
    symbol: str
    asset_type: str
    currency: str
    reference_price: float  # the close on ANCHOR_DATE


def _catalogue() -> dict[str, Security]:
    """Every symbol a sample or synthetic customer holds, and the benchmark index."""
    found = {
        symbol: Security(symbol, asset_type, "USD", (low + high) / 2)
        for asset_type, listed in PRICE_RANGES.items()
        for symbol, low, high in listed
    }
    found |= {
        symbol: Security(symbol, "stock", currency, (low + high) / 2)
        for symbol, low, high, currency in FOREIGN_STOCKS
    }
    # Held by sample customers only (seed.py).
    found |= {
        "UST-2Y": Security("UST-2Y", "bond", "USD", 99.5),
        "MUNI-NY-2031": Security("MUNI-NY-2031", "bond", "USD", 98.0),
        "HQ-BUILDING": Security("HQ-BUILDING", "real_estate", "USD", 2_500_000.0),
        BENCHMARK: Security(BENCHMARK, "index", "USD", 5_900.0),
    }
    return dict(sorted(found.items()))


SECURITIES = _catalogue()


def list_securities() -> list[SecurityPublic]:
    return [
        SecurityPublic(
            symbol=s.symbol, name=NAMES[s.symbol], asset_type=s.asset_type, currency=s.currency
        )
        for s in SECURITIES.values()
    ]


def security(symbol: str) -> Security:
    """The security of `symbol` (any case); SecurityNotFound (404) for another."""
    found = SECURITIES.get(symbol.upper())
    if found is None:
        raise SecurityNotFound(symbol)
    return found


def trades_on(security: Security, day: dt.date) -> bool:
    return security.asset_type == "crypto" or day.weekday() < 5


def prices(session: Session, /, *, symbol: str, query: DayRange) -> list[PricePoint]:
    """The security's closes from `from` to `to` (inclusive; by default the 30 days up to
    today), oldest first: one a trading day, none before WALK_START nor after today."""
    found = security(symbol)
    last = today(session)
    start, end = days_asked(query, last)
    levels, scale = _scaled_walk(found, last)
    points = []
    day = max(start, WALK_START)
    while day <= min(end, last):
        if trades_on(found, day):
            points.append(PricePoint(date=day, close=_close(levels[_index(day)], scale)))
        day += dt.timedelta(days=1)
    return points


def daily_closes_cents(symbol: str, start: dt.date, end: dt.date) -> list[int]:
    """The security's close in cents on every calendar day from `start` through `end`: on a
    day without trading, the last close before it (as GET .../prices ends)."""
    levels, scale = _scaled_walk(SECURITIES[symbol], end)
    return [
        int(_close(levels[_index(start + dt.timedelta(days=n))], scale) * 100)
        for n in range((end - start).days + 1)
    ]


def _scaled_walk(security: Security, through: dt.date) -> tuple["array[float]", float]:
    """The security's walk through `through` at least, and the shift of its log-levels that
    makes it close at the reference price on ANCHOR_DATE. The walk runs to a year's end (and
    to ANCHOR_DATE at least), so the reads of one year share one."""
    levels = _walk(security, dt.date(max(through, ANCHOR_DATE).year, 12, 31))
    return levels, math.log(security.reference_price) - levels[_index(ANCHOR_DATE)]


def _close(level: float, scale: float) -> Decimal:
    return Decimal(math.exp(level + scale)).quantize(CENT)


def _index(day: dt.date) -> int:
    return max((day - WALK_START).days, 0)


CENT = Decimal("0.01")


# One walk per security and year asked for, each through that year's end: 35 entries of about
# 32 KB (doubles, ten years) a year.
@lru_cache(maxsize=len(SECURITIES))
def _walk(security: Security, through: dt.date) -> "array[float]":
    """The walk's log-level on every calendar day from WALK_START through `through` (a day
    without trading keeps the last)."""
    drift, volatility = WALKS[security.asset_type]
    per_year = TRADING_DAYS_A_YEAR.get(security.asset_type, 252)
    mean = (drift - volatility**2 / 2) / per_year
    deviation = volatility / math.sqrt(per_year)
    seed = int.from_bytes(hashlib.sha256(security.symbol.encode()).digest()[:8], "big")
    draw = random.Random(seed)
    level, levels = 0.0, array("d")
    day = WALK_START
    while day <= through:
        if trades_on(security, day) and day > WALK_START:
            level += draw.gauss(mean, deviation)
        levels.append(level)
        day += dt.timedelta(days=1)
    return levels
