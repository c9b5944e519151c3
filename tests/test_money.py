"""Conversions into the reporting currency: exact integer cents, rounded half to even."""

from decimal import ROUND_HALF_EVEN, Decimal

import pytest

from bank.money import USD_PER_UNIT, to_reporting_cents
from models import Currency


@pytest.mark.parametrize(
    ("cents", "currency", "expected"),
    [
        (50, Currency.GBP, 64),  # 63.5 cents: half to the even 64
        (-50, Currency.GBP, -64),
        (150, Currency.CAD, 110),  # 109.5: half to the even 110
        (250, Currency.CAD, 182),  # 182.5: half to the even 182
        (5, Currency.EUR, 5),  # 5.4: down
        (100_000, Currency.JPY, 670),  # 1,000 JPY x 0.0067
        (-12_345, Currency.USD, -12_345),
    ],
)
def test_half_cents_round_to_even(cents: int, currency: Currency, expected: int) -> None:
    assert to_reporting_cents(cents, currency) == expected


@pytest.mark.parametrize("currency", list(Currency))
def test_the_same_as_decimal_arithmetic(currency: Currency) -> None:
    rate = USD_PER_UNIT[currency] / USD_PER_UNIT[Currency.USD]
    for cents in [*range(-2_000, 2_000, 7), 10**15 - 1, -(10**15) + 1]:
        exact = (Decimal(cents).scaleb(-2) * rate).quantize(Decimal("0.01"), ROUND_HALF_EVEN)
        assert to_reporting_cents(cents, currency) == int(exact.scaleb(2))
