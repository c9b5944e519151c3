"""Sample data: three institutions and the five sample customers, each with a full portfolio.

Run `python seed.py` to create the schema and load the samples into an empty database at
DATABASE_URL. The app does the same on its first start.
"""

import argparse
import datetime as dt
import logging
import random
import sys
import time
import uuid
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from activity import Account, Calendar, Customer, Holding, Prices
from bank.clock import start_clock
from bank.money import as_cents
from db import take_setup_lock, write_engine
from models import (
    AccountType,
    AssetType,
    Currency,
    DerivativeStatus,
    DerivativeType,
    Institution,
    InstitutionType,
    OptionType,
    Side,
    User,
)
from synthetic import Batch, write_batch

logger = logging.getLogger(__name__)

FIRST_NATIONAL, SUMMIT, GLOBAL_EXCHANGE = (
    "First National Bank",
    "Summit Securities",
    "Global Derivatives Exchange",
)

INSTITUTIONS = [
    (FIRST_NATIONAL, "123456789", InstitutionType.BANK),
    (SUMMIT, "987654321", InstitutionType.BROKER),
    (GLOBAL_EXCHANGE, "555000111", InstitutionType.EXCHANGE),
]

D = Decimal
SAMPLE_DAY = dt.date(2026, 11, 2)  # the day the derivatives' dates below are written for


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# Each customer: a persona and monthly income (activity.py) and who pays it; accounts (number,
# type, balance today, currency, iban, institution); holdings (type, symbol, quantity,
# currency); derivatives. Their transactions, spending, cost bases and values are generated: a
# year of history up to the sandbox's today (activity.py), the same for the same today.
SAMPLE_CUSTOMERS: list[dict[str, Any]] = [
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440001",
        "name": "John Doe",
        "persona": "balanced",
        "income": D("6500.00"),
        "payer": "Northwind Traders",
        "accounts": [
            ("ACC-001", AccountType.CHECKING, D("25000.00"), Currency.USD, None, FIRST_NATIONAL),
            ("ACC-002", AccountType.SAVINGS, D("40000.00"), Currency.USD, None, FIRST_NATIONAL),
        ],
        "holdings": [
            (AssetType.STOCK, "AAPL", D(100), Currency.USD),
            (AssetType.ETF, "VTI", D(50), Currency.USD),
            (AssetType.BOND, "US10Y", D(20), Currency.USD),
        ],
        "derivatives": [],
    },
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440002",
        "name": "Jane Smith",
        "persona": "aggressive",
        "income": D("9000.00"),
        "payer": "Lighthouse Media",
        "accounts": [
            ("ACC-101", AccountType.CHECKING, D("8200.55"), Currency.USD, None, FIRST_NATIONAL),
            ("BRK-101", AccountType.BROKERAGE, D("15400.00"), Currency.USD, None, SUMMIT),
        ],
        "holdings": [
            (AssetType.STOCK, "TSLA", D(40), Currency.USD),
            (AssetType.STOCK, "NVDA", D(60), Currency.USD),
            (AssetType.CRYPTO, "BTC", D("0.5"), Currency.USD),
            (AssetType.CRYPTO, "ETH", D(4), Currency.USD),
        ],
        "derivatives": [
            (
                DerivativeType.OPTION,
                OptionType.CALL,
                Side.BUY,
                "AAPL",
                5,
                D("160.00"),
                D("4.25"),
                "2026-12-18",
                "2026-09-15",
                "long call",
                DerivativeStatus.OPEN,
                GLOBAL_EXCHANGE,
            ),
            (
                DerivativeType.FUTURE,
                None,
                Side.BUY,
                "ES",
                1,
                D("5850.00"),
                None,
                "2026-12-18",
                "2026-10-01",
                "index exposure",
                DerivativeStatus.OPEN,
                GLOBAL_EXCHANGE,
            ),
            (
                DerivativeType.OPTION,
                OptionType.PUT,
                Side.SELL,
                "TSLA",
                2,
                D("200.00"),
                D("6.10"),
                "2026-10-16",
                "2026-09-10",
                "cash-secured put",
                DerivativeStatus.EXPIRED,
                GLOBAL_EXCHANGE,
            ),
        ],  # fmt: skip
    },
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440003",
        "name": "Robert Johnson",
        "persona": "conservative",
        "income": D("2400.00"),
        "payer": "State Retirement System",
        "accounts": [
            ("ACC-201", AccountType.SAVINGS, D("120000.00"), Currency.USD, None, FIRST_NATIONAL),
            ("RET-201", AccountType.RETIREMENT, D("310500.00"), Currency.USD, None, SUMMIT),
        ],
        "holdings": [
            (AssetType.BOND, "MUNI-NY-2031", D(50), Currency.USD),
            (AssetType.MUTUAL_FUND, "VWELX", D(300), Currency.USD),
            (AssetType.CASH, "MMF-USD", D(10000), Currency.USD),
        ],
        "derivatives": [],
    },
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440004",
        "name": "ABC Corporation",
        "persona": "corporate",
        "income": D("440000.00"),
        "payer": "",
        "accounts": [
            ("BUS-301", AccountType.BUSINESS, D("1250000.00"), Currency.USD, None, FIRST_NATIONAL),
            (
                "MM-301",
                AccountType.MONEY_MARKET,
                D("800000.00"),
                Currency.USD,
                None,
                FIRST_NATIONAL,
            ),
            (
                "EUR-301",
                AccountType.BUSINESS,
                D("350000.00"),
                Currency.EUR,
                "DE89370400440532013000",
                FIRST_NATIONAL,
            ),
        ],  # fmt: skip
        "holdings": [
            (AssetType.BOND, "UST-2Y", D(500), Currency.USD),
            (AssetType.COMMODITY, "XAU", D(100), Currency.USD),
            (AssetType.REAL_ESTATE, "HQ-BUILDING", D(1), Currency.USD),
        ],
        "derivatives": [
            (
                DerivativeType.FUTURE,
                None,
                Side.BUY,
                "CL",
                10,
                D("72.40"),
                None,
                "2027-01-20",
                "2026-09-10",
                "fuel hedge",
                DerivativeStatus.OPEN,
                GLOBAL_EXCHANGE,
            ),
            (
                DerivativeType.FORWARD,
                None,
                Side.SELL,
                "EURUSD",
                250000,
                D("1.09"),
                None,
                "2027-03-31",
                "2026-10-02",
                "FX hedge",
                DerivativeStatus.OPEN,
                FIRST_NATIONAL,
            ),
        ],  # fmt: skip
    },
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440005",
        "name": "Michael Chen",
        "persona": "private_banking",
        "income": D("14000.00"),
        "payer": "Hooli",
        "accounts": [
            ("ACC-501", AccountType.CHECKING, D("18750.25"), Currency.USD, None, FIRST_NATIONAL),
            (
                "ACC-502",
                AccountType.SAVINGS,
                D("42000.00"),
                Currency.EUR,
                "FR1420041010050500013M02606",
                FIRST_NATIONAL,
            ),
            (
                "ACC-503",
                AccountType.SAVINGS,
                D("15000.00"),
                Currency.GBP,
                "GB29NWBK60161331926819",
                FIRST_NATIONAL,
            ),
            ("BRK-501", AccountType.BROKERAGE, D("9100.00"), Currency.USD, None, SUMMIT),
        ],  # fmt: skip
        "holdings": [
            (AssetType.STOCK, "MSFT", D(80), Currency.USD),
            (AssetType.STOCK, "ASML", D(15), Currency.EUR),
            (AssetType.REAL_ESTATE, "VNQ", D(120), Currency.USD),
            (AssetType.CRYPTO, "SOL", D(50), Currency.USD),
        ],
        "derivatives": [
            (
                DerivativeType.OPTION,
                OptionType.PUT,
                Side.BUY,
                "MSFT",
                2,
                D("380.00"),
                D("7.80"),
                "2027-01-15",
                "2026-10-06",
                "protective put",
                DerivativeStatus.OPEN,
                GLOBAL_EXCHANGE,
            ),
        ],  # fmt: skip
    },
]
SAMPLE_MONTHS = 12


def sample_customer(number: int) -> tuple[Customer, random.Random]:
    """The number-th sample customer as its history sees it, and its random stream, which
    draws its life (activity.HistoryWriter)."""
    sample = SAMPLE_CUSTOMERS[number]
    oid = sample["customer_oid"]
    accounts = [
        Account(kind.value, currency.value, account_number, iban, as_cents(balance))
        for account_number, kind, balance, currency, iban, _ in sample["accounts"]
    ]
    holdings = [
        Holding.of_quantity(asset_type.value, symbol, quantity, currency)
        for asset_type, symbol, quantity, currency in sample["holdings"]
    ]
    customer = Customer(
        oid=oid,
        persona=sample["persona"],
        income_cents=as_cents(sample["income"]),
        payer=sample["payer"],
        accounts=accounts,
        holdings=holdings,
    )
    return customer, random.Random(uuid.UUID(oid).int)


@cache
def sample_batch(today: dt.date, institution_ids: tuple[tuple[str, int], ...]) -> Batch:
    """The rows of the five sample customers, their history ending on `today` (the same for
    the same day: a test's reset makes them anew in milliseconds). Derivatives keep their
    place in time: their dates move with `today`."""
    ids = dict(institution_ids)
    calendar = Calendar.of_history(today, SAMPLE_MONTHS)
    prices = Prices(calendar)
    shift = today - SAMPLE_DAY
    batch = Batch()
    for number, sample in enumerate(SAMPLE_CUSTOMERS):
        customer, rng = sample_customer(number)
        oid = customer.oid
        batch.add(
            customer,
            sample["name"],
            [ids[a[5]] for a in sample["accounts"]],
            source=(None, number),
            rng=rng,
            calendar=calendar,
            prices=prices,
        )
        for (kind, option_type, side, underlying, quantity, strike, premium, expiration,
             execution, strategy, status, counterparty) in sample["derivatives"]:  # fmt: skip
            batch.rows["derivative_transactions"].append((
                oid, kind.value, option_type and option_type.value, side.value, underlying,
                float(quantity), as_cents(strike), premium and as_cents(premium),
                (day(expiration) + shift).isoformat(), (day(execution) + shift).isoformat(),
                strategy, status.value, counterparty, "USD",
            ))  # fmt: skip
    return batch


def load_samples(session: Session, today: dt.date) -> int:
    """Add the institutions and the sample customers in the session's transaction; returns the
    customer count."""
    institutions = [Institution(name=n, routing_number=r, type=t) for n, r, t in INSTITUTIONS]
    session.add_all(institutions)
    session.flush()
    ids = tuple((i.name, i.id) for i in institutions if i.id is not None)
    write_batch(session.connection(), sample_batch(today, ids))
    return len(SAMPLE_CUSTOMERS)


def seed_if_empty(engine: Engine, *, start: dt.date | None = None) -> bool:
    """Start the sandbox's clock (at `start`, or the real date) if it has not started, and load
    the samples into a database that holds no customers and no institutions."""
    with Session(write_engine(engine)) as session:
        # Workers starting together take turns here; the second finds the first one's rows.
        take_setup_lock(session.connection())
        today = start_clock(session, start)
        if (
            session.exec(select(User).limit(1)).first()
            or session.exec(select(Institution).limit(1)).first()
        ):
            session.commit()
            return False
        load_samples(session, today)
        session.commit()
    logger.info("Loaded %d sample customers into an empty database", len(SAMPLE_CUSTOMERS))
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load the five sample customers into an empty database at DATABASE_URL, "
        "and optionally add N synthetic ones. Histories end on the sandbox's today "
        "(SANDBOX_START_DATE on a new database, else the real date)."
    )
    parser.add_argument(
        "--customers", type=int, default=0, metavar="N", help="synthetic customers to add"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed: the same seed gives the same rows"
    )
    parser.add_argument(
        "--months",
        type=int,
        default=12,
        metavar="M",
        help="months of history before the sandbox's today (default 12)",
    )
    args = parser.parse_args(argv)
    if args.customers < 0:
        parser.error("--customers must be 0 or more")
    if not 1 <= args.months <= 120:
        parser.error("--months must be from 1 to 120")
    return args


def main(argv: list[str] | None = None, settings: "Settings | None" = None) -> None:
    from bank.clock import today as sandbox_today
    from db import create_db_engine, migrate
    from settings import get_settings
    from synthetic import CustomersAlreadyThere, add_synthetic_customers

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = settings or get_settings()
    # Without SQLite's memory map: writing gains nothing from it, and the process's memory is
    # then its own (a map of the file it wrote would count in its RSS).
    engine = create_db_engine(settings.model_copy(update={"SQLITE_MMAP_MB": 0}))
    try:
        migrate(engine)
        if seed_if_empty(engine, start=settings.SANDBOX_START_DATE):
            print(f"Loaded {len(SAMPLE_CUSTOMERS)} sample customers into {engine.url!r}")
        elif not args.customers:
            print(f"{engine.url!r} already holds data; nothing was added")
        if args.customers:
            with Session(engine) as session:
                today = sandbox_today(session)
            started = time.monotonic()
            try:
                customers, rows = add_synthetic_customers(
                    engine, count=args.customers, seed=args.seed, today=today, months=args.months
                )
            except CustomersAlreadyThere as error:
                print(error, file=sys.stderr)
                raise SystemExit(1) from None
            seconds = time.monotonic() - started
            print(
                f"Added {customers:,} synthetic customers ({rows:,} rows, seed {args.seed}, "
                f"{args.months} months to {today}) in {seconds:.1f} s: "
                f"{rows / max(seconds, 1e-9):,.0f} rows/s"
            )
    finally:
        engine.dispose()


if TYPE_CHECKING:
    from settings import Settings

if __name__ == "__main__":
    main()
