"""Synthetic customers at scale: realistic, reproducible customers written in streamed batches.

Used by `python seed.py --customers N --seed S --months M`. Each customer draws from a random
stream of its own (activity.rng_for(seed, index)): a persona, a name, accounts and holdings,
then a history of `months` (activity.py) ending on the sandbox's today. The same seed, months
and today give the same rows, byte for byte. Batches are generated, written with bulk inserts
in one transaction each, and dropped, so memory stays flat whatever the count.
"""

import contextlib
import datetime as dt
import logging
import multiprocessing
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from itertools import chain
from typing import Any

import psycopg
from faker.providers.company.en_US import Provider as CompanyNames
from faker.providers.person.en_US import Provider as PersonNames
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from tqdm import tqdm

import activity
from activity import Account, Calendar, Customer, Holding, Prices
from bank import webhooks
from bank.customers import list_institutions
from bank.feed import first_new_transaction_id, hold_feed_order, log_added
from bank.market import FOREIGN_STOCKS, PRICE_RANGES
from db import write_engine
from models import InstitutionType, WebhookEvent

logger = logging.getLogger(__name__)

BATCH_CUSTOMERS = 250
PROFILES = ("conservative", "balanced", "aggressive", "corporate", "private_banking")
PROFILE_WEIGHTS = (30, 35, 18, 9, 8)
CUMULATIVE_WEIGHTS = [sum(PROFILE_WEIGHTS[: n + 1]) for n in range(len(PROFILE_WEIGHTS))]


def profile_of(seed: int, index: int) -> tuple[str, random.Random]:
    """The profile of the index-th customer of a seed, and its random stream past that
    choice."""
    rng = activity.rng_for(seed, index)
    pick = rng.random() * CUMULATIVE_WEIGHTS[-1]
    return next(p for p, w in zip(PROFILES, CUMULATIVE_WEIGHTS, strict=True) if pick < w), rng


ASSET_MIX: dict[str, tuple[str, ...]] = {
    "conservative": ("bond", "bond", "mutual_fund", "cash", "etf"),
    "balanced": ("etf", "stock", "bond", "mutual_fund", "real_estate"),
    "aggressive": ("stock", "stock", "crypto", "etf", "crypto"),
    "corporate": ("bond", "commodity", "real_estate", "cash"),
    "private_banking": ("stock", "etf", "real_estate", "bond", "commodity", "crypto"),
}
MONTHLY_INCOME = {  # cents
    "conservative": (300_000, 600_000),
    "balanced": (450_000, 900_000),
    "aggressive": (600_000, 2_000_000),
    "corporate": (20_000_000, 90_000_000),
    "private_banking": (2_500_000, 8_000_000),
}
# Holdings are bought for about this many months of income, at most.
HOLDINGS_MONTHS = {"corporate": 3}
FOREIGN = {"EUR": "DE", "GBP": "GB", "CHF": "CH", "JPY": None}
FIRST_NAMES = tuple(PersonNames.first_names)
LAST_NAMES = tuple(PersonNames.last_names)
COMPANY_SUFFIXES = CompanyNames.company_suffixes

TABLE_COLUMNS = {
    "users": ("customer_oid", "name"),
    "personas": ("customer_oid", "seed", "number"),
    "bank_accounts": (
        "id", "customer_oid", "account_number", "account_type", "balance", "currency", "iban",
        "institution_id",
    ),
    "assets": (
        "customer_oid", "asset_type", "symbol", "quantity", "current_value", "currency",
        "cost_basis",
    ),
    "transactions": activity.TX_COLUMNS,
    "spending": ("customer_oid", "category", "amount", "month", "currency"),
    "derivative_transactions": (
        "customer_oid", "type", "option_type", "side", "underlying", "quantity", "strike_price",
        "premium", "expiration_date", "execution_date", "strategy", "status", "counterparty",
        "currency",
    ),
}  # fmt: skip


@dataclass
class Batch:
    """The rows of a batch of customers, table by table, in insertion order. Account ids and
    transactions' account_id are numbered from 0 within the batch; the writer shifts them to
    the ids it reserves."""

    rows: dict[str, list[tuple[Any, ...]]] = field(
        default_factory=lambda: {name: [] for name in TABLE_COLUMNS}
    )

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def add(
        self,
        customer: Customer,
        name: str,
        institutions: list[int],
        *,
        source: tuple[int | None, int],
        rng: random.Random,
        calendar: Calendar,
        prices: Prices,
    ) -> None:
        """One customer's rows, their history made from `rng` (activity.py), their accounts
        numbered on from the batch's; `institutions` gives each account's institution id, and
        `source` (seed, number) where their life comes from (models.Persona)."""
        rows = self.rows
        rows["personas"].append((customer.oid, *source))
        first = len(rows["bank_accounts"])
        history = activity.history(
            customer,
            rng,
            calendar,
            prices,
            account_ids=range(first, first + len(customer.accounts)),
        )
        rows["users"].append((customer.oid, name))
        for account, institution in zip(customer.accounts, institutions, strict=True):
            rows["bank_accounts"].append((
                len(rows["bank_accounts"]), customer.oid, account.number, account.kind,
                account.balance_cents, account.currency, account.iban, institution,
            ))  # fmt: skip
        rows["assets"].extend(history.assets)
        rows["transactions"].extend(history.transactions)
        rows["spending"].extend(history.spending)


class CustomerFactory:
    """Makes customers one after another; the index-th from its own random stream."""

    def __init__(
        self, *, seed: int, today: dt.date, months: int, institutions: dict[str, int]
    ) -> None:
        self.seed = seed
        self.today = today
        self.institutions = institutions
        self.calendar = Calendar.of_history(today, months)
        self.prices = Prices(self.calendar)

    def add_customer(self, batch: Batch, index: int) -> None:
        """The index-th customer of the seed: the same whatever else is made."""
        customer, name, institutions, rng = self.customer(index)
        batch.add(
            customer,
            name,
            institutions,
            source=(self.seed, index),
            rng=rng,
            calendar=self.calendar,
            prices=self.prices,
        )
        if customer.persona in ("aggressive", "corporate"):
            self.add_derivatives(rng, batch, customer.oid, customer.persona)

    def customer(self, index: int) -> tuple[Customer, str, list[int], random.Random]:
        """The index-th customer of the seed, their name and their accounts' institutions,
        and their random stream, which goes on to draw their life (activity.HistoryWriter)."""
        profile, rng = profile_of(self.seed, index)
        r = rng.random
        oid = ordered_oid(self.seed, index, rng.getrandbits(128))
        corporate = profile == "corporate"
        name = (
            _company_name(rng)
            if corporate
            else f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        )
        low, high = MONTHLY_INCOME[profile]
        income = rng.randint(low, high)
        payer = rng.choice(
            activity.PENSION_PAYERS
            if profile == "conservative" and r() < activity.PERSONAS[profile].pension
            else activity.EMPLOYERS
        )
        accounts, institutions = self.accounts(rng, profile)
        customer = Customer(
            oid=oid, persona=profile, income_cents=income, payer=payer, accounts=accounts,
            holdings=self.holdings(rng, profile, income),
        )  # fmt: skip
        return customer, name[:100], institutions, rng

    def accounts(self, rng: Any, profile: str) -> tuple[list[Account], list[int]]:
        r = rng.random
        kinds = ["business" if profile == "corporate" else "checking"]
        kinds += ["savings"] if r() < 0.7 else []
        kinds += ["brokerage"] if profile in ("aggressive", "private_banking", "balanced") else []
        accounts = [Account(kind, "USD", _digits(rng, 10)) for kind in kinds]
        ids = [self.institutions["broker" if k == "brokerage" else "bank"] for k in kinds]
        if profile in ("corporate", "private_banking") or r() < 0.05:
            currency = rng.choice(("EUR", "GBP", "CHF", "JPY"))
            number, country = _digits(rng, 10), FOREIGN[currency]
            iban = _iban(country, _digits(rng, 18)) if country else None
            accounts.append(Account("savings", currency, number, iban))
            ids.append(self.institutions["bank"])
        return accounts, ids

    def holdings(self, rng: Any, profile: str, income: int) -> list[Holding]:
        r = rng.random
        mix = ASSET_MIX[profile]
        found: list[Holding] = []
        budget = income * HOLDINGS_MONTHS.get(profile, 6)
        for _ in range(rng.randint(2, len(mix) + 1)):
            asset_type = rng.choice(mix)
            symbol, low, high = rng.choice(PRICE_RANGES[asset_type])
            currency = "USD"
            if asset_type == "stock" and profile == "private_banking" and r() < 0.4:
                symbol, low, high, currency = rng.choice(FOREIGN_STOCKS)
            if any(h.symbol == symbol for h in found):
                continue
            scale = activity.QUANTITY_SCALE.get(asset_type, 1)
            # A share of the budget, in units the price allows: at least one.
            price_cents = (low + high) * 50
            units = int(budget * (0.1 + 0.4 * r()) * scale / max(price_cents, 1))
            found.append(Holding(asset_type, symbol, max(units, 1), currency))
        return found

    def add_derivatives(self, rng: Any, batch: Batch, oid: str, profile: str) -> None:
        r = rng.random
        for _ in range(rng.randint(1, 4)):
            executed = self.today - dt.timedelta(days=rng.randint(1, 300))
            expires = executed + dt.timedelta(days=rng.choice((30, 60, 90, 180, 365)))
            if profile == "corporate" and r() < 0.5:
                kind, option_type, premium = "forward", None, None
                underlying, strike = (
                    rng.choice(("EURUSD", "GBPUSD", "USDJPY")),
                    rng.randint(80, 160),
                )
            elif r() < 0.6:
                symbol, low, high = rng.choice(PRICE_RANGES["stock"])
                kind, option_type, underlying = "option", rng.choice(("call", "put")), symbol
                strike, premium = rng.randint(low * 100, high * 100), rng.randint(50, 2500)
            else:
                kind, option_type, premium = "future", None, None
                underlying, strike = rng.choice((("ES", 585_000), ("CL", 7_500), ("GC", 260_000)))
            status = (
                "open" if expires > self.today else rng.choice(("expired", "closed", "exercised"))
            )
            batch.rows["derivative_transactions"].append((
                oid, kind, option_type, rng.choice(("buy", "sell")), underlying,
                float(rng.randint(1, 50)), strike, premium, expires.isoformat(),
                executed.isoformat(), rng.choice(("hedge", "speculation", "income", "spread")),
                status, "Global Derivatives Exchange", "USD",
            ))  # fmt: skip

    def batch(self, first: int, count: int) -> Batch:
        """The customers numbered from `first` on, `count` of them."""
        batch = Batch()
        for index in range(first, first + count):
            self.add_customer(batch, index)
        return batch


@cache
def _factory(
    seed: int, today: dt.date, months: int, institutions: tuple[int, int]
) -> CustomerFactory:
    bank, broker = institutions
    return CustomerFactory(
        seed=seed, today=today, months=months, institutions={"bank": bank, "broker": broker}
    )


def _generate(
    seed: int, today: dt.date, months: int, institutions: tuple[int, int], first: int, count: int
) -> Batch:
    return _factory(seed, today, months, institutions).batch(first, count)


def generated_batches(
    *, seed: int, today: dt.date, months: int, institutions: tuple[int, int], count: int
) -> Iterator[Batch]:
    """`count` customers in batches, in order. Past one batch they are generated in a worker
    process while this one writes the previous batch: the two halves of the work overlap
    (generation about 2 µs a row, writing about 4 on SQLite). Two batches wait at most."""
    spans = [
        (first, min(BATCH_CUSTOMERS, count - first)) for first in range(0, count, BATCH_CUSTOMERS)
    ]
    if len(spans) == 1:
        yield _generate(seed, today, months, institutions, *spans[0])
        return
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        pending: deque[Future[Batch]] = deque()
        for span in spans:
            pending.append(pool.submit(_generate, seed, today, months, institutions, *span))
            if len(pending) == 2:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def ordered_oid(seed: int, index: int, random_bits: int) -> str:
    """A UUIDv8 (RFC 9562's layout of one's own): 16 bits of the seed, 32 of the customer's
    number, and random bits. A run's customers sort in the order they are made, so every index
    keyed by customer_oid grows at its end: 100,000 customers of random UUID4s went in at
    90,000 rows/s, the indexes' pages written all over; in order they go in at the rate of a
    year's history."""
    prefix = ((seed & 0xFFFF) << 32) | (index & 0xFFFF_FFFF)
    value = (prefix << 80) | (random_bits & ((1 << 80) - 1))
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # the RFC's variant
    return str(uuid.UUID(int=value))


def _company_name(rng: Any) -> str:
    a, b, c = (rng.choice(LAST_NAMES) for _ in range(3))
    form = rng.random()
    if form < 0.5:
        return f"{a} {rng.choice(COMPANY_SUFFIXES)}"
    return f"{a}-{b}" if form < 0.75 else f"{a}, {b} and {c}"


def _digits(rng: Any, count: int) -> str:
    return str(rng.randrange(10 ** (count - 1), 10**count))


def _iban(country: str, bban: str) -> str:
    """An IBAN with valid check digits (ISO 13616: mod 97)."""
    letters = "".join(str(ord(ch) - 55) for ch in country)
    check = 98 - int(bban + letters + "00") % 97
    return f"{country}{check:02d}{bban}"


def institution_ids(engine: Engine) -> tuple[int, int]:
    """The first bank's and the first broker's ids, for the generated accounts."""
    with Session(engine) as session:
        institutions = list_institutions(session)
    ids: dict[str, int] = {}
    for institution in institutions:
        ids.setdefault(institution.type.value, institution.id)
    return ids[InstitutionType.BANK], ids[InstitutionType.BROKER]


@contextlib.contextmanager
def row_triggers_skipped(
    connection: Connection, tables: Mapping[str, Sequence[str]] | Sequence[str]
) -> Iterator[None]:
    """On SQLite, leave out the per-customer tables' row triggers for this transaction: those
    of the events given for each table (by default, of inserts).

    They renew a customer's data version (migration 0002) and log changes to transactions
    (migration 0009: the writer logs its rows itself, bank.feed.log_added), and SQLite runs them
    once per row: a third of a bulk load's time. Rows of customers that are new in this very
    transaction need no renewal: the customers' versions are made in it too (by the trigger on
    users, which stays), so no answer can have been stored under them; a writer that changes
    existing customers' rows renews their versions itself. The transaction holds SQLite's only
    write lock and DDL is transactional, so no other connection ever sees the schema without
    the triggers; a failed batch gets them back with its rollback. PostgreSQL's statement triggers
    cost one UPDATE per bulk statement, so there they stay.
    """
    if connection.dialect.name != "sqlite":
        yield
        return
    events = tables if isinstance(tables, Mapping) else dict.fromkeys(tables, ("insert",))
    names = [
        f"{name}_{event}_{kind}"
        for name, of_table in events.items()
        if name != "users"
        for event in of_table
        for kind in ("version", "change")
    ]
    listed = ", ".join(f"'{name}'" for name in names)  # the tables' own names, no input
    triggers = connection.exec_driver_sql(
        f"SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN ({listed})"
    ).all()
    for name, _ in triggers:
        connection.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield
    for _, sql in triggers:
        connection.exec_driver_sql(sql)


def reserve_account_ids(connection: Connection, count: int) -> int:
    """The first of `count` consecutive bank account ids no other row has or will get, taken in
    the connection's transaction. SQLite: its only write lock is held, and inserting the ids
    moves AUTOINCREMENT past them. PostgreSQL: other inserts of accounts wait for this
    transaction, and the sequence is moved past the ids."""
    if connection.dialect.name == "sqlite":
        last = connection.exec_driver_sql(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence "
            "WHERE name = 'bank_accounts'), 0), coalesce((SELECT max(id) FROM bank_accounts), 0))"
        ).scalar_one()
        return int(last) + 1
    connection.exec_driver_sql("LOCK TABLE bank_accounts IN SHARE ROW EXCLUSIVE MODE")
    first = connection.exec_driver_sql(
        "SELECT nextval(pg_get_serial_sequence('bank_accounts', 'id'))"
    ).scalar_one()
    if count > 1:
        connection.exec_driver_sql(
            "SELECT setval(pg_get_serial_sequence('bank_accounts', 'id'), %s)",
            (int(first) + count - 1,),
        )
    return int(first)


# Rows per INSERT on SQLite: one statement of many rows costs a third of as many statements of
# one (seed.py: 178,000 -> 292,000 rows/s), within SQLite's 32,766 parameters a statement.
ROWS_PER_INSERT = 500
# The columns that hold a batch's account numbers, which the writer shifts to reserved ids.
SHIFTED = {"bank_accounts": "id", "transactions": "account_id"}


@cache
def _insert_sql(name: str, rows: int) -> str:
    """The INSERT of `rows` rows into the table; the shifted column's values plus BASE."""
    columns = TABLE_COLUMNS[name]
    shifted = SHIFTED.get(name)
    one = ", ".join("? + BASE" if c == shifted else "?" for c in columns)
    values = ", ".join([f"({one})"] * rows)
    return f'INSERT INTO "{name}" ({", ".join(columns)}) VALUES {values}'


def write_batch(connection: Connection, batch: Batch) -> None:
    """Insert the batch's rows in the connection's transaction: every customer must be new."""
    hold_feed_order(connection)
    mark = webhooks.transactions_mark(connection)
    base = reserve_account_ids(connection, max(len(batch.rows["bank_accounts"]), 1))
    first = first_new_transaction_id(connection)
    with row_triggers_skipped(connection, list(batch.rows)):
        insert_rows(connection, batch.rows, base)
        log_added(connection, first)
    # Announced to webhooks subscribed to them (none at a first start).
    webhooks.enqueue(
        connection,
        WebhookEvent.CUSTOMER_CREATED,
        ({"customer_oid": oid, "name": name} for oid, name in batch.rows["users"]),
    )
    webhooks.announce_transactions(connection, mark)


def insert_rows(
    connection: Connection, rows: Mapping[str, Sequence[tuple[Any, ...]]], base: int = 0
) -> None:
    """Insert rows of TABLE_COLUMNS' tables in the connection's transaction, the account
    numbers (SHIFTED) plus `base`. SQLite: multi-row INSERTs; PostgreSQL: COPY, which fires
    the statement-level version triggers (migration 0002) once a table."""
    if connection.dialect.name != "sqlite":
        _copy_rows(connection, rows, base)
        return
    for name, table_rows in rows.items():
        shift = base if name in SHIFTED else 0
        for start in range(0, len(table_rows), ROWS_PER_INSERT):
            chunk = table_rows[start : start + ROWS_PER_INSERT]
            sql = _insert_sql(name, len(chunk)).replace("BASE", str(shift))
            connection.exec_driver_sql(sql, tuple(chain.from_iterable(chunk)))


def _copy_rows(
    connection: Connection, rows: Mapping[str, Sequence[tuple[Any, ...]]], base: int
) -> None:
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        for name, table_rows in rows.items():
            if not table_rows:
                continue
            columns = TABLE_COLUMNS[name]
            shifted = columns.index(SHIFTED[name]) if name in SHIFTED else None
            with cursor.copy(f'COPY "{name}" ({", ".join(columns)}) FROM STDIN') as copy:
                for row in table_rows:
                    if shifted is not None and row[shifted] is not None:
                        row = (*row[:shifted], row[shifted] + base, *row[shifted + 1 :])
                    copy.write_row(row)


class CustomersAlreadyThere(Exception):
    """A batch met a customer the database holds already: the same seed makes the same
    customers. The batches written before it stay."""

    def __init__(self, seed: int, written: int) -> None:
        super().__init__(
            f"A customer of seed {seed} is in the database already (the same --seed makes the "
            f"same customers); {written:,} customers of this run were added before it. Use "
            "another --seed."
        )


def add_synthetic_customers(
    engine: Engine,
    *,
    count: int,
    seed: int,
    today: dt.date,
    months: int,
    progress: bool | None = None,
) -> tuple[int, int]:
    """Write `count` generated customers; returns (customers, rows)."""
    batches = generated_batches(
        seed=seed, today=today, months=months, institutions=institution_ids(engine), count=count
    )
    show_bar = sys.stderr.isatty() if progress is None else progress
    started, written, customers = time.monotonic(), 0, 0
    bar = tqdm(total=count, unit="customer", disable=not show_bar, smoothing=0.1)
    next_log = 0.0
    with write_engine(engine).connect() as connection:
        for batch in batches:
            try:
                with connection.begin():
                    write_batch(connection, batch)
            # PostgreSQL's COPY goes through the driver itself: its own error, not wrapped.
            except (IntegrityError, psycopg.errors.IntegrityError) as error:
                raise CustomersAlreadyThere(seed, customers) from error
            customers += len(batch.rows["users"])
            written += batch.count()
            rate = written / max(time.monotonic() - started, 1e-9)
            bar.update(len(batch.rows["users"]))
            bar.set_postfix(rows=f"{written:,}", rows_per_s=f"{rate:,.0f}")
            if not show_bar and customers / count >= next_log:
                logger.info(
                    "%d/%d customers, %d rows, %.0f rows/s", customers, count, written, rate
                )
                next_log += 0.1
    bar.close()
    return customers, written
