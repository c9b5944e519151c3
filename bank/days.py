"""Days that pass: advancing the sandbox's clock makes them happen.

`advance_clock` moves the sandbox's today forward by 1-366 days and, in the same database
transaction, makes those days happen:

- each sample and synthetic customer (models.Persona) lives them. Their life is drawn again
  from its source (the recurring stream of activity.HistoryWriter: the same salary, rent,
  utilities, subscriptions and favourite merchants as in their history), and the days' events
  from a stream seeded by that source and the first new day: the same start and the same
  advances give the same rows. What is posted moves the accounts' balances; the holdings pay
  their dividends and coupons on their days;
- every security has a close on each new trading day (bank/market.py's walks go on; nothing is
  stored), and the generated customers' holdings are valued at the new last close;
- every open derivative that has expired is marked expired, or exercised when it is an option
  in the money at its expiry's close;
- spending rows of the months the new days fall in are made again from the transactions.

Customers registered through the API have no persona and get no invented activity; their open
derivatives expire all the same. The customers are taken in batches, each customer's row locked
first (PostgreSQL), the order every writer of a customer takes (bank/customers.lock_customer).
"""

import contextlib
import ctypes
import datetime as dt
import logging
import multiprocessing
import os
import random
import signal
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Date, bindparam, text
from sqlmodel import col, select

import activity
from activity import Account, Calendar, Customer, HistoryWriter, Holding, Prices
from bank import market, webhooks
from bank.feed import first_new_transaction_id, hold_feed_order, log_added
from bank.ledger import MAX_BALANCE_CENTS
from db import WriteSession, checkpoint_afterwards
from models import ClockAdvanced, SandboxClock, WebhookEvent
from seed import SAMPLE_CUSTOMERS, sample_customer
from synthetic import (
    ROWS_PER_INSERT,
    CustomerFactory,
    insert_rows,
    row_triggers_skipped,
)

logger = logging.getLogger(__name__)

MAX_DAYS = 366
BATCH_CUSTOMERS = 250
# Past this many customers the days are worked out in a worker process (_Living.all).
PIPELINE_FROM = 2 * BATCH_CUSTOMERS
# The tables whose rows an advance writes, and so the row triggers SQLite leaves out meanwhile
# (synthetic.row_triggers_skipped): the customers' data versions are renewed a batch at a time.
WRITTEN = {
    "transactions": ("insert",),
    "bank_accounts": ("update",),
    "assets": ("update",),
    "spending": ("insert", "delete"),
    "derivative_transactions": ("update",),
}
MONTH_OF_DATE = {"sqlite": "substr(date, 1, 7)", "postgresql": "to_char(date, 'YYYY-MM')"}


def advance_clock(session: WriteSession, /, *, days: int) -> ClockAdvanced:
    """Move the sandbox's today `days` forward, and make those days happen."""
    started = time.monotonic()
    hold_feed_order(session)
    clock = session.exec(
        select(SandboxClock).where(col(SandboxClock.id) == 1).with_for_update()
    ).one()
    calendar = Calendar(clock.today + dt.timedelta(days=1), clock.today + dt.timedelta(days=days))
    # GBs through SQLite's WAL at 100,000 customers: copied into the file after the answer.
    with checkpoint_afterwards(session):
        return _advance(session, clock, calendar, started)


def _advance(
    session: WriteSession, clock: SandboxClock, calendar: Calendar, started: float
) -> ClockAdvanced:
    """The calendar's days made to happen in the session's transaction, and its commit."""
    first, last, days = calendar.start, calendar.today, calendar.length
    connection = session.connection()
    with row_triggers_skipped(connection, WRITTEN):
        expired, exercised = _expire_derivatives(connection, last)
        lived = _Living(connection, calendar, started)
        lived.all()
    clock.today = last
    session.add(clock)
    advanced = ClockAdvanced(
        start=first,
        end=last,
        days=days,
        customers=lived.customers,
        transactions_added=lived.transactions,
        prices_added=sum(
            sum(market.trades_on(security, day) for day in calendar.days)
            for security in market.SECURITIES.values()
        ),
        holdings_revalued=lived.revalued,
        spending_rows=lived.spending,
        derivatives_expired=expired,
        derivatives_exercised=exercised,
    )
    webhooks.enqueue(
        session, WebhookEvent.CLOCK_ADVANCED, [advanced.model_dump(mode="json", by_alias=True)]
    )
    session.commit()
    logger.info(
        "Advanced the clock to %s: %d customers, %d transactions in %.1f s",
        last, lived.customers, lived.transactions, time.monotonic() - started,
    )  # fmt: skip
    return advanced


def _persona_batches(connection: Connection) -> Iterator[list[tuple[str, int | None, int]]]:
    """The personas in order of customer, a batch at a time."""
    after = ""
    while True:
        rows = connection.execute(
            text(
                "SELECT customer_oid, seed, number FROM personas WHERE customer_oid > :after "
                "ORDER BY customer_oid LIMIT :size"
            ),
            {"after": after, "size": BATCH_CUSTOMERS},
        ).all()
        if not rows:
            return
        yield [(oid, seed, number) for oid, seed, number in rows]
        after = rows[-1][0]


def _lock_customers(connection: Connection, oids: Sequence[str]) -> list[str]:
    """Lock the customers' rows in order (PostgreSQL), before any other row of theirs; the ones
    that still exist."""
    lock = "" if connection.dialect.name == "sqlite" else " FOR NO KEY UPDATE"
    statement = text(
        "SELECT customer_oid FROM users WHERE customer_oid IN :oids ORDER BY customer_oid" + lock
    ).bindparams(bindparam("oids", expanding=True))
    return [oid for (oid,) in connection.execute(statement, {"oids": list(oids)})]


def _renew_versions(connection: Connection, oids: Sequence[str]) -> None:
    """SQLite: new data versions for customers whose rows changed with their triggers left out
    (PostgreSQL's statement triggers stay, and have done it)."""
    if connection.dialect.name == "sqlite" and oids:
        connection.execute(
            text(
                "UPDATE customer_versions SET version = random() WHERE customer_oid IN :oids"
            ).bindparams(bindparam("oids", expanding=True)),
            {"oids": list(oids)},
        )


def _update_by_id(
    connection: Connection, table: str, assignment: str, pairs: Sequence[tuple[int, int]]
) -> None:
    """UPDATE `table` SET `assignment` (of v.value) for each (id, value), a statement per
    ROWS_PER_INSERT rows (the driver's own placeholders: a statement this long costs more to
    compile with SQLAlchemy's named ones than to run)."""
    mark = "?" if connection.dialect.name == "sqlite" else "%s"
    for start in range(0, len(pairs), ROWS_PER_INSERT):
        chunk = pairs[start : start + ROWS_PER_INSERT]
        values = ", ".join([f"({mark}, {mark})"] * len(chunk))
        connection.exec_driver_sql(
            f"WITH v(id, value) AS (VALUES {values}) "
            f"UPDATE {table} SET {assignment} FROM v WHERE {table}.id = v.id",
            tuple(chain.from_iterable(chunk)),
        )


def _expire_derivatives(connection: Connection, last: dt.date) -> tuple[int, int]:
    """Every open derivative expired by `last`: exercised if an option in the money at its
    expiry's close, else expired. Returns (expired, exercised)."""
    due = text(
        "SELECT id, customer_oid, option_type, underlying, strike_price, expiration_date "
        "FROM derivative_transactions WHERE status = 'open' AND expiration_date <= :last "
        "ORDER BY id"
    ).bindparams(bindparam("last", type_=Date))
    oids = sorted({row[1] for row in connection.execute(due, {"last": last})})
    if not oids:
        return 0, 0
    locked = set(_lock_customers(connection, oids))
    outcomes: dict[str, list[tuple[int, int]]] = {"expired": [], "exercised": []}
    for id_, oid, option_type, underlying, strike, expiry in connection.execute(
        due, {"last": last}
    ):
        if oid not in locked:
            continue  # made since the first read: the next advance settles it
        status = "expired"
        symbol = underlying.upper()
        if option_type is not None and strike is not None and symbol in market.SECURITIES:
            expiry = expiry if isinstance(expiry, dt.date) else dt.date.fromisoformat(expiry)
            close = market.daily_closes_cents(symbol, expiry, expiry)[0]
            in_the_money = close > strike if option_type == "call" else close < strike
            status = "exercised" if in_the_money else "expired"
        outcomes[status].append((id_, 0))
    for status, rows in outcomes.items():
        _update_by_id(connection, "derivative_transactions", f"status = '{status}'", rows)
    _renew_versions(connection, oids)
    return len(outcomes["expired"]), len(outcomes["exercised"])


@dataclass(frozen=True, slots=True)
class _BatchInputs:
    """A batch of customers as the database holds them before their days: what living the
    days needs, read in the advance's transaction."""

    personas: list[tuple[str, int | None, int]]  # the ones still there, locked
    # By customer: (id, account_type, currency, account_number, balance), by id.
    accounts: dict[str, list[tuple[Any, ...]]]
    # By customer: (id, asset_type, symbol, quantity, currency), by id.
    assets: dict[str, list[tuple[Any, ...]]]
    # Outflows already there from the first new day's month on, in cents, by (customer,
    # category, month, currency): the spending rows start from them.
    spent: dict[tuple[str, str, str, str], int]


@dataclass(slots=True)
class _BatchLived:
    """What the batch's days brought, to be written."""

    oids: list[str]
    rows: list[tuple[object, ...]] = field(default_factory=list)  # transactions, in order
    moved: list[tuple[int, int]] = field(default_factory=list)  # (account id, cents)
    values: list[tuple[int, int]] = field(default_factory=list)  # (asset id, cents)
    spending: list[tuple[object, ...]] = field(default_factory=list)
    at_limit: list[str] = field(default_factory=list)  # customers whose days brought nothing


def _live_batch(first: dt.date, last: dt.date, inputs: _BatchInputs) -> _BatchLived:
    """The batch's customers living the days from `first` through `last`: pure work on what
    was read, so it can run in a worker process while the previous batch is written."""
    calendar, prices, factories = _world(first, last)
    lived = _BatchLived(oids=[oid for oid, _, _ in inputs.personas])
    spent = dict(inputs.spent)
    for oid, seed, number in inputs.personas:
        # Every holding with prices is valued at the new close, whatever the customer's days.
        holdings = _holdings(prices, inputs.assets.get(oid, []))
        lived.values += [(id_, value) for id_, _, value in holdings]
        generated = _customer(factories, calendar, seed, number)
        if generated is None:
            continue
        customer, rng = generated
        # Their rows now: what the API changed since the history counts.
        customer.oid = oid
        held = inputs.accounts.get(oid, [])
        customer.accounts = [Account(kind, currency, n) for _, kind, currency, n, _ in held]
        ids = [row[0] for row in held]
        customer.holdings = [holding for _, holding, _ in holdings]
        writer = HistoryWriter(customer, rng, calendar, prices, ids)
        writer.events = random.Random(f"{seed}:{number}:{calendar.start}")
        writer.r = writer.events.random
        writer.live()
        for holding in customer.holdings:
            writer.pay_income_of(holding)
        balances = [row[4] + cents for row, cents in zip(held, writer.net, strict=True)]
        if any(abs(balance) > MAX_BALANCE_CENTS for balance in balances):
            # An account set near the most a balance holds (PATCH): the days would take it
            # past; this customer's days pass without activity.
            lived.at_limit.append(oid)
            continue
        writer.rows.sort(key=lambda row: row[2])  # type: ignore[arg-type,return-value]
        lived.rows += writer.rows
        lived.moved += [(ids[n], cents) for n, cents in enumerate(writer.net) if cents]
        for (month, category, currency), cents in writer.spent.items():
            key = (oid, category, month, currency)
            spent[key] = spent.get(key, 0) + cents
    # As ORDER BY customer_oid, month, category, currency would give them.
    lived.spending = [
        (oid, category, cents, month, currency)
        for (oid, category, month, currency), cents in sorted(
            spent.items(), key=lambda item: (item[0][0], item[0][2], item[0][1], item[0][3])
        )
    ]
    return lived


def _end_with(parent: int) -> None:
    """In the worker: end when the process that forked it does (Linux's parent-death signal;
    the forking thread is the advance's own, alive until the pool closes). A server killed
    mid-advance must not leave a worker behind holding its listening socket."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # it ended before the signal was asked for
        os._exit(1)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@lru_cache(maxsize=2)
def _world(first: dt.date, last: dt.date) -> tuple[Calendar, Prices, dict[int, CustomerFactory]]:
    """The days, their prices and the synthetic customers' factories, made once per process."""
    calendar = Calendar(first, last)
    return calendar, Prices(calendar), {}


def _customer(
    factories: dict[int, CustomerFactory], calendar: Calendar, seed: int | None, number: int
) -> tuple[Customer, random.Random] | None:
    """The customer as generated, and their recurring stream where their history began drawing
    from it; None for a sample seed.py no longer has."""
    if seed is None:
        return sample_customer(number) if number < len(SAMPLE_CUSTOMERS) else None
    factory = factories.get(seed)
    if factory is None:
        factory = factories[seed] = CustomerFactory(
            seed=seed, today=calendar.today, months=0, institutions={"bank": 0, "broker": 0}
        )
    customer, _, _, rng = factory.customer(number)
    return customer, rng


def _holdings(prices: Prices, assets: list[tuple[Any, ...]]) -> list[tuple[int, Holding, int]]:
    """A customer's assets (id, asset_type, symbol, quantity, currency) that have prices, as
    holdings with their ids and their values at the last close in cents: those whose value
    fits a money field."""
    found = []
    for id_, kind, symbol, quantity, currency in assets:
        symbol = symbol.upper()
        if symbol not in market.SECURITIES:
            continue
        holding = Holding.of_quantity(kind, symbol, quantity, currency)
        close = prices.of(symbol)[-1]
        value = activity.money_of(holding.units, holding.scale, close)
        if value <= MAX_BALANCE_CENTS:
            found.append((id_, holding, value))
    return found


class _Living:
    """The generated customers living the calendar's days, a batch at a time: each batch read,
    lived (in a worker process when there are several: the next batch's days are worked out
    while this one is written, on the other core) and written."""

    def __init__(self, connection: Connection, calendar: Calendar, started: float) -> None:
        self.connection = connection
        self.calendar = calendar
        self.first_month = calendar.iso[0][:7]
        self.started = started
        self.customers = self.transactions = self.revalued = self.spending = 0
        self.total = connection.execute(text("SELECT count(*) FROM personas")).scalar_one()
        self.next_log = 0.1

    def all(self) -> None:
        span = (self.calendar.start, self.calendar.today)
        batches = (self._read(personas) for personas in _persona_batches(self.connection))
        if self.total <= PIPELINE_FROM or "fork" not in multiprocessing.get_all_start_methods():
            for inputs in batches:
                if inputs is not None:
                    self._write(_live_batch(*span, inputs))
            return
        # Forked: the worker has the modules and this process's prices already, and takes a
        # batch's inputs and gives back its rows (pickled). Two batches wait at most.
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(
            max_workers=1, mp_context=context, initializer=_end_with, initargs=(os.getpid(),)
        ) as pool:
            pending: deque[Future[_BatchLived]] = deque()
            for inputs in batches:
                if inputs is not None:
                    pending.append(pool.submit(_live_batch, *span, inputs))
                if len(pending) == 2:
                    self._write(pending.popleft().result())
            while pending:
                self._write(pending.popleft().result())

    def _read(self, personas: list[tuple[str, int | None, int]]) -> _BatchInputs | None:
        oids = _lock_customers(self.connection, [oid for oid, _, _ in personas])
        if not oids:
            return None
        locked = set(oids)
        return _BatchInputs(
            personas=[persona for persona in personas if persona[0] in locked],
            accounts=self._rows_of(
                "SELECT customer_oid, id, account_type, currency, account_number, balance "
                "FROM bank_accounts",
                oids,
            ),
            assets=self._rows_of(
                "SELECT customer_oid, id, asset_type, symbol, quantity, currency FROM assets",
                oids,
            ),
            spent=self._spent(oids),
        )

    def _write(self, lived: _BatchLived) -> None:
        connection = self.connection
        for oid in lived.at_limit:
            logger.info("Advancing the clock: %s would pass a balance's limit", oid)
        first = first_new_transaction_id(connection)
        insert_rows(connection, {"transactions": lived.rows})
        log_added(connection, first)
        _update_by_id(connection, "bank_accounts", "balance = balance + v.value", lived.moved)
        _update_by_id(connection, "assets", "current_value = v.value", lived.values)
        # The spending rows of the days' months, summed again: what was there plus the days'.
        connection.execute(
            text("DELETE FROM spending WHERE customer_oid IN :oids AND month >= :month").bindparams(
                bindparam("oids", expanding=True)
            ),
            {"oids": lived.oids, "month": self.first_month},
        )
        insert_rows(connection, {"spending": lived.spending})
        _renew_versions(connection, lived.oids)
        self.revalued += len(lived.values)
        self.spending += len(lived.spending)
        self.customers += len(lived.oids)
        self.transactions += len(lived.rows)
        if self.customers / max(self.total, 1) >= self.next_log:
            elapsed = max(time.monotonic() - self.started, 1e-9)
            logger.info(
                "Advancing the clock: %d/%d customers, %d transactions (%.0f a second)",
                self.customers, self.total, self.transactions, self.transactions / elapsed,
            )  # fmt: skip
            self.next_log += 0.1

    def _rows_of(self, select_sql: str, oids: Sequence[str]) -> dict[str, list[tuple[Any, ...]]]:
        """The rows of the customers, by customer, each without its customer_oid, by id."""
        statement = text(f"{select_sql} WHERE customer_oid IN :oids ORDER BY id").bindparams(
            bindparam("oids", expanding=True)
        )
        found: dict[str, list[tuple[Any, ...]]] = {}
        for row in self.connection.execute(statement, {"oids": list(oids)}):
            found.setdefault(row[0], []).append(tuple(row[1:]))
        return found

    def _spent(self, oids: Sequence[str]) -> dict[tuple[str, str, str, str], int]:
        """The customers' outflows from the first new day's month on, as spending counts them
        (not between their own accounts, nor investments), by (customer, category, month,
        currency), in cents."""
        month = MONTH_OF_DATE[self.connection.dialect.name]
        not_spending = ", ".join(f"'{category}'" for category in sorted(activity.NOT_SPENDING))
        statement = text(
            f"SELECT customer_oid, category, {month}, currency, -sum(amount) FROM transactions "
            "WHERE customer_oid IN :oids AND date >= :first AND amount < 0 "
            f"AND category NOT IN ({not_spending}) "
            f"GROUP BY customer_oid, category, {month}, currency"
        ).bindparams(bindparam("oids", expanding=True), bindparam("first", type_=Date))
        first = dt.date.fromisoformat(self.first_month + "-01")
        return {
            (oid, category, month_, currency): int(cents)
            for oid, category, month_, currency, cents in self.connection.execute(
                statement, {"oids": list(oids), "first": first}
            )
        }
