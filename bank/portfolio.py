"""A customer's whole portfolio: read in one snapshot with its summary, or replaced by import."""

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, SQLModel, col, select

from bank.collections import (
    ASSETS,
    BANK_ACCOUNTS,
    COLLECTIONS,
    DERIVATIVE_TRANSACTIONS,
    SPENDING,
    TRANSACTIONS,
    Collection,
    customer_items,
)
from bank.customers import get_customer, require_institutions
from bank.money import total_in_reporting_currency, totals_by
from db import WriteSession
from errors import CustomerNotFound
from models import (
    REPORTING_CURRENCY,
    HasData,
    Portfolio,
    PortfolioImport,
    PortfolioSummary,
    User,
    UserPublic,
)


def get_portfolio(session: Session, /, *, customer_oid: str) -> Portfolio:
    """Everything the bank holds on one customer, with a summary in the reporting currency."""
    # One session, one transaction: every list comes from the same snapshot.
    user = get_customer(session, customer_oid=customer_oid)
    assets = customer_items(session, ASSETS, customer_oid)
    accounts = customer_items(session, BANK_ACCOUNTS, customer_oid)
    transactions = customer_items(session, TRANSACTIONS, customer_oid)
    spending = customer_items(session, SPENDING, customer_oid)
    derivatives = customer_items(session, DERIVATIVE_TRANSACTIONS, customer_oid)

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
    session: WriteSession, /, *, customer_oid: str, portfolio: PortfolioImport
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
    ).first()
    if user is None:
        # A DELETE of the customer committed between the insert and the lock: it won.
        raise CustomerNotFound(customer_oid)
    user.name = portfolio.user.name
    require_institutions(session, (a.institution_id for a in portfolio.bank_accounts))
    for collection in COLLECTIONS:
        table = cast(Any, collection.table)
        session.execute(delete(table).where(table.customer_oid == customer_oid))

    items_by_collection: dict[Collection[Any, Any, Any, Any], Sequence[SQLModel]] = {
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
    # The answer is read in this transaction, before the commit: what was stored, even if
    # another request changes or deletes the customer right after.
    session.flush()
    session.expire_all()
    stored = get_portfolio(session, customer_oid=customer_oid)
    session.commit()
    return stored, created
