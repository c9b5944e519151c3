"""A customer's investment performance over a period, from today's holdings and the price history.

The holdings are the customer's assets as they are today, valued on each business day of the
period at that day's close (market.py), converted into the reporting currency at the bank's
fixed rates and summed in whole cents. What it answers is how today's holdings would have done
over the period: it does not replay the trades made during it. A holding whose symbol has no
prices is listed as unpriced, never left out silently, and counts in no value.
"""

import datetime as dt
import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from sqlmodel import Session, col, select

from bank import market
from bank.clock import today
from bank.customers import get_customer
from bank.money import to_reporting_cents
from models import (
    REPORTING_CURRENCY,
    Asset,
    BenchmarkReturn,
    HoldingPerformance,
    Performance,
    PerformanceValue,
)

Period = Literal["1M", "3M", "6M", "YTD", "1Y"]
PERIOD_MONTHS = {"1M": 1, "3M": 3, "6M": 6, "1Y": 12}
TRADING_DAYS_A_YEAR = 252


def performance(session: Session, /, *, customer_oid: str, period: Period) -> Performance:
    get_customer(session, customer_oid=customer_oid)
    assets = session.exec(
        select(Asset).where(col(Asset.customer_oid) == customer_oid).order_by(col(Asset.id))
    ).all()
    end = today(session)
    start = (
        dt.date(end.year, 1, 1) if period == "YTD" else _months_before(end, PERIOD_MONTHS[period])
    )
    days = [day for day in _days(start, end) if day.weekday() < 5]
    totals = [0] * len(days)
    holdings = []
    for asset in assets:
        values = _holding_values(asset.symbol, Decimal(str(asset.quantity)), days)
        if values is None:
            holdings.append(HoldingPerformance(symbol=asset.symbol, priced=False))
            continue
        if not values:  # no business day in the period yet (YTD on 1 January, a Saturday)
            holdings.append(HoldingPerformance(symbol=asset.symbol, priced=True))
            continue
        totals = [total + value for total, value in zip(totals, values, strict=True)]
        holdings.append(
            HoldingPerformance(
                symbol=asset.symbol,
                priced=True,
                start_value=_money(values[0]),
                end_value=_money(values[-1]),
                return_pct=_return_pct(values[0], values[-1]),
            )
        )
    benchmark = _holding_values(market.BENCHMARK, Decimal(1), days) or [0]
    return Performance(
        period=period,
        start=days[0] if days else start,
        end=days[-1] if days else end,
        currency=REPORTING_CURRENCY,
        start_value=_money(totals[0]) if totals else Decimal(0),
        end_value=_money(totals[-1]) if totals else Decimal(0),
        return_pct=_return_pct(totals[0], totals[-1]) if totals else None,
        volatility_pct=_volatility_pct(totals),
        max_drawdown_pct=_max_drawdown_pct(totals),
        benchmark=BenchmarkReturn(
            symbol=market.BENCHMARK, return_pct=_return_pct(benchmark[0], benchmark[-1])
        ),
        holdings=holdings,
        values=[
            PerformanceValue(date=day, value=_money(total))
            for day, total in zip(days, totals, strict=True)
        ],
    )


def _holding_values(symbol: str, quantity: Decimal, days: Sequence[dt.date]) -> list[int] | None:
    """The holding's value on each day, in reporting cents; None when it has no prices."""
    found = market.SECURITIES.get(symbol.upper())
    if found is None or not days:
        return None if found is None else []
    closes = market.daily_closes_cents(found.symbol, days[0], days[-1])
    first = days[0]
    values = []
    for day in days:
        close = closes[(day - first).days]
        cents = int((quantity * close).to_integral_value(ROUND_HALF_EVEN))
        values.append(to_reporting_cents(cents, found.currency))
    return values


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=n) for n in range((end - start).days + 1)]


def _months_before(day: dt.date, months: int) -> dt.date:
    """The same day `months` earlier, or the month's last day where it has no such day."""
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    for last in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month + 1, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("every month has a 28th")


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _return_pct(start_cents: int, end_cents: int) -> float | None:
    if not start_cents:
        return None
    return round((end_cents - start_cents) / start_cents * 100, 2)


def _volatility_pct(values: Sequence[int]) -> float | None:
    """The annualized standard deviation of the daily log-returns, in percent."""
    if len(values) < 3 or min(values) <= 0:
        return None
    returns = [math.log(b / a) for a, b in zip(values, values[1:], strict=False)]
    mean = sum(returns) / len(returns)
    variance = sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)
    return round(math.sqrt(variance * TRADING_DAYS_A_YEAR) * 100, 2)


def _max_drawdown_pct(values: Sequence[int]) -> float | None:
    """The largest fall from a peak to a later value, in percent of the peak."""
    if not values or max(values) <= 0:
        return None
    peak, deepest = values[0], 0.0
    for value in values:
        peak = max(peak, value)
        if peak > 0:
            deepest = max(deepest, (peak - value) / peak)
    return round(deepest * 100, 2)
