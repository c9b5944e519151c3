"""Amounts in the reporting currency, at fixed, documented rates."""

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from fields import to_cents
from models import REPORTING_CURRENCY, Currency

# Value of one unit in USD. A sandbox needs totals that are stable and reproducible, not live
# quotes.
USD_PER_UNIT: dict[Currency, Decimal] = {
    Currency.USD: Decimal("1"),
    Currency.EUR: Decimal("1.08"),
    Currency.GBP: Decimal("1.27"),
    Currency.CHF: Decimal("1.13"),
    Currency.CAD: Decimal("0.73"),
    Currency.JPY: Decimal("0.0067"),
}
ZERO = Decimal("0.00")


def to_reporting_currency(amount: Decimal, currency: Currency | str) -> Decimal:
    """Convert an amount into the reporting currency, rounded to the cent (banker's rounding)."""
    rate = USD_PER_UNIT[Currency(currency)] / USD_PER_UNIT[REPORTING_CURRENCY]
    return to_cents(amount * rate)


def total_in_reporting_currency(amounts: Iterable[tuple[Decimal, Currency | str]]) -> Decimal:
    return sum((to_reporting_currency(a, c) for a, c in amounts), ZERO)


def totals_by(items: Iterable[tuple[str, Decimal, Currency | str]]) -> dict[str, Decimal]:
    """Sum (key, amount, currency) triples per key in the reporting currency, keys sorted."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for key, amount, currency in items:
        totals[key] += to_reporting_currency(amount, currency)
    return dict(sorted(totals.items()))
