"""The bank's domain: customers, their collections and portfolios, as functions over a Session.

HTTP routes and MCP tools are thin faces over these functions. Customer OIDs passed in are
already canonical (see models.normalize_customer_oid); every face validates them at its edge.
Functions that change data commit; run them with Database.run(..., write=True).
"""

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import ColumnElement, CursorResult, Date, Integer, delete, tuple_
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from errors import (
    CustomerAlreadyExists,
    CustomerNotFound,
    InstitutionNotFound,
    InvalidCursor,
    ItemNotFound,
)
from models import (
    CURSOR_SEPARATOR,
    REPORTING_CURRENCY,
    Asset,
    AssetCreate,
    AssetPublic,
    AssetUpdate,
    BankAccount,
    BankAccountCreate,
    BankAccountPublic,
    BankAccountUpdate,
    Currency,
    CustomerCreate,
    CustomerDeleted,
    CustomerExistence,
    CustomerRegistered,
    DerivativeTransaction,
    DerivativeTransactionCreate,
    DerivativeTransactionPublic,
    DerivativeTransactionUpdate,
    HasData,
    Institution,
    InstitutionPublic,
    PageQuery,
    Portfolio,
    PortfolioImport,
    PortfolioSummary,
    Spending,
    SpendingCreate,
    SpendingPublic,
    SpendingUpdate,
    Transaction,
    TransactionCreate,
    TransactionPublic,
    TransactionQuery,
    TransactionUpdate,
    User,
    UserPublic,
    normalize_customer_oid,
    page_query,
    to_cents,
)

T = TypeVar("T")
FIRST_PAGE = PageQuery()

# --- Currency conversion --------------------------------------------------------------------

# Fixed, documented rates (value of one unit in USD). A sandbox needs totals that are stable
# and reproducible, not live quotes.
USD_PER_UNIT: dict[Currency, Decimal] = {
    Currency.USD: Decimal("1"),
    Currency.EUR: Decimal("1.08"),
    Currency.GBP: Decimal("1.27"),
    Currency.CHF: Decimal("1.13"),
    Currency.CAD: Decimal("0.73"),
    Currency.JPY: Decimal("0.0067"),
}
ZERO = Decimal("0.00")


def to_reporting_currency(amount: Decimal, currency: Currency | str) -> Decimal:
    """Convert an amount into the reporting currency, rounded to the cent (banker's rounding)."""
    rate = USD_PER_UNIT[Currency(currency)] / USD_PER_UNIT[REPORTING_CURRENCY]
    return to_cents(amount * rate)


def total_in_reporting_currency(amounts: Iterable[tuple[Decimal, Currency | str]]) -> Decimal:
    return sum((to_reporting_currency(a, c) for a, c in amounts), ZERO)


def totals_by(items: Iterable[tuple[str, Decimal, Currency | str]]) -> dict[str, Decimal]:
    """Sum (key, amount, currency) triples per key in the reporting currency, keys sorted."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for key, amount, currency in items:
        totals[key] += to_reporting_currency(amount, currency)
    return dict(sorted(totals.items()))


# --- Pagination -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    """The cursor of a row: its list key, the parts joined (see models.page_query)."""
    plain = (value.isoformat() if isinstance(value, dt.date) else str(value) for value in values)
    return CURSOR_SEPARATOR.join(plain)


def decode_cursor(cursor: str, columns: Sequence[Any]) -> list[Any]:
    """The key values a cursor carries, typed like `columns`. The page query has checked its
    form already; InvalidCursor if it still does not fit this list."""
    parts = cursor.split(CURSOR_SEPARATOR)
    if len(parts) != len(columns):
        raise InvalidCursor()
    try:
        return [_cursor_value(column, part) for column, part in zip(columns, parts, strict=True)]
    except ValueError:
        raise InvalidCursor() from None


def _cursor_value(column: Any, value: str) -> Any:
    if isinstance(column.type, Date):
        return dt.date.fromisoformat(value)
    if isinstance(column.type, Integer):
        return int(value)
    return normalize_customer_oid(value) if column.key == "customer_oid" else value


def ordered(key: Sequence[Any], *, newest_first: bool) -> list[Any]:
    """ORDER BY clauses for a list key, all descending for newest-first lists."""
    return [column.desc() if newest_first else column.asc() for column in key]


def paginate(
    session: Session,
    statement: SelectOfScalar[Any],
    *,
    key: Sequence[Any],
    newest_first: bool,
    page: PageQuery,
) -> Page[Any]:
    """One page of `statement`, in `key` order, after the row the cursor names (keyset, no OFFSET).

    Rows added while a client walks the pages never shift it: every row that existed when the
    walk began is seen exactly once.
    """
    ordered_key, limit = tuple_(*key), page.limit
    if page.cursor is not None:
        after = tuple_(*decode_cursor(page.cursor, key))
        statement = statement.where(ordered_key < after if newest_first else ordered_key > after)
    order = ordered(key, newest_first=newest_first)
    rows = list(session.exec(statement.order_by(*order).limit(limit + 1)).all())
    if len(rows) <= limit:
        return Page(items=rows, next_cursor=None)
    last = rows[limit - 1]
    return Page(
        items=rows[:limit],
        next_cursor=encode_cursor([getattr(last, column.key) for column in key]),
    )


# --- Customers ------------------------------------------------------------------------------


def list_customers(*, session: Session, page: PageQuery = FIRST_PAGE) -> Page[UserPublic]:
    users = paginate(
        session,
        select(User),
        key=[col(User.customer_oid)],
        newest_first=False,
        page=page,
    )
    return Page([UserPublic.model_validate(user) for user in users.items], users.next_cursor)


def register_customer(*, session: Session, customer: CustomerCreate) -> CustomerRegistered:
    customer_oid = customer.customer_oid or str(uuid.uuid4())
    session.add(User(customer_oid=customer_oid, name=customer.name))
    # Insert and let the primary key decide: a check-then-insert would race.
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise CustomerAlreadyExists(customer_oid) from None
    return CustomerRegistered(customer_oid=customer_oid, name=customer.name)


def delete_customer(*, session: Session, customer_oid: str) -> CustomerDeleted:
    # One statement; ON DELETE CASCADE removes every row of the customer in the same transaction.
    result = cast(
        CursorResult[Any],
        session.execute(delete(User).where(col(User.customer_oid) == customer_oid)),
    )
    session.commit()
    if result.rowcount == 0:
        raise CustomerNotFound(customer_oid)
    return CustomerDeleted(customer_oid=customer_oid)


def customer_exists(*, session: Session, customer_oid: str) -> CustomerExistence:
    user = session.get(User, customer_oid)
    return CustomerExistence(
        customer_oid=customer_oid, exists=user is not None, name=user.name if user else None
    )


def get_customer(*, session: Session, customer_oid: str) -> User:
    user = session.get(User, customer_oid)
    if user is None:
        raise CustomerNotFound(customer_oid)
    return user


def list_institutions(*, session: Session) -> list[InstitutionPublic]:
    institutions = session.exec(select(Institution).order_by(col(Institution.id))).all()
    return [InstitutionPublic.model_validate(institution) for institution in institutions]


def _require_institutions(session: Session, institution_ids: Iterable[int]) -> None:
    wanted = set(institution_ids)
    if not wanted:
        return
    found = set(session.exec(select(Institution.id).where(col(Institution.id).in_(wanted))).all())
    missing = sorted(wanted - found)
    if missing:
        raise InstitutionNotFound(missing[0])


# --- Per-customer collections ---------------------------------------------------------------


def _asset_public(asset: Asset) -> AssetPublic:
    public = AssetPublic.model_validate(asset)
    if asset.cost_basis is not None:
        public.unrealized_gain = asset.current_value - asset.cost_basis
        if asset.cost_basis:
            public.unrealized_gain_pct = round(
                float(public.unrealized_gain / asset.cost_basis * 100), 2
            )
    return public


@dataclass(frozen=True)
class Collection:
    """One kind of per-customer item: its URL segment, table, shapes and list order."""

    name: str
    label: str
    table: type[SQLModel]
    public: type[SQLModel]
    create: type[SQLModel]
    update: type[SQLModel]
    order_by: tuple[str, ...] = ("id",)
    newest_first: bool = False
    to_public: Callable[[Any], Any] | None = None

    def key(self) -> list[Any]:
        return [getattr(self.table, name) for name in self.order_by]

    @property
    def page_query(self) -> type[PageQuery]:
        """Which page of this list; its cursor has the form of this list's key."""
        return page_query(self.order_by)

    def public_of(self, row: Any) -> Any:
        return self.to_public(row) if self.to_public else self.public.model_validate(row)

    def rows_of(self, customer_oid: str) -> SelectOfScalar[Any]:
        return select(self.table).where(cast(Any, self.table).customer_oid == customer_oid)


ASSETS = Collection(
    "assets", "Asset", Asset, AssetPublic, AssetCreate, AssetUpdate, to_public=_asset_public
)
BANK_ACCOUNTS = Collection(
    "bank-accounts",
    "Bank account",
    BankAccount,
    BankAccountPublic,
    BankAccountCreate,
    BankAccountUpdate,
)
TRANSACTIONS = Collection(
    "transactions",
    "Transaction",
    Transaction,
    TransactionPublic,
    TransactionCreate,
    TransactionUpdate,
    order_by=("date", "id"),
    newest_first=True,
)
SPENDING = Collection(
    "spending",
    "Spending entry",
    Spending,
    SpendingPublic,
    SpendingCreate,
    SpendingUpdate,
    order_by=("month", "id"),
)
DERIVATIVE_TRANSACTIONS = Collection(
    "derivative-transactions",
    "Derivative transaction",
    DerivativeTransaction,
    DerivativeTransactionPublic,
    DerivativeTransactionCreate,
    DerivativeTransactionUpdate,
)
COLLECTIONS = (ASSETS, BANK_ACCOUNTS, TRANSACTIONS, SPENDING, DERIVATIVE_TRANSACTIONS)


def _customer_items(session: Session, collection: Collection, customer_oid: str) -> list[Any]:
    """All of a customer's items of one collection, in the collection's list order."""
    order = ordered(collection.key(), newest_first=collection.newest_first)
    return list(session.exec(collection.rows_of(customer_oid).order_by(*order)).all())


def _get_row(
    session: Session,
    collection: Collection,
    customer_oid: str,
    item_id: int,
    *,
    for_update: bool = False,
) -> Any:
    get_customer(session=session, customer_oid=customer_oid)
    statement = collection.rows_of(customer_oid).where(cast(Any, collection.table).id == item_id)
    if for_update:
        # Locked until commit (PostgreSQL), so a concurrent delete of the customer waits.
        # Only this table's row: an account's institution comes in by an outer join.
        statement = statement.with_for_update(of=collection.table)
    row = session.exec(statement).first()
    if row is None:
        raise ItemNotFound(collection.label, item_id, customer_oid)
    return row


def list_items(
    *,
    session: Session,
    collection: Collection,
    customer_oid: str,
    page: PageQuery = FIRST_PAGE,
    filters: Sequence[ColumnElement[bool]] = (),
) -> Page[Any]:
    get_customer(session=session, customer_oid=customer_oid)
    rows = paginate(
        session,
        collection.rows_of(customer_oid).where(*filters),
        key=collection.key(),
        newest_first=collection.newest_first,
        page=page,
    )
    return Page([collection.public_of(row) for row in rows.items], rows.next_cursor)


def list_transactions(
    *, session: Session, customer_oid: str, query: TransactionQuery
) -> Page[TransactionPublic]:
    """A customer's transactions, newest first, within [from, to] and of a type or category.

    A range whose start is after its end holds no dates, so it lists no transactions.
    """
    filters: list[ColumnElement[bool]] = []
    if query.start is not None:
        filters.append(col(Transaction.date) >= query.start)
    if query.end is not None:
        filters.append(col(Transaction.date) <= query.end)
    if query.type is not None:
        filters.append(col(Transaction.type) == query.type.value)
    if query.category is not None:
        filters.append(col(Transaction.category) == query.category)
    return list_items(
        session=session,
        collection=TRANSACTIONS,
        customer_oid=customer_oid,
        page=query,
        filters=filters,
    )


def get_item(*, session: Session, collection: Collection, customer_oid: str, item_id: int) -> Any:
    return collection.public_of(_get_row(session, collection, customer_oid, item_id))


def create_item(
    *, session: Session, collection: Collection, customer_oid: str, item: SQLModel
) -> Any:
    get_customer(session=session, customer_oid=customer_oid)
    if isinstance(item, BankAccountCreate):
        _require_institutions(session, [item.institution_id])
    row = collection.table(**item.model_dump(), customer_oid=customer_oid)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        # The customer was deleted between the check and the insert (institutions never are).
        session.rollback()
        raise CustomerNotFound(customer_oid) from None
    return collection.public_of(row)


def update_item(
    *,
    session: Session,
    collection: Collection,
    customer_oid: str,
    item_id: int,
    changes: SQLModel,
) -> Any:
    row = _get_row(session, collection, customer_oid, item_id, for_update=True)
    fields = changes.model_dump(exclude_unset=True)
    if "institution_id" in fields:
        _require_institutions(session, [fields["institution_id"]])
    for name, value in fields.items():
        setattr(row, name, value)
    session.commit()
    return collection.public_of(row)


def delete_item(
    *, session: Session, collection: Collection, customer_oid: str, item_id: int
) -> None:
    row = _get_row(session, collection, customer_oid, item_id, for_update=True)
    session.delete(row)
    session.commit()


# --- Portfolio ------------------------------------------------------------------------------


def get_portfolio(*, session: Session, customer_oid: str) -> Portfolio:
    """Everything the bank holds on one customer, with a summary in the reporting currency."""
    # One session, one transaction: every list comes from the same snapshot.
    user = get_customer(session=session, customer_oid=customer_oid)
    assets = _customer_items(session, ASSETS, customer_oid)
    accounts = _customer_items(session, BANK_ACCOUNTS, customer_oid)
    transactions = _customer_items(session, TRANSACTIONS, customer_oid)
    spending = _customer_items(session, SPENDING, customer_oid)
    derivatives = _customer_items(session, DERIVATIVE_TRANSACTIONS, customer_oid)

    total_cash = total_in_reporting_currency((a.balance, a.currency) for a in accounts)
    total_asset_value = total_in_reporting_currency((a.current_value, a.currency) for a in assets)
    summary = PortfolioSummary(
        customer_oid=customer_oid,
        total_cash_balance=total_cash,
        total_spending=total_in_reporting_currency((s.amount, s.currency) for s in spending),
        total_assets=len(assets),
        total_accounts=len(accounts),
        total_transactions=len(transactions),
        total_spending_categories=len({s.category for s in spending}),
        total_derivative_positions=len(derivatives),
        has_data=HasData(
            assets=bool(assets),
            accounts=bool(accounts),
            transactions=bool(transactions),
            spending=bool(spending),
            derivatives=bool(derivatives),
        ),
        currency=REPORTING_CURRENCY,
        total_asset_value=total_asset_value,
        net_worth=total_cash + total_asset_value,
        asset_allocation=totals_by((a.asset_type, a.current_value, a.currency) for a in assets),
        spending_by_category=totals_by((s.category, s.amount, s.currency) for s in spending),
        spending_by_month=totals_by((s.month, s.amount, s.currency) for s in spending),
    )
    return Portfolio(
        customer_oid=customer_oid,
        user=UserPublic.model_validate(user),
        assets=[ASSETS.public_of(row) for row in assets],
        bank_accounts=[BANK_ACCOUNTS.public_of(row) for row in accounts],
        transactions=[TRANSACTIONS.public_of(row) for row in transactions],
        spending=[SPENDING.public_of(row) for row in spending],
        derivative_transactions=[DERIVATIVE_TRANSACTIONS.public_of(row) for row in derivatives],
        portfolio_summary=summary,
    )


def _insert_customer_if_missing(session: Session, customer_oid: str, name: str) -> bool:
    """Insert the customer unless they exist; True when inserted. Safe against a racing insert."""
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = (
        insert(User)
        .values(customer_oid=customer_oid, name=name)
        .on_conflict_do_nothing(index_elements=["customer_oid"])
        .returning(col(User.customer_oid))
    )
    return session.execute(statement).first() is not None


def import_portfolio(
    *, session: Session, customer_oid: str, portfolio: PortfolioImport
) -> tuple[Portfolio, bool]:
    """Replace a customer's whole portfolio with `portfolio`, creating the customer if needed.

    One transaction: an invalid item (an unknown institution) changes nothing. Returns the
    stored portfolio and whether the customer was created.
    """
    created = _insert_customer_if_missing(session, customer_oid, portfolio.user.name)
    # Imports of one customer take turns: the second waits here until the first commits, then
    # deletes what the first stored (PostgreSQL; SQLite's write lock already serializes them).
    user = session.exec(
        select(User).where(col(User.customer_oid) == customer_oid).with_for_update()
    ).one()
    user.name = portfolio.user.name
    _require_institutions(session, (a.institution_id for a in portfolio.bank_accounts))
    for collection in COLLECTIONS:
        table = cast(Any, collection.table)
        session.execute(delete(table).where(table.customer_oid == customer_oid))

    items_by_collection: dict[Collection, Sequence[SQLModel]] = {
        ASSETS: portfolio.assets,
        BANK_ACCOUNTS: portfolio.bank_accounts,
        # Stored oldest first, so that newest-first order (date, then id) reads back as given.
        TRANSACTIONS: portfolio.transactions[::-1],
        SPENDING: portfolio.spending,
        DERIVATIVE_TRANSACTIONS: portfolio.derivative_transactions,
    }
    for collection, items in items_by_collection.items():
        fields = set(collection.create.model_fields)
        session.add_all(
            collection.table(**item.model_dump(include=fields), customer_oid=customer_oid)
            for item in items
        )
    session.commit()
    return get_portfolio(session=session, customer_oid=customer_oid), created
