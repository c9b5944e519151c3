"""Lists and portfolios read straight from the driver's rows into the answer's JSON data.

A first read is most of what a load test or a fleet of agents does, so it must be cheap on its
own. Each list is one prepared SQL statement run on the driver's own cursor, inside the
session's transaction (one snapshot); its tuples become the public shapes' dicts, same keys in
the same order, with money turned from stored cents into numbers. No ORM objects are built and
nothing is validated: the rows were validated on the way in. pydantic-core then serializes the
dicts exactly as it serializes the models (tests/test_documents.py holds them to it, byte for
byte, on both engines). On PostgreSQL the statements of one read go out together in a pipeline:
one round trip.
"""

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col

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
from db import Params, Row, select_rows
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
    sql: str  # every column of a customer's items; bank accounts with their institution
    item: Callable[[Row], Item]  # a selected row as its public dict

    def order(self) -> str:
        direction = "DESC" if self.collection.newest_first else "ASC"
        return ", ".join(f"t.{name} {direction}" for name in self.collection.order_by)

    def index(self, name: str) -> int:
        return self.columns.index(name)


INSTITUTION_FIELDS = tuple(InstitutionPublic.model_fields)


def _item_shape(collection: Collection[Any, Any, Any, Any]) -> ItemShape:
    table = collection.table.__table__
    columns = tuple(name for name in collection.public.model_fields if name in table.columns)
    # The columns stored otherwise than shown: money as cents, floats that may read as ints.
    types = [table.columns[name].type for name in columns]
    money = [i for i, type_ in enumerate(types) if isinstance(type_, MoneyColumn)]
    floats = [i for i, type_ in enumerate(types) if type_.python_type is float]
    selected = ", ".join(f"t.{name}" for name in columns)
    sql = f"SELECT {selected} FROM {table.name} t"
    if collection is BANK_ACCOUNTS:
        sql = f"SELECT {selected}, {', '.join(f'i.{name}' for name in INSTITUTION_FIELDS)}"
        sql += f" FROM {table.name} t JOIN institutions i ON i.id = t.institution_id"
    sql += " WHERE t.customer_oid = :customer_oid"
    width = len(columns)
    gains = None
    if collection is ASSETS:
        gains = columns.index("current_value"), columns.index("cost_basis")

    def item(row: Row) -> Item:
        values = list(row)
        for index in money:
            if values[index] is not None:
                # int / int is correctly rounded: float(Decimal(cents).scaleb(-2)) exactly.
                values[index] /= 100
        for index in floats:
            if values[index] is not None:
                values[index] = float(values[index])
        public = dict(zip(columns, values[:width], strict=True))
        if collection is BANK_ACCOUNTS:
            public["institution"] = dict(zip(INSTITUTION_FIELDS, values[width:], strict=True))
        elif gains is not None:
            _add_gains(public, row[gains[0]], row[gains[1]])
        return public

    return ItemShape(collection, columns, sql, item)


SHAPES = {collection: _item_shape(collection) for collection in COLLECTIONS}


def _add_gains(item: Item, value_cents: int, cost_cents: int | None) -> None:
    gain, percent = unrealized_gain(value_cents, cost_cents)
    item["unrealized_gain"] = None if gain is None else gain / 100
    item["unrealized_gain_pct"] = percent


def _date_param(session: Session, value: dt.date) -> dt.date | str:
    # SQLite stores dates as ISO text (SQLAlchemy's Date); PostgreSQL compares date to date.
    return value if session.get_bind().dialect.name == "postgresql" else value.isoformat()


# --- Reads ----------------------------------------------------------------------------------

USER_SQL = "SELECT name FROM users WHERE customer_oid = :customer_oid"


def list_customers(session: Session, /, *, page: PageQuery = FIRST_PAGE) -> Page[Item]:
    """One page of the registered customers (models.UserPublic's shape), by CustomerOID."""
    params: dict[str, Any] = {"limit": page.limit + 1}
    where = ""
    if page.cursor is not None:
        (params["after"],) = decode_cursor(page.cursor, [col(User.customer_oid)])
        where = " WHERE customer_oid > :after"
    sql = f"SELECT customer_oid, name FROM users{where} ORDER BY customer_oid LIMIT :limit"
    (rows,) = select_rows(session, [(sql, params)])
    return _page_of(rows, page, _user, key=("customer_oid",))


def _user(row: Row) -> Item:
    return {"customer_oid": row[0], "name": row[1]}


def _page_of(
    rows: list[Row], page: PageQuery, item: Callable[[Row], Item], *, key: Sequence[str]
) -> Page[Item]:
    """The page from rows read with LIMIT page.limit + 1: the extra row, when there is one,
    says that a next page exists, which starts after the last item's `key`."""
    items = list(map(item, rows[: page.limit]))
    next_cursor = None
    if len(rows) > page.limit:
        next_cursor = encode_cursor([items[-1][name] for name in key])
    return Page(items, next_cursor)


def list_page(
    session: Session,
    /,
    *,
    collection: Collection[Any, Any, Any, Any],
    customer_oid: str,
    page: PageQuery,
) -> Page[Item]:
    """One page of a customer's items in list order; CustomerNotFound when no such customer."""
    return _filtered_page(session, collection, customer_oid, page, filters=())


def _filtered_page(
    session: Session,
    collection: Collection[Any, Any, Any, Any],
    customer_oid: str,
    page: PageQuery,
    *,
    filters: Sequence[tuple[str, Params]],
) -> Page[Item]:
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
            params[f"after_{name}"] = _date_param(session, value) if is_date else value
            names.append(f":after_{name}")
        operator = "<" if collection.newest_first else ">"
        columns = ", ".join(f"t.{name}" for name in key)
        conditions.append(f"({columns}) {operator} ({', '.join(names)})")
    where = "".join(f" AND {condition}" for condition in conditions)
    sql = f"{shape.sql}{where} ORDER BY {shape.order()} LIMIT :limit"
    # The customer's row in the same snapshot: an empty page and a missing customer differ.
    user, rows = select_rows(session, [(USER_SQL, params), (sql, params)])
    if not user:
        raise CustomerNotFound(customer_oid)
    return _page_of(rows, page, shape.item, key=key)


def list_transactions(
    session: Session, /, *, customer_oid: str, query: TransactionQuery
) -> Page[Item]:
    """A customer's transactions, newest first, within [from, to] and of a type or category.

    A range whose start is after its end holds no dates, so it lists no transactions.
    """
    filters: list[tuple[str, Params]] = []
    if query.start is not None:
        filters.append(("t.date >= :start", {"start": _date_param(session, query.start)}))
    if query.end is not None:
        filters.append(("t.date <= :end", {"end": _date_param(session, query.end)}))
    if query.type is not None:
        filters.append(("t.type = :type", {"type": query.type.value}))
    if query.category is not None:
        filters.append(("t.category = :category", {"category": query.category}))
    return _filtered_page(session, TRANSACTIONS, customer_oid, query, filters=filters)


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


def portfolio(session: Session, /, *, customer_oid: str) -> Item:
    """A customer's whole portfolio (models.Portfolio's shape); CustomerNotFound if none."""
    params = {"customer_oid": customer_oid}
    user, *lists = select_rows(session, [(sql, params) for sql in PORTFOLIO_SQL])
    if not user:
        raise CustomerNotFound(customer_oid)
    summary = _summary(customer_oid, *lists)
    return {
        "customer_oid": customer_oid,
        "user": {"customer_oid": customer_oid, "name": user[0][0]},
        **{
            key: list(map(SHAPES[collection].item, rows))
            for key, collection, rows in zip(PORTFOLIO_KEYS, PORTFOLIO_LISTS, lists, strict=True)
        },
        "portfolio_summary": summary,
    }


def _add(totals: dict[str, int], key: str, cents: int) -> None:
    totals[key] = totals.get(key, 0) + cents


def _numbers(totals: dict[str, int]) -> dict[str, float]:
    """Totals per key as numbers, keys sorted."""
    return {key: totals[key] / 100 for key in sorted(totals)}


ASSET = tuple(SHAPES[ASSETS].index(n) for n in ("asset_type", "current_value", "currency"))
ACCOUNT = tuple(SHAPES[BANK_ACCOUNTS].index(n) for n in ("balance", "currency"))
SPENT = tuple(SHAPES[SPENDING].index(n) for n in ("category", "month", "amount", "currency"))


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
    allocation: dict[str, int] = {}
    for row in assets:
        _add(allocation, row[type_], to_reporting_cents(row[value], row[value_currency]))
    balance, balance_currency = ACCOUNT
    cash = sum(to_reporting_cents(row[balance], row[balance_currency]) for row in accounts)
    category, month, amount, amount_currency = SPENT
    by_category: dict[str, int] = {}
    by_month: dict[str, int] = {}
    spent = 0
    for row in spending:
        converted = to_reporting_cents(row[amount], row[amount_currency])
        spent += converted
        _add(by_category, row[category], converted)
        _add(by_month, row[month], converted)
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
