"""A customer's whole portfolio: read in one snapshot with its summary, or replaced by import."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from bank import documents, ledger, webhooks
from bank.collections import (
    ASSETS,
    BANK_ACCOUNTS,
    COLLECTIONS,
    DERIVATIVE_TRANSACTIONS,
    SPENDING,
    TRANSACTIONS,
    Collection,
    RowT,
)
from bank.customers import require_institutions
from bank.feed import hold_feed_order
from db import WriteSession
from errors import AccountNotInDocument, CustomerNotFound, DuplicateAccountId
from models import Portfolio, PortfolioImport, User, WebhookEvent


def get_portfolio(session: Session, /, *, customer_oid: str) -> Portfolio:
    """Everything the bank holds on one customer, with a summary in the reporting currency."""
    document = documents.portfolio(customer_oid=customer_oid).in_session(session)
    return Portfolio.model_validate(document)


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


def _rows(
    collection: Collection[RowT, Any, Any, Any], items: Sequence[SQLModel], customer_oid: str
) -> list[RowT]:
    """The customer's new rows of a collection, from an imported document's items."""
    fields = set(collection.create.model_fields)
    return [
        collection.table(**item.model_dump(include=fields), customer_oid=customer_oid)
        for item in items
    ]


def import_portfolio(
    session: WriteSession, /, *, customer_oid: str, portfolio: PortfolioImport
) -> tuple[Portfolio, bool]:
    """Replace a customer's whole portfolio with `portfolio`, creating the customer if needed.

    One transaction: an invalid item (an unknown institution) changes nothing. Returns the
    stored portfolio and whether the customer was created.
    """
    hold_feed_order(session)
    created = _insert_customer_if_missing(session, customer_oid, portfolio.user.name)
    # Imports of one customer take turns: the second waits here until the first commits, then
    # deletes what the first stored (PostgreSQL; SQLite's write lock already serializes them).
    user = session.exec(
        select(User).where(col(User.customer_oid) == customer_oid).with_for_update()
    ).first()
    if user is None:
        # A DELETE of the customer committed between the insert and the lock: it won.
        raise CustomerNotFound(customer_oid)
    user.name = portfolio.user.name
    if created:
        webhooks.enqueue(
            session,
            WebhookEvent.CUSTOMER_CREATED,
            [{"customer_oid": customer_oid, "name": user.name}],
        )
    require_institutions(session, (a.institution_id for a in portfolio.bank_accounts))
    # Transactions first: deleting accounts first would set their account_id to null, and
    # then delete them anyway.
    for collection in sorted(COLLECTIONS, key=lambda collection: collection is not TRANSACTIONS):
        table = cast(Any, collection.table)
        session.execute(delete(table).where(table.customer_oid == customer_oid))

    accounts = _rows(BANK_ACCOUNTS, portfolio.bank_accounts, customer_oid)
    session.add_all(accounts)
    session.flush()  # the accounts' new ids, which the transactions are given
    new_ids: dict[int, int | None] = {}
    for document_account, new in zip(portfolio.bank_accounts, accounts, strict=True):
        if document_account.id is not None:
            if document_account.id in new_ids:
                raise DuplicateAccountId(document_account.id)
            new_ids[document_account.id] = new.id
    # Stored oldest first, so that newest-first order (date, then id) reads back as given.
    transactions = _rows(TRANSACTIONS, portfolio.transactions[::-1], customer_oid)
    by_id = {row.id: row for row in accounts}
    for given, row in zip(portfolio.transactions[::-1], transactions, strict=True):
        if given.account_id is not None:
            if given.account_id not in new_ids:
                raise AccountNotInDocument(given.account_id)
            row.account_id = new_ids[given.account_id]
            currency_given = "currency" in given.model_fields_set
            account = by_id[row.account_id]
            ledger.check_currency(
                row, account, currency_given=currency_given, named=given.account_id
            )
    session.add_all(transactions)
    # Balances are taken as given: an import is a snapshot, not postings.
    items_by_collection: dict[Collection[Any, Any, Any, Any], Sequence[SQLModel]] = {
        ASSETS: portfolio.assets,
        SPENDING: portfolio.spending,
        DERIVATIVE_TRANSACTIONS: portfolio.derivative_transactions,
    }
    for collection, items in items_by_collection.items():
        session.add_all(_rows(collection, items, customer_oid))
    # The answer is read in this transaction, before the commit: what was stored, even if
    # another request changes or deletes the customer right after.
    session.flush()
    session.expire_all()
    stored = get_portfolio(session, customer_oid=customer_oid)
    session.commit()
    return stored, created
