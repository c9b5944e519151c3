"""Sample data: three institutions and the five sample customers, each with a full portfolio.

Run `python seed.py` to create the schema and load the samples into an empty database at
DATABASE_URL. The app does the same on its first start.
"""

import argparse
import datetime as dt
import logging
import time
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, select

from db import take_setup_lock, write_engine
from models import (
    AccountType,
    Asset,
    AssetType,
    BankAccount,
    Currency,
    DerivativeStatus,
    DerivativeTransaction,
    DerivativeType,
    Institution,
    InstitutionType,
    OptionType,
    Side,
    Spending,
    Transaction,
    TransactionType,
    User,
)

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
T = TransactionType


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


# Each customer: assets (type, symbol, quantity, value, cost, currency), accounts (number, type,
# balance, currency, iban, institution), transactions (date, amount, description, category, type,
# symbol), spending (month, category, amount) and derivatives.
SAMPLE_CUSTOMERS: list[dict[str, Any]] = [
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440001",
        "name": "John Doe",
        "assets": [
            (AssetType.STOCK, "AAPL", 100, D("15000.00"), D("12000.00"), Currency.USD),
            (AssetType.ETF, "VTI", 50, D("11250.00"), D("10400.00"), Currency.USD),
            (AssetType.BOND, "US10Y", 20, D("19600.00"), D("20000.00"), Currency.USD),
        ],
        "accounts": [
            ("ACC-001", AccountType.CHECKING, D("25000.00"), Currency.USD, None, FIRST_NATIONAL),
            ("ACC-002", AccountType.SAVINGS, D("40000.00"), Currency.USD, None, FIRST_NATIONAL),
        ],
        "transactions": [
            ("2026-09-01", D("6500.00"), "Salary September", "income", T.DEPOSIT, None),
            ("2026-09-05", D("-1800.00"), "Rent September", "housing", T.PAYMENT, None),
            ("2026-09-12", D("-3000.00"), "Buy 20 AAPL", "investment", T.BUY, "AAPL"),
            ("2026-09-30", D("42.50"), "AAPL dividend", "investment", T.DIVIDEND, "AAPL"),
            ("2026-10-01", D("6500.00"), "Salary October", "income", T.DEPOSIT, None),
            ("2026-10-05", D("-1800.00"), "Rent October", "housing", T.PAYMENT, None),
            ("2026-10-15", D("-2000.00"), "Transfer to savings", "savings", T.TRANSFER, None),
            ("2026-10-31", D("-4.99"), "Account fee", "fees", T.FEE, None),
        ],
        "spending": [
            ("2026-09", "groceries", D("620.40")),
            ("2026-09", "dining", D("310.25")),
            ("2026-09", "transport", D("145.00")),
            ("2026-09", "utilities", D("210.80")),
            ("2026-10", "groceries", D("588.10")),
            ("2026-10", "dining", D("275.60")),
            ("2026-10", "transport", D("160.00")),
            ("2026-10", "entertainment", D("120.00")),
        ],
        "derivatives": [],
    },
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440002",
        "name": "Jane Smith",
        "assets": [
            (AssetType.STOCK, "TSLA", 40, D("9600.00"), D("11200.00"), Currency.USD),
            (AssetType.STOCK, "NVDA", 60, D("10800.00"), D("4200.00"), Currency.USD),
            (AssetType.CRYPTO, "BTC", 0.5, D("34000.00"), D("21000.00"), Currency.USD),
            (AssetType.CRYPTO, "ETH", 4, D("12400.00"), D("9600.00"), Currency.USD),
        ],
        "accounts": [
            ("ACC-101", AccountType.CHECKING, D("8200.55"), Currency.USD, None, FIRST_NATIONAL),
            ("BRK-101", AccountType.BROKERAGE, D("15400.00"), Currency.USD, None, SUMMIT),
        ],
        "transactions": [
            ("2026-09-02", D("9000.00"), "Consulting invoice 114", "income", T.DEPOSIT, None),
            ("2026-09-08", D("-4200.00"), "Buy 30 NVDA", "investment", T.BUY, "NVDA"),
            ("2026-09-21", D("3100.00"), "Sell 10 TSLA", "investment", T.SELL, "TSLA"),
            ("2026-10-03", D("9000.00"), "Consulting invoice 121", "income", T.DEPOSIT, None),
            ("2026-10-09", D("-5000.00"), "Buy 0.1 BTC", "investment", T.BUY, "BTC"),
            ("2026-10-20", D("-19.95"), "Options commission", "fees", T.FEE, None),
        ],
        "spending": [
            ("2026-09", "travel", D("1450.00")),
            ("2026-09", "dining", D("540.75")),
            ("2026-09", "shopping", D("890.20")),
            ("2026-10", "travel", D("320.00")),
            ("2026-10", "dining", D("610.30")),
            ("2026-10", "shopping", D("415.99")),
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
        ],
    },
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440003",
        "name": "Robert Johnson",
        "assets": [
            (AssetType.BOND, "MUNI-NY-2031", 50, D("48500.00"), D("50000.00"), Currency.USD),
            (AssetType.MUTUAL_FUND, "VWELX", 300, D("13200.00"), D("11900.00"), Currency.USD),
            (AssetType.CASH, "MMF-USD", 10000, D("10000.00"), D("10000.00"), Currency.USD),
        ],
        "accounts": [
            ("ACC-201", AccountType.SAVINGS, D("120000.00"), Currency.USD, None, FIRST_NATIONAL),
            ("RET-201", AccountType.RETIREMENT, D("310500.00"), Currency.USD, None, SUMMIT),
        ],
        "transactions": [
            ("2026-09-01", D("2400.00"), "Pension September", "income", T.DEPOSIT, None),
            ("2026-09-15", D("625.00"), "Bond coupon", "investment", T.INTEREST, "MUNI-NY-2031"),
            ("2026-09-20", D("-950.00"), "Property tax", "taxes", T.PAYMENT, None),
            ("2026-10-01", D("2400.00"), "Pension October", "income", T.DEPOSIT, None),
            ("2026-10-10", D("-1500.00"), "Cash withdrawal", "cash", T.WITHDRAWAL, None),
        ],
        "spending": [
            ("2026-09", "healthcare", D("380.00")),
            ("2026-09", "groceries", D("410.35")),
            ("2026-10", "healthcare", D("220.00")),
            ("2026-10", "groceries", D("395.10")),
            ("2026-10", "gifts", D("150.00")),
        ],
        "derivatives": [],
    },
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440004",
        "name": "ABC Corporation",
        "assets": [
            (AssetType.BOND, "UST-2Y", 500, D("492000.00"), D("495000.00"), Currency.USD),
            (AssetType.COMMODITY, "XAU", 100, D("265000.00"), D("198000.00"), Currency.USD),
            (
                AssetType.REAL_ESTATE,
                "HQ-BUILDING",
                1,
                D("2400000.00"),
                D("1850000.00"),
                Currency.USD,
            ),
        ],
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
        ],
        "transactions": [
            ("2026-09-05", D("420000.00"), "Customer receipts", "revenue", T.DEPOSIT, None),
            ("2026-09-25", D("-310000.00"), "Payroll September", "payroll", T.PAYMENT, None),
            ("2026-09-28", D("-45000.00"), "Supplier invoice 7781", "suppliers", T.PAYMENT, None),
            ("2026-10-05", D("455000.00"), "Customer receipts", "revenue", T.DEPOSIT, None),
            ("2026-10-25", D("-312500.00"), "Payroll October", "payroll", T.PAYMENT, None),
            ("2026-10-30", D("-250.00"), "Wire fees", "fees", T.FEE, None),
        ],
        "spending": [
            ("2026-09", "payroll", D("310000.00")),
            ("2026-09", "suppliers", D("45000.00")),
            ("2026-09", "office", D("12500.00")),
            ("2026-10", "payroll", D("312500.00")),
            ("2026-10", "suppliers", D("38000.00")),
            ("2026-10", "office", D("11900.00")),
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
        ],
    },
    {
        "customer_oid": "550e8400-e29b-41d4-a716-446655440005",
        "name": "Michael Chen",
        "assets": [
            (AssetType.STOCK, "MSFT", 80, D("33600.00"), D("24000.00"), Currency.USD),
            (AssetType.STOCK, "ASML", 15, D("10500.00"), D("9750.00"), Currency.EUR),
            (AssetType.REAL_ESTATE, "VNQ", 120, D("10800.00"), D("11400.00"), Currency.USD),
            (AssetType.CRYPTO, "SOL", 50, D("7250.00"), None, Currency.USD),
        ],
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
        ],
        "transactions": [
            ("2026-09-01", D("14000.00"), "Salary September", "income", T.DEPOSIT, None),
            ("2026-09-14", D("-8000.00"), "Buy 20 MSFT", "investment", T.BUY, "MSFT"),
            ("2026-09-30", D("-5000.00"), "Transfer to EUR savings", "savings", T.TRANSFER, None),
            ("2026-10-01", D("14000.00"), "Salary October", "income", T.DEPOSIT, None),
            ("2026-10-12", D("66.00"), "MSFT dividend", "investment", T.DIVIDEND, "MSFT"),
            ("2026-10-22", D("-2200.00"), "School fees", "education", T.PAYMENT, None),
        ],
        "spending": [
            ("2026-09", "education", D("2200.00")),
            ("2026-09", "dining", D("480.00")),
            ("2026-09", "travel", D("2100.00")),
            ("2026-10", "education", D("2200.00")),
            ("2026-10", "dining", D("515.45")),
            ("2026-10", "groceries", D("690.20")),
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
        ],
    },
]


def sample_rows(institution_ids: dict[str, int]) -> list[SQLModel]:
    """Fresh, unsaved portfolio rows of the five sample customers (the users come first)."""
    rows: list[SQLModel] = []
    for customer in SAMPLE_CUSTOMERS:
        oid = customer["customer_oid"]
        for asset_type, symbol, quantity, value, cost, currency in customer["assets"]:
            rows.append(
                Asset(
                    customer_oid=oid,
                    asset_type=asset_type,
                    symbol=symbol,
                    quantity=quantity,
                    current_value=value,
                    cost_basis=cost,
                    currency=currency,
                )
            )
        for number, account_type, balance, currency, iban, bank in customer["accounts"]:
            rows.append(
                BankAccount(
                    customer_oid=oid,
                    account_number=number,
                    account_type=account_type,
                    balance=balance,
                    currency=currency,
                    iban=iban,
                    institution_id=institution_ids[bank],
                )
            )
        for date, amount, description, category, kind, symbol in customer["transactions"]:
            rows.append(
                Transaction(
                    customer_oid=oid,
                    date=day(date),
                    amount=amount,
                    description=description,
                    category=category,
                    type=kind,
                    symbol=symbol,
                )
            )
        for month, category, amount in customer["spending"]:
            rows.append(Spending(customer_oid=oid, month=month, category=category, amount=amount))
        for (
            kind,
            option_type,
            side,
            underlying,
            quantity,
            strike,
            premium,
            expiration,
            execution,
            strategy,
            status,
            counterparty,
        ) in customer["derivatives"]:
            rows.append(
                DerivativeTransaction(
                    customer_oid=oid,
                    type=kind,
                    option_type=option_type,
                    side=side,
                    underlying=underlying,
                    quantity=quantity,
                    strike_price=strike,
                    premium=premium,
                    expiration_date=day(expiration),
                    execution_date=day(execution),
                    strategy=strategy,
                    status=status,
                    counterparty=counterparty,
                )
            )
    return rows


def load_samples(session: Session) -> int:
    """Add the institutions and the sample customers to the session; returns the customer count."""
    institutions = [Institution(name=n, routing_number=r, type=t) for n, r, t in INSTITUTIONS]
    session.add_all(institutions)
    session.add_all(User(customer_oid=c["customer_oid"], name=c["name"]) for c in SAMPLE_CUSTOMERS)
    # The tables declare no ORM relationships, so the parents are flushed before their children.
    session.flush()
    session.add_all(sample_rows({i.name: i.id for i in institutions if i.id is not None}))
    return len(SAMPLE_CUSTOMERS)


def seed_if_empty(engine: Engine) -> bool:
    """Load the samples into a database that holds no customers and no institutions."""
    with Session(write_engine(engine)) as session:
        # Workers starting together take turns here; the second finds the first one's rows.
        take_setup_lock(session.connection())
        if (
            session.exec(select(User).limit(1)).first()
            or session.exec(select(Institution).limit(1)).first()
        ):
            return False
        load_samples(session)
        session.commit()
    logger.info("Loaded %d sample customers into an empty database", len(SAMPLE_CUSTOMERS))
    return True


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Load the five sample customers into an empty database at DATABASE_URL, "
        "and optionally add N synthetic ones."
    )
    parser.add_argument(
        "--customers", type=int, default=0, metavar="N", help="synthetic customers to add"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed: the same seed gives the same rows"
    )
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=dt.date.today(),
        metavar="YYYY-MM-DD",
        help="the day the generated year of history ends (default: today)",
    )
    args = parser.parse_args(argv)
    if args.customers < 0:
        parser.error("--customers must be 0 or more")
    return args


def main(argv: list[str] | None = None) -> None:
    from db import create_db_engine, migrate
    from settings import get_settings
    from synthetic import add_synthetic_customers

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    engine = create_db_engine(get_settings())
    try:
        migrate(engine)
        if seed_if_empty(engine):
            print(f"Loaded {len(SAMPLE_CUSTOMERS)} sample customers into {engine.url!r}")
        elif not args.customers:
            print(f"{engine.url!r} already holds data; nothing was added")
        if args.customers:
            started = time.monotonic()
            customers, rows = add_synthetic_customers(
                engine, count=args.customers, seed=args.seed, as_of=args.as_of
            )
            seconds = time.monotonic() - started
            print(
                f"Added {customers:,} synthetic customers ({rows:,} rows, seed {args.seed}, "
                f"as of {args.as_of}) in {seconds:.1f} s: {rows / max(seconds, 1e-9):,.0f} rows/s"
            )
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
