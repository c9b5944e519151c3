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

import datetime as dt
import logging
import random
import time
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Date, bindparam, text
from sqlmodel import col, select

import activity
from activity import Account, Calendar, Customer, HistoryWriter, Holding, Prices
from bank import market, webhooks
from bank.feed import first_new_transaction_id, hold_feed_order, log_added
from bank.ledger import MAX_BALANCE_CENTS
from db import WriteSession
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
    first, last = clock.today + dt.timedelta(days=1), clock.today + dt.timedelta(days=days)
    calendar = Calendar(first, last)
    connection = session.connection()
    with row_triggers_skipped(connection, WRITTEN):
        expired, exercised = _expire_derivatives(connection, last)
        lived = _Living(connection, calendar, started)
        for personas in _persona_batches(connection):
            lived.batch(personas)
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


class _Living:
    """The generated customers living the calendar's days, a batch at a time."""

    def __init__(self, connection: Connection, calendar: Calendar, started: float) -> None:
        self.connection = connection
        self.calendar = calendar
        self.prices = Prices(calendar)
        self.factories: dict[int, CustomerFactory] = {}
        self.month = MONTH_OF_DATE[connection.dialect.name]
        self.started = started
        self.customers = self.transactions = self.revalued = self.spending = 0
        self.total = connection.execute(text("SELECT count(*) FROM personas")).scalar_one()
        self.next_log = 0.1

    def batch(self, personas: list[tuple[str, int | None, int]]) -> None:
        connection = self.connection
        oids = _lock_customers(connection, [oid for oid, _, _ in personas])
        if not oids:
            return
        accounts = self._rows_of(
            "SELECT customer_oid, id, account_type, currency, account_number, balance "
            "FROM bank_accounts",
            oids,
        )
        assets = self._rows_of(
            "SELECT customer_oid, id, asset_type, symbol, quantity, currency FROM assets", oids
        )
        # Each living customer's priced holdings: (asset id, holding, value at the last close).
        holdings = {oid: self._holdings(assets.get(oid, [])) for oid in oids}
        rows: list[tuple[object, ...]] = []
        moved: list[tuple[int, int]] = []
        for oid, seed, number in personas:
            generated = self._customer(seed, number)
            if oid not in holdings or generated is None:
                continue
            customer, rng = generated
            # Their rows now: what the API changed since the history counts.
            customer.oid = oid
            held = accounts.get(oid, [])
            customer.accounts = [
                Account(kind, currency, number) for _, kind, currency, number, _ in held
            ]
            ids = [row[0] for row in held]
            customer.holdings = [holding for _, holding, _ in holdings[oid]]
            writer = HistoryWriter(customer, rng, self.calendar, self.prices, ids)
            writer.events = random.Random(f"{seed}:{number}:{self.calendar.start}")
            writer.r = writer.events.random
            writer.live()
            for holding in customer.holdings:
                writer.pay_income_of(holding)
            balances = [row[4] + cents for row, cents in zip(held, writer.net, strict=True)]
            if any(abs(balance) > MAX_BALANCE_CENTS for balance in balances):
                # An account set near the most a balance holds (PATCH): the days would take
                # it past; this customer's days pass without activity.
                logger.info("Advancing the clock: %s would pass a balance's limit", oid)
                continue
            writer.rows.sort(key=lambda row: row[2])  # type: ignore[arg-type,return-value]
            rows += writer.rows
            moved += [(ids[n], cents) for n, cents in enumerate(writer.net) if cents]
        first = first_new_transaction_id(connection)
        insert_rows(connection, {"transactions": rows})
        log_added(connection, first)
        _update_by_id(connection, "bank_accounts", "balance = balance + v.value", moved)
        values = [(id_, value) for held in holdings.values() for id_, _, value in held]
        _update_by_id(connection, "assets", "current_value = v.value", values)
        self.revalued += len(values)
        self._spending_again(oids)
        _renew_versions(connection, oids)
        self.customers += len(oids)
        self.transactions += len(rows)
        if self.customers / max(self.total, 1) >= self.next_log:
            rate = self.transactions / max(time.monotonic() - self.started, 1e-9)
            logger.info(
                "Advancing the clock: %d/%d customers, %d transactions, %.0f rows/s",
                self.customers, self.total, self.transactions, rate,
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

    def _customer(self, seed: int | None, number: int) -> tuple[Customer, random.Random] | None:
        """The customer as generated, and their recurring stream where their history began
        drawing from it; None for a sample seed.py no longer has."""
        if seed is None:
            return sample_customer(number) if number < len(SAMPLE_CUSTOMERS) else None
        factory = self.factories.get(seed)
        if factory is None:
            factory = self.factories[seed] = CustomerFactory(
                seed=seed, today=self.calendar.today, months=0,
                institutions={"bank": 0, "broker": 0},
            )  # fmt: skip
        customer, _, _, rng = factory.customer(number)
        return customer, rng

    def _holdings(self, assets: list[tuple[Any, ...]]) -> list[tuple[int, Holding, int]]:
        """A customer's assets (id, asset_type, symbol, quantity, currency) that have prices,
        as holdings with their ids and their values at the last close in cents: those whose
        value fits a money field."""
        found = []
        for id_, kind, symbol, quantity, currency in assets:
            symbol = symbol.upper()
            if symbol not in market.SECURITIES:
                continue
            holding = Holding.of_quantity(kind, symbol, quantity, currency)
            close = self.prices.of(symbol)[-1]
            value = activity.money_of(holding.units, holding.scale, close)
            if value <= MAX_BALANCE_CENTS:
                found.append((id_, holding, value))
        return found

    def _spending_again(self, oids: Sequence[str]) -> None:
        """The spending rows of the new days' months, summed again from the transactions."""
        first_month = self.calendar.iso[0][:7]
        expanding: Any = bindparam("oids", expanding=True)
        self.connection.execute(
            text("DELETE FROM spending WHERE customer_oid IN :oids AND month >= :month").bindparams(
                expanding
            ),
            {"oids": list(oids), "month": first_month},
        )
        month = self.month
        not_spending = ", ".join(f"'{category}'" for category in sorted(activity.NOT_SPENDING))
        result = self.connection.execute(
            text(
                "INSERT INTO spending (customer_oid, category, amount, month, currency) "
                f"SELECT customer_oid, category, -sum(amount), {month}, currency "
                "FROM transactions WHERE customer_oid IN :oids AND date >= :first "
                f"AND amount < 0 AND category NOT IN ({not_spending}) "
                f"GROUP BY customer_oid, category, {month}, currency "
                f"ORDER BY customer_oid, {month}, category, currency"
            ).bindparams(expanding, bindparam("first", type_=Date)),
            {"oids": list(oids), "first": dt.date.fromisoformat(first_month + "-01")},
        )
        self.spending += result.rowcount
