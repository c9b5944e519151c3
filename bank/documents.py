"""Lists and portfolios read straight from the driver's rows into the answer's JSON data.

A first read is most of what a load test or a fleet of agents does, so it must be cheap on its
own. Each read here is a db.Read: its prepared SQL statements, and what their rows become.
Database.read_rows runs them in one read transaction (one snapshot) on the driver's own
cursor: on the event loop for SQLite, as one query of prepared statements for PostgreSQL. The
database turns stored cents into numbers; the rows' tuples become the public shapes' dicts,
same keys in the same order. No ORM objects are built and nothing is validated: the rows were
validated on the way in. orjson then serializes the dicts into the bytes pydantic-core makes
of the models (tests/test_documents.py holds them to it, byte for byte, on both engines).
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

from sqlmodel import col

from bank.collections import (
    ASSETS,
    BANK_ACCOUNTS,
    COLLECTIONS,
    DERIVATIVE_TRANSACTIONS,
    SPENDING,
    TRANSACTIONS,
    Collection,
)
from bank.money import to_reporting_cents, unrealized_gain
from bank.pagination import FIRST_PAGE, Page, decode_cursor, encode_cursor
from db import Params, Read, Row
from errors import CustomerNotFound
from fields import MoneyColumn
from models import (
    REPORTING_CURRENCY,
    InstitutionPublic,
    PageQuery,
    TransactionQuery,
    User,
)

Item = dict[str, Any]


@dataclass(frozen=True)
class ItemShape:
    """How one collection's rows are selected and turned into its public dicts."""

    collection: Collection[Any, Any, Any, Any]
    columns: tuple[str, ...]  # the table's columns, in the public shape's order
    # The columns of a customer's items but customer_oid (the customer asked for, which the
    # public dict is given), as the public shape shows them (money as numbers), then a bank
    # account's institution, then the money columns again as stored cents.
    sql: str
    cents: tuple[str, ...]  # the money columns selected again as cents, at the row's end
    item: Callable[[Row, str], Item]  # a selected row, and its customer, as its public dict

    def order(self) -> str:
        direction = "DESC" if self.collection.newest_first else "ASC"
        return ", ".join(f"t.{name} {direction}" for name in self.collection.order_by)

    def index(self, name: str) -> int:
        """Where a selected row holds this column."""
        return _selected(self.columns).index(name)

    def items(self, rows: list[Row], customer_oid: str) -> list[Item]:
        """The customer's selected rows as their public dicts."""
        return list(map(self.item, rows, repeat(customer_oid)))

    def cents_index(self, name: str) -> int:
        return _cents_index(self.cents, name)


def _selected(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns selected of the public ones, in order: all but customer_oid, which is the
    customer asked for. Not reading it back saves a string per row (a sixth of a statement's
    time for a portfolio's spending)."""
    return tuple(name for name in columns if name != "customer_oid")


def _cents_index(cents: tuple[str, ...], name: str) -> int:
    """Where a selected row holds this money column in cents: among its last columns."""
    return cents.index(name) - len(cents)


INSTITUTION_FIELDS = tuple(InstitutionPublic.model_fields)
# A type both engines know: SQLite gives it REAL affinity, PostgreSQL float8.
DOUBLE = "DOUBLE PRECISION"


def _public_column(table: Any, name: str) -> str:
    """A column as the public shape shows it, converted by the database. Money: stored cents
    divided by 100 in binary floating point, correctly rounded on either engine as in Python
    (every amount, at most 15 digits, is exact as a double); floats stay floats even when
    integral."""
    type_ = table.columns[name].type
    if isinstance(type_, MoneyColumn):
        return f"CAST(t.{name} AS {DOUBLE}) / 100"
    if type_.python_type is float:
        return f"CAST(t.{name} AS {DOUBLE})"
    return f"t.{name}"


def _item_shape(collection: Collection[Any, Any, Any, Any]) -> ItemShape:
    table = collection.table.__table__
    columns = tuple(name for name in collection.public.model_fields if name in table.columns)
    cents = tuple(name for name in columns if isinstance(table.columns[name].type, MoneyColumn))
    selected = [_public_column(table, name) for name in _selected(columns)]
    joined = ""
    if collection is BANK_ACCOUNTS:
        selected += [f"i.{name}" for name in INSTITUTION_FIELDS]
        joined = " JOIN institutions i ON i.id = t.institution_id"
    selected += [f"t.{name}" for name in cents]
    sql = f"SELECT {', '.join(selected)} FROM {table.name} t{joined}"
    sql += " WHERE t.customer_oid = :customer_oid"
    return ItemShape(collection, columns, sql, cents, _row_to_item(collection, columns, cents))


def _row_to_item(
    collection: Collection[Any, Any, Any, Any], columns: tuple[str, ...], cents: tuple[str, ...]
) -> Callable[[Row, str], Item]:
    """How a selected row and its customer become its public dict: the row's first columns are
    the shape's, but customer_oid."""
    make = _dict_of(columns)
    if collection is BANK_ACCOUNTS:
        start = len(_selected(columns))
        institution = slice(start, start + len(INSTITUTION_FIELDS))

        def account(row: Row, customer_oid: str) -> Item:
            public = make(row, customer_oid)
            public["institution"] = dict(zip(INSTITUTION_FIELDS, row[institution], strict=True))
            return public

        return account
    if collection is ASSETS:
        value, cost = _cents_index(cents, "current_value"), _cents_index(cents, "cost_basis")

        def asset(row: Row, customer_oid: str) -> Item:
            public = make(row, customer_oid)
            _add_gains(public, row[value], row[cost])
            return public

        return asset
    return make


def _dict_of(columns: tuple[str, ...]) -> Callable[[Row, str], Item]:
    """A function making a selected row and its customer the dict of these columns: a dict
    display, `lambda row, customer_oid: {"id": row[0], "customer_oid": customer_oid, ...}`,
    made once per shape. It makes a row's dict in half the time dict(zip(columns, row)) takes,
    and a portfolio is about 50 of them. The names are the models' field names (checked to be
    identifiers), so the source is this module's own."""
    assert all(name.isidentifier() for name in columns), columns
    selected = _selected(columns)
    entries = ", ".join(
        f"{name!r}: customer_oid"
        if name == "customer_oid"
        else f"{name!r}: row[{selected.index(name)}]"
        for name in columns
    )
    make: Callable[[Row, str], Item] = eval(f"lambda row, customer_oid: {{{entries}}}")  # noqa: S307
    return make


SHAPES = {collection: _item_shape(collection) for collection in COLLECTIONS}


def _add_gains(item: Item, value_cents: int, cost_cents: int | None) -> None:
    gain, percent = unrealized_gain(value_cents, cost_cents)
    item["unrealized_gain"] = None if gain is None else gain / 100
    item["unrealized_gain_pct"] = percent


def _date_param(value: dt.date) -> str:
    # SQLite stores dates as ISO text (SQLAlchemy's Date). PostgreSQL takes the text as a
    # literal of unknown type, so it compares it as a date.
    return value.isoformat()


# --- Reads ----------------------------------------------------------------------------------

# The customer's name, and the data version of their rows (response_cache.py) in the same
# statement: a read of a customer's items begins with it.
USER_SQL = (
    "SELECT u.name, v.version FROM users u"
    " LEFT JOIN customer_versions v ON v.customer_oid = u.customer_oid"
    " WHERE u.customer_oid = :customer_oid"
)


def _user_version(results: list[list[Row]]) -> int | None:
    """The data version a read that begins with USER_SQL found (None: no such customer)."""
    user = results[0]
    return user[0][1] if user else None


def list_customers(*, page: PageQuery = FIRST_PAGE) -> Read[Page[Item]]:
    """One page of the registered customers (models.UserPublic's shape), by CustomerOID."""
    params: dict[str, Any] = {"limit": page.limit + 1}
    where = ""
    if page.cursor is not None:
        (params["after"],) = decode_cursor(page.cursor, [col(User.customer_oid)])
        where = " WHERE customer_oid > :after"
    sql = f"SELECT customer_oid, name FROM users{where} ORDER BY customer_oid LIMIT :limit"

    def finish(results: list[list[Row]]) -> Page[Item]:
        return _page_of(
            results[0], page, lambda rows: list(map(_user, rows)), key=("customer_oid",)
        )

    return Read(((sql, params),), finish)


def _user(row: Row) -> Item:
    return {"customer_oid": row[0], "name": row[1]}


def _page_of(
    rows: list[Row],
    page: PageQuery,
    items_of: Callable[[list[Row]], list[Item]],
    *,
    key: Sequence[str],
) -> Page[Item]:
    """The page from rows read with LIMIT page.limit + 1: the extra row, when there is one,
    says that a next page exists, which starts after the last item's `key`."""
    items = items_of(rows[: page.limit])
    next_cursor = None
    if len(rows) > page.limit:
        next_cursor = encode_cursor([items[-1][name] for name in key])
    return Page(items, next_cursor)


def list_page(
    *, collection: Collection[Any, Any, Any, Any], customer_oid: str, page: PageQuery
) -> Read[Page[Item]]:
    """One page of a customer's items in list order; CustomerNotFound when no such customer."""
    return _filtered_page(collection, customer_oid, page, filters=())


def _filtered_page(
    collection: Collection[Any, Any, Any, Any],
    customer_oid: str,
    page: PageQuery,
    *,
    filters: Sequence[tuple[str, Params]],
) -> Read[Page[Item]]:
    """A page of the items that pass `filters`: SQL conditions on the table `t`, each with its
    bound parameters. Their text must be this module's own constants, never a client's."""
    shape = SHAPES[collection]
    params: dict[str, Any] = {"customer_oid": customer_oid, "limit": page.limit + 1}
    conditions = []
    for condition, values in filters:
        conditions.append(condition)
        params.update(values)
    key = collection.order_by
    if page.cursor is not None:
        key_columns = [getattr(collection.table, name) for name in key]
        after = decode_cursor(page.cursor, key_columns)
        names = []
        for name, value in zip(key, after, strict=True):
            is_date = isinstance(value, dt.date)
            params[f"after_{name}"] = _date_param(value) if is_date else value
            names.append(f":after_{name}")
        operator = "<" if collection.newest_first else ">"
        columns = ", ".join(f"t.{name}" for name in key)
        conditions.append(f"({columns}) {operator} ({', '.join(names)})")
    where = "".join(f" AND {condition}" for condition in conditions)
    sql = f"{shape.sql}{where} ORDER BY {shape.order()} LIMIT :limit"
    # The customer's row in the same snapshot: an empty page and a missing customer differ.

    def finish(results: list[list[Row]]) -> Page[Item]:
        user, found = results
        if not user:
            raise CustomerNotFound(customer_oid)
        return _page_of(found, page, lambda rows: shape.items(rows, customer_oid), key=key)

    return Read(((USER_SQL, params), (sql, params)), finish, _user_version)


def list_transactions(*, customer_oid: str, query: TransactionQuery) -> Read[Page[Item]]:
    """A customer's transactions, newest first, within [from, to] and of a type or category.

    A range whose start is after its end holds no dates, so it lists no transactions.
    """
    filters: list[tuple[str, Params]] = []
    if query.start is not None:
        filters.append(("t.date >= :start", {"start": _date_param(query.start)}))
    if query.end is not None:
        filters.append(("t.date <= :end", {"end": _date_param(query.end)}))
    if query.type is not None:
        filters.append(("t.type = :type", {"type": query.type.value}))
    if query.category is not None:
        filters.append(("t.category = :category", {"category": query.category}))
    return _filtered_page(TRANSACTIONS, customer_oid, query, filters=filters)


# The portfolio's lists, by their key in models.Portfolio.
PORTFOLIO_KEYS = ("assets", "bank_accounts", "transactions", "spending", "derivative_transactions")
PORTFOLIO_LISTS: tuple[Collection[Any, Any, Any, Any], ...] = (
    ASSETS,
    BANK_ACCOUNTS,
    TRANSACTIONS,
    SPENDING,
    DERIVATIVE_TRANSACTIONS,
)
PORTFOLIO_SQL = [USER_SQL] + [
    f"{SHAPES[collection].sql} ORDER BY {SHAPES[collection].order()}"
    for collection in PORTFOLIO_LISTS
]


def portfolio(*, customer_oid: str) -> Read[Item]:
    """A customer's whole portfolio (models.Portfolio's shape); CustomerNotFound if none."""
    params = {"customer_oid": customer_oid}
    statements = tuple((sql, params) for sql in PORTFOLIO_SQL)
    return Read(statements, lambda results: _portfolio(customer_oid, results), _user_version)


def _portfolio(customer_oid: str, results: list[list[Row]]) -> Item:
    user, *lists = results
    if not user:
        raise CustomerNotFound(customer_oid)
    summary = _summary(customer_oid, *lists)
    return {
        "customer_oid": customer_oid,
        "user": {"customer_oid": customer_oid, "name": user[0][0]},
        **{
            key: SHAPES[collection].items(found, customer_oid)
            for key, collection, found in zip(PORTFOLIO_KEYS, PORTFOLIO_LISTS, lists, strict=True)
        },
        "portfolio_summary": summary,
    }


def _in_reporting_cents(rows: list[Row], cents: int, currency: int) -> list[int]:
    """Each row's amount (at index `cents`, in the currency at `currency`) in reporting cents."""
    reporting = REPORTING_CURRENCY.value
    return [
        row[cents] if row[currency] == reporting else to_reporting_cents(row[cents], row[currency])
        for row in rows
    ]


def _totals(rows: list[Row], key: int, amounts: list[int]) -> dict[str, int]:
    """The amounts summed by each row's value at index `key`."""
    totals: dict[str, int] = {}
    for row, amount in zip(rows, amounts, strict=True):
        totals[row[key]] = totals.get(row[key], 0) + amount
    return totals


def _numbers(totals: dict[str, int]) -> dict[str, float]:
    """Totals per key as numbers, keys sorted."""
    return {key: totals[key] / 100 for key in sorted(totals)}


# Where the summary finds what it needs in the portfolio's rows: money as cents.
ASSET = (
    SHAPES[ASSETS].index("asset_type"),
    SHAPES[ASSETS].cents_index("current_value"),
    SHAPES[ASSETS].index("currency"),
)
ACCOUNT = SHAPES[BANK_ACCOUNTS].cents_index("balance"), SHAPES[BANK_ACCOUNTS].index("currency")
SPENT = (
    SHAPES[SPENDING].index("category"),
    SHAPES[SPENDING].index("month"),
    SHAPES[SPENDING].cents_index("amount"),
    SHAPES[SPENDING].index("currency"),
)


def _summary(
    customer_oid: str,
    assets: list[Row],
    accounts: list[Row],
    transactions: list[Row],
    spending: list[Row],
    derivatives: list[Row],
) -> dict[str, Any]:
    """The portfolio's summary, its keys in models.PortfolioSummary's order. Totals: each amount
    converted into the reporting currency and rounded to the cent, then summed, all in exact
    integer cents."""
    type_, value, value_currency = ASSET
    allocation = _totals(assets, type_, _in_reporting_cents(assets, value, value_currency))
    cash = sum(_in_reporting_cents(accounts, *ACCOUNT))
    category, month, amount, amount_currency = SPENT
    spent_amounts = _in_reporting_cents(spending, amount, amount_currency)
    spent = sum(spent_amounts)
    by_category = _totals(spending, category, spent_amounts)
    by_month = _totals(spending, month, spent_amounts)
    asset_value = sum(allocation.values())
    return {
        "customer_oid": customer_oid,
        # int / int is correctly rounded: the float of the exact decimal total.
        "total_cash_balance": cash / 100,
        "total_spending": spent / 100,
        "total_assets": len(assets),
        "total_accounts": len(accounts),
        "total_transactions": len(transactions),
        "total_spending_categories": len(by_category),
        "total_derivative_positions": len(derivatives),
        "has_data": {
            "assets": bool(assets),
            "accounts": bool(accounts),
            "transactions": bool(transactions),
            "spending": bool(spending),
            "derivatives": bool(derivatives),
        },
        "currency": REPORTING_CURRENCY.value,
        "total_asset_value": asset_value / 100,
        "net_worth": (cash + asset_value) / 100,
        "asset_allocation": _numbers(allocation),
        "spending_by_category": _numbers(by_category),
        "spending_by_month": _numbers(by_month),
    }
