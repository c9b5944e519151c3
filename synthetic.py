"""Synthetic customers at scale: realistic, reproducible portfolios written in streamed batches.

Used by `python seed.py --customers N --seed S [--as-of YYYY-MM-DD]`. One seeded Faker instance
drives every choice, so the same seed and as-of date give the same rows, byte for byte.
"""

import contextlib
import datetime as dt
import logging
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from faker import Faker
from sqlalchemy import Connection, Engine, column, insert, select, table
from sqlmodel import Session
from tqdm import tqdm

from bank.customers import list_institutions
from db import write_engine
from models import InstitutionType

logger = logging.getLogger(__name__)

BATCH_CUSTOMERS = 2_000
PROFILES = ("conservative", "balanced", "aggressive", "corporate", "private_banking")
PROFILE_WEIGHTS = (30, 35, 18, 9, 8)

# (symbol, price range in whole currency units) per asset type.
SECURITIES: dict[str, list[tuple[str, int, int]]] = {
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
ASSET_MIX: dict[str, tuple[str, ...]] = {
    "conservative": ("bond", "bond", "mutual_fund", "cash", "etf"),
    "balanced": ("etf", "stock", "bond", "mutual_fund", "real_estate"),
    "aggressive": ("stock", "stock", "crypto", "etf", "crypto"),
    "corporate": ("bond", "commodity", "real_estate", "cash"),
    "private_banking": ("stock", "etf", "real_estate", "bond", "commodity", "crypto"),
}
SPENDING_CATEGORIES: dict[str, tuple[str, ...]] = {
    "conservative": ("groceries", "utilities", "healthcare"),
    "balanced": ("groceries", "dining", "transport", "utilities"),
    "aggressive": ("dining", "travel", "shopping", "entertainment"),
    "corporate": ("payroll", "suppliers", "office"),
    "private_banking": ("travel", "education", "dining", "household"),
}
MONTHLY_INCOME = {  # cents
    "conservative": (300_000, 600_000),
    "balanced": (450_000, 900_000),
    "aggressive": (600_000, 2_000_000),
    "corporate": (20_000_000, 90_000_000),
    "private_banking": (2_500_000, 8_000_000),
}

# Lightweight views of the tables: rows go in as plain values (money already in cents, dates as
# ISO text), skipping the per-value processing of the ORM's column types.
USERS_TABLE = table("users", column("customer_oid"), column("name"))
ASSETS_TABLE = table(
    "assets",
    *(
        column(c)
        for c in (
            "customer_oid",
            "asset_type",
            "symbol",
            "quantity",
            "current_value",
            "currency",
            "cost_basis",
        )
    ),
)
ACCOUNTS_TABLE = table(
    "bank_accounts",
    *(
        column(c)
        for c in (
            "customer_oid",
            "account_number",
            "account_type",
            "balance",
            "currency",
            "iban",
            "institution_id",
        )
    ),
)
TRANSACTIONS_TABLE = table(
    "transactions",
    *(
        column(c)
        for c in (
            "customer_oid",
            "date",
            "amount",
            "description",
            "category",
            "type",
            "symbol",
            "currency",
        )
    ),
)
SPENDING_TABLE = table(
    "spending", *(column(c) for c in ("customer_oid", "category", "amount", "month", "currency"))
)
DERIVATIVES_TABLE = table("derivative_transactions", *(column(c) for c in (
    "customer_oid", "type", "option_type", "side", "underlying", "quantity", "strike_price",
    "premium", "expiration_date", "execution_date", "strategy", "status", "counterparty",
    "currency")))  # fmt: skip


@dataclass
class Batch:
    """The rows of a batch of customers, table by table, in insertion order."""

    rows: dict[Any, list[dict[str, Any]]] = field(
        default_factory=lambda: {
            t: []
            for t in (
                USERS_TABLE,
                ASSETS_TABLE,
                ACCOUNTS_TABLE,
                TRANSACTIONS_TABLE,
                SPENDING_TABLE,
                DERIVATIVES_TABLE,
            )
        }
    )

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())


class CustomerFactory:
    """Makes one customer's rows after another from a single seeded random stream."""

    def __init__(self, *, seed: int, as_of: dt.date, institutions: dict[str, int]) -> None:
        self.fake = Faker("en_US")
        self.fake.seed_instance(seed)
        self.random = self.fake.random
        self.as_of = as_of
        self.institutions = institutions
        # The year before as_of, month by month: (first day, "YYYY-MM").
        first = as_of.replace(day=1)
        self.months = []
        for back in range(12, 0, -1):
            year, month = divmod(first.year * 12 + first.month - 1 - back, 12)
            self.months.append((dt.date(year, month + 1, 1), f"{year:04d}-{month + 1:02d}"))

    def cents(self, low: int, high: int) -> int:
        return int(self.random.randint(low, high))

    def add_customer(self, batch: Batch) -> None:
        r = self.random
        profile = r.choices(PROFILES, PROFILE_WEIGHTS)[0]
        oid = str(uuid.UUID(int=r.getrandbits(128), version=4))
        name = self.fake.company() if profile == "corporate" else self.fake.name()
        batch.rows[USERS_TABLE].append({"customer_oid": oid, "name": name[:100]})
        self.add_accounts(batch, oid, profile)
        self.add_assets(batch, oid, profile)
        self.add_transactions(batch, oid, profile)
        self.add_spending(batch, oid, profile)
        if profile in ("aggressive", "corporate"):
            self.add_derivatives(batch, oid, profile)

    def add_accounts(self, batch: Batch, oid: str, profile: str) -> None:
        r = self.random
        low, high = MONTHLY_INCOME[profile]
        kinds = ["business" if profile == "corporate" else "checking"]
        kinds += ["savings"] if r.random() < 0.7 else []
        kinds += ["brokerage"] if profile in ("aggressive", "private_banking", "balanced") else []
        for kind in kinds:
            batch.rows[ACCOUNTS_TABLE].append({
                "customer_oid": oid, "account_number": self.fake.bban(), "account_type": kind,
                "balance": self.cents(low // 2, high * 3), "currency": "USD", "iban": None,
                "institution_id": self.institutions["broker" if kind == "brokerage" else "bank"],
            })  # fmt: skip
        if profile in ("corporate", "private_banking") or r.random() < 0.05:
            currency = r.choice(("EUR", "GBP", "CHF", "JPY"))
            scale = 150 if currency == "JPY" else 1
            batch.rows[ACCOUNTS_TABLE].append({
                "customer_oid": oid, "account_number": self.fake.bban(), "account_type": "savings",
                "balance": self.cents(low, high * 2) * scale, "currency": currency,
                "iban": self.fake.iban(), "institution_id": self.institutions["bank"],
            })  # fmt: skip

    def add_assets(self, batch: Batch, oid: str, profile: str) -> None:
        r = self.random
        mix = ASSET_MIX[profile]
        for _ in range(r.randint(2, len(mix) + 1)):
            asset_type = r.choice(mix)
            symbol, low, high = r.choice(SECURITIES[asset_type])
            currency = "USD"
            if asset_type == "stock" and profile == "private_banking" and r.random() < 0.4:
                symbol, low, high, currency = r.choice(FOREIGN_STOCKS)
            quantity = round(r.uniform(0.05, 2) if asset_type == "crypto" else r.randint(5, 400), 4)
            value = int(quantity * r.randint(low * 100, high * 100))
            batch.rows[ASSETS_TABLE].append({
                "customer_oid": oid, "asset_type": asset_type, "symbol": symbol,
                "quantity": quantity, "current_value": value, "currency": currency,
                "cost_basis": int(value * r.uniform(0.55, 1.25)) if r.random() < 0.9 else None,
            })  # fmt: skip

    def add_transactions(self, batch: Batch, oid: str, profile: str) -> None:
        r = self.random
        low, high = MONTHLY_INCOME[profile]
        income = self.cents(low, high)
        corporate = profile == "corporate"
        rows = batch.rows[TRANSACTIONS_TABLE]
        for first, month in self.months:
            rows.append({
                "customer_oid": oid, "date": first.isoformat(), "amount": income,
                "description": ("Customer receipts " if corporate else "Salary ") + month,
                "category": "revenue" if corporate else "income", "type": "deposit",
                "symbol": None, "currency": "USD",
            })  # fmt: skip
            if r.random() < 0.5:
                day = first + dt.timedelta(days=r.randint(2, 27))
                kind = r.choice(("buy", "sell", "dividend", "fee", "withdrawal", "transfer"))
                symbol = (
                    r.choice(SECURITIES["stock"])[0]
                    if kind in ("buy", "sell", "dividend")
                    else None
                )
                amount = self.cents(500, income // 4 + 1000)
                rows.append({
                    "customer_oid": oid, "date": day.isoformat(),
                    "amount": amount if kind in ("sell", "dividend") else -amount,
                    "description": f"{kind.title()} {symbol or ''}".strip(),
                    "category": "investment" if symbol else kind, "type": kind,
                    "symbol": symbol, "currency": "USD",
                })  # fmt: skip

    def add_spending(self, batch: Batch, oid: str, profile: str) -> None:
        r = self.random
        categories = r.sample(SPENDING_CATEGORIES[profile], 2)
        base = MONTHLY_INCOME[profile][0] // 10
        for _, month in self.months:
            for category in categories:
                batch.rows[SPENDING_TABLE].append({
                    "customer_oid": oid, "category": category,
                    "amount": self.cents(base // 2, base * 2), "month": month, "currency": "USD",
                })  # fmt: skip

    def add_derivatives(self, batch: Batch, oid: str, profile: str) -> None:
        r = self.random
        for _ in range(r.randint(1, 4)):
            executed = self.as_of - dt.timedelta(days=r.randint(1, 300))
            expires = executed + dt.timedelta(days=r.choice((30, 60, 90, 180, 365)))
            if profile == "corporate" and r.random() < 0.5:
                kind, option_type, underlying, strike, premium = (
                    "forward",
                    None,
                    r.choice(("EURUSD", "GBPUSD", "USDJPY")),
                    self.cents(80, 160),
                    None,
                )
            elif r.random() < 0.6:
                symbol, low, high = r.choice(SECURITIES["stock"])
                kind, option_type, underlying = "option", r.choice(("call", "put")), symbol
                strike, premium = self.cents(low * 100, high * 100), self.cents(50, 2500)
            else:
                kind, option_type, premium = "future", None, None
                underlying, strike = r.choice((("ES", 585_000), ("CL", 7_500), ("GC", 260_000)))
            batch.rows[DERIVATIVES_TABLE].append({
                "customer_oid": oid, "type": kind, "option_type": option_type,
                "side": r.choice(("buy", "sell")), "underlying": underlying,
                "quantity": float(r.randint(1, 50)), "strike_price": strike, "premium": premium,
                "expiration_date": expires.isoformat(), "execution_date": executed.isoformat(),
                "strategy": r.choice(("hedge", "speculation", "income", "spread")),
                "status": "open"
                if expires > self.as_of
                else r.choice(("expired", "closed", "exercised")),
                "counterparty": "Global Derivatives Exchange", "currency": "USD",
            })  # fmt: skip

    def batches(self, count: int) -> Iterator[Batch]:
        made = 0
        while made < count:
            batch = Batch()
            for _ in range(min(BATCH_CUSTOMERS, count - made)):
                self.add_customer(batch)
            made += len(batch.rows[USERS_TABLE])
            yield batch


def institution_ids(engine: Engine) -> dict[str, int]:
    """The first bank's and the first broker's ids, for the generated accounts."""
    with Session(engine) as session:
        institutions = list_institutions(session)
    ids: dict[str, int] = {}
    for institution in institutions:
        ids.setdefault(institution.type.value, institution.id)
    return {"bank": ids[InstitutionType.BANK], "broker": ids[InstitutionType.BROKER]}


@contextlib.contextmanager
def row_triggers_skipped(connection: Connection, tables: list[Any]) -> Iterator[None]:
    """On SQLite, leave out the per-customer tables' insert triggers for this transaction.

    They renew a customer's data version (migration 0002), and SQLite runs them once per row:
    a third of a bulk load's time. Rows of customers that are new in this very transaction need
    no renewal: the customers' versions are made in it too (by the trigger on users, which
    stays), so no answer can have been stored under them. The transaction holds SQLite's only
    write lock and DDL is transactional, so no other connection ever sees the schema without
    the triggers; a failed batch gets them back with its rollback. PostgreSQL's statement
    triggers cost one UPDATE per bulk insert, so there they stay.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    names = [f"{t.name}_insert_version" for t in tables if t is not USERS_TABLE]
    triggers: Sequence[Any] = connection.execute(
        select(column("name"), column("sql"))
        .select_from(table("sqlite_master"))
        .where(column("type") == "trigger", column("name").in_(names))
    ).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _, sql in triggers:
        connection.exec_driver_sql(sql)


def add_synthetic_customers(
    engine: Engine, *, count: int, seed: int, as_of: dt.date, progress: bool | None = None
) -> tuple[int, int]:
    """Write `count` generated customers; returns (customers, rows). Memory stays flat: each
    batch is generated, written in one transaction with bulk inserts, and dropped."""
    factory = CustomerFactory(seed=seed, as_of=as_of, institutions=institution_ids(engine))
    show_bar = sys.stderr.isatty() if progress is None else progress
    started, written, customers = time.monotonic(), 0, 0
    bar = tqdm(total=count, unit="customer", disable=not show_bar, smoothing=0.1)
    next_log = 0.0
    for batch in factory.batches(count):
        # Every customer of a batch is new: a customer_oid already taken fails the batch.
        with (
            write_engine(engine).begin() as connection,
            row_triggers_skipped(connection, list(batch.rows)),
        ):
            for target, rows in batch.rows.items():
                if rows:
                    connection.execute(insert(target), rows)
        customers += len(batch.rows[USERS_TABLE])
        written += batch.count()
        rate = written / max(time.monotonic() - started, 1e-9)
        bar.update(len(batch.rows[USERS_TABLE]))
        bar.set_postfix(rows=f"{written:,}", rows_per_s=f"{rate:,.0f}")
        if not show_bar and customers / count >= next_log:
            logger.info("%d/%d customers, %d rows, %.0f rows/s", customers, count, written, rate)
            next_log += 0.1
    bar.close()
    return customers, written
