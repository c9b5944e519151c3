"""Amounts in the reporting currency, at fixed, documented rates, in whole cents."""

from decimal import Decimal
from fractions import Fraction

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
# Reporting-currency value of one unit as an exact fraction, by currency code (a Currency is
# its code).
RATES: dict[str, Fraction] = {
    code: Fraction(USD_PER_UNIT[code]) / Fraction(USD_PER_UNIT[REPORTING_CURRENCY])
    for code in Currency
}


def as_cents(amount: Decimal) -> int:
    """An amount in whole cents, as it is stored (fields.MoneyColumn)."""
    return int(amount.scaleb(2).to_integral_value())


def unrealized_gain(value_cents: int, cost_cents: int | None) -> tuple[int | None, float | None]:
    """An asset's unrealized gain in cents, and as a percentage of its cost rounded to two
    places: (None, None) when the cost is unknown, no percentage of a zero cost."""
    if cost_cents is None:
        return None, None
    gain = value_cents - cost_cents
    if not cost_cents:
        return gain, None
    return gain, round(float(Decimal(gain) / Decimal(cost_cents) * 100), 2)


def to_reporting_cents(cents: int, currency: str) -> int:
    """An amount in cents converted into the reporting currency, rounded to the cent, half to
    even (banker's rounding): exact integer arithmetic, no floating point."""
    rate = RATES[currency]
    numerator, denominator = rate.numerator, rate.denominator
    if denominator == 1:
        return cents * numerator
    quotient, remainder = divmod(cents * numerator, denominator)  # remainder >= 0
    if 2 * remainder > denominator or (2 * remainder == denominator and quotient % 2):
        quotient += 1
    return quotient
