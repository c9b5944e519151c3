"""Per-customer collections: assets, bank accounts, transactions, spending and derivative
transactions, each created, read, changed and deleted the same way. Their lists, and the
portfolio, are read in bank/documents.py."""

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel
from sqlmodel.sql.expression import SelectOfScalar, select

from bank import ledger
from bank.customers import get_customer, lock_customer, require_institutions
from bank.feed import hold_feed_order
from bank.money import as_cents, unrealized_gain
from db import WriteSession
from errors import CustomerNotFound, ItemNotFound
from models import (
    Asset,
    AssetCreate,
    AssetPublic,
    AssetUpdate,
    BankAccount,
    BankAccountCreate,
    BankAccountPublic,
    BankAccountUpdate,
    DerivativeTransaction,
    DerivativeTransactionCreate,
    DerivativeTransactionPublic,
    DerivativeTransactionUpdate,
    PageQuery,
    RowId,
    Spending,
    SpendingCreate,
    SpendingPublic,
    SpendingUpdate,
    Transaction,
    TransactionCreate,
    TransactionPublic,
    TransactionUpdate,
    page_query,
)

RowT = TypeVar("RowT", bound=SQLModel)
# Every public shape starts with the row id (models.RowId).
PublicT = TypeVar("PublicT", bound=RowId)
CreateT = TypeVar("CreateT", bound=SQLModel)
UpdateT = TypeVar("UpdateT", bound=SQLModel)


@dataclass(frozen=True)
class Collection(Generic[RowT, PublicT, CreateT, UpdateT]):
    """One kind of per-customer item: its URL segment, table, shapes and list order."""

    name: str
    label: str
    table: type[RowT]
    public: type[PublicT]
    create: type[CreateT]
    update: type[UpdateT]
    order_by: tuple[str, ...] = ("id",)
    newest_first: bool = False
    to_public: Callable[[RowT], PublicT] | None = None

    @property
    def page_query(self) -> type[PageQuery]:
        """Which page of this list; its cursor has the form of this list's key."""
        return page_query(self.order_by)

    def public_of(self, row: RowT) -> PublicT:
        return self.to_public(row) if self.to_public else self.public.model_validate(row)

    def rows_of(self, customer_oid: str) -> SelectOfScalar[RowT]:
        return select(self.table).where(cast(Any, self.table).customer_oid == customer_oid)


def asset_public(asset: Asset) -> AssetPublic:
    """An asset with its unrealized gain, where its cost is known."""
    public = AssetPublic.model_validate(asset)
    cost = None if asset.cost_basis is None else as_cents(asset.cost_basis)
    gain, public.unrealized_gain_pct = unrealized_gain(as_cents(asset.current_value), cost)
    public.unrealized_gain = None if gain is None else Decimal(gain).scaleb(-2)
    return public


ASSETS = Collection(
    "assets", "Asset", Asset, AssetPublic, AssetCreate, AssetUpdate, to_public=asset_public
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
COLLECTIONS: tuple[Collection[Any, Any, Any, Any], ...] = (
    ASSETS,
    BANK_ACCOUNTS,
    TRANSACTIONS,
    SPENDING,
    DERIVATIVE_TRANSACTIONS,
)


def _get_row(
    session: Session,
    collection: Collection[RowT, Any, Any, Any],
    customer_oid: str,
    item_id: int,
    *,
    for_update: bool = False,
) -> RowT:
    if for_update:
        # A transaction changes, or an account whose deletion leaves its transactions of no
        # account: the change feed logs it (bank/feed.py).
        if collection is TRANSACTIONS or collection is BANK_ACCOUNTS:
            hold_feed_order(session)
        lock_customer(session, customer_oid)
    else:
        get_customer(session, customer_oid=customer_oid)
    statement = collection.rows_of(customer_oid).where(cast(Any, collection.table).id == item_id)
    if for_update:
        # Locked until commit (PostgreSQL), so a concurrent delete of the customer waits.
        # Only this table's row: an account's institution comes in by an outer join.
        statement = statement.with_for_update(of=collection.table)
    row = session.exec(statement).first()
    if row is None:
        raise ItemNotFound(collection.label, item_id, customer_oid)
    return row


def get_item(
    session: Session,
    /,
    *,
    collection: Collection[Any, PublicT, Any, Any],
    customer_oid: str,
    item_id: int,
) -> PublicT:
    return collection.public_of(_get_row(session, collection, customer_oid, item_id))


def create_item(
    session: WriteSession,
    /,
    *,
    collection: Collection[Any, PublicT, CreateT, Any],
    customer_oid: str,
    item: CreateT,
) -> PublicT:
    if collection is TRANSACTIONS:
        hold_feed_order(session)
    lock_customer(session, customer_oid)
    if isinstance(item, BankAccountCreate):
        require_institutions(session, [item.institution_id])
    if isinstance(item, TransactionCreate) and item.account_id is not None:
        account = ledger.account_of(session, customer_oid, item.account_id)
        ledger.check_currency(item, account, currency_given="currency" in item.model_fields_set)
    row = collection.table(**item.model_dump(), customer_oid=customer_oid)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        # The customer was deleted between the check and the insert (institutions never are).
        session.rollback()
        raise CustomerNotFound(customer_oid) from None
    if isinstance(row, Transaction):
        ledger.post(session, row.account_id, row.amount)
    return _answer_and_commit(session, collection, row)


def _answer_and_commit(
    session: WriteSession, collection: Collection[RowT, PublicT, Any, Any], row: RowT
) -> PublicT:
    """The stored row's public form, read in the write's own transaction, then the commit: the
    answer is what was written, even if another request changes or deletes it right after."""
    session.flush()
    session.refresh(row)
    answer = collection.public_of(row)
    session.commit()
    return answer


def update_item(
    session: WriteSession,
    /,
    *,
    collection: Collection[Any, PublicT, Any, UpdateT],
    customer_oid: str,
    item_id: int,
    changes: UpdateT,
) -> PublicT:
    row = _get_row(session, collection, customer_oid, item_id, for_update=True)
    fields = changes.model_dump(exclude_unset=True)
    if "institution_id" in fields:
        require_institutions(session, [fields["institution_id"]])
    if isinstance(row, BankAccount) and fields.get("currency", row.currency) != row.currency:
        ledger.require_no_transactions(session, row)
    posted = (row.account_id, row.amount) if isinstance(row, Transaction) else None
    for name, value in fields.items():
        setattr(row, name, value)
    if posted is not None:
        _post_again(
            session, customer_oid, row, posted, recheck=bool(fields.keys() & ACCOUNT_FIELDS)
        )
    return _answer_and_commit(session, collection, row)


# A PATCH of these fields checks the transaction's account again.
ACCOUNT_FIELDS = frozenset({"account_id", "currency"})


def _post_again(
    session: WriteSession,
    customer_oid: str,
    row: Transaction,
    posted: tuple[int | None, Decimal],
    *,
    recheck: bool,
) -> None:
    """A changed transaction's amount taken off the account it was posted to, and posted to
    the account it names now. When its account or currency changed, the account must be the
    customer's and its currency the transaction's (a currency not given stays as it was)."""
    if recheck and row.account_id is not None:
        # Not flushed first: a row naming an account that is not there would fail its foreign
        # key before the check could say so.
        with session.no_autoflush:
            account = ledger.account_of(session, customer_oid, row.account_id)
        ledger.check_currency(row, account, currency_given=True)
    if row.account_id == posted[0]:  # the difference only: a balance near its bound stays in
        ledger.post(session, row.account_id, row.amount - posted[1])
    else:
        ledger.post(session, posted[0], -posted[1])
        ledger.post(session, row.account_id, row.amount)


def delete_item(
    session: WriteSession,
    /,
    *,
    collection: Collection[Any, Any, Any, Any],
    customer_oid: str,
    item_id: int,
) -> None:
    row = _get_row(session, collection, customer_oid, item_id, for_update=True)
    if isinstance(row, Transaction):
        ledger.post(session, row.account_id, -row.amount)
    session.delete(row)
    session.commit()
