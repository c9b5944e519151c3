"""The bank's domain: customer lifecycle and portfolio assembly as plain functions over a Session.

HTTP routes and MCP tools are thin faces over these functions. Customer OIDs passed in are
already canonical (see models.normalize_customer_oid); every face validates them at its edge.
"""

import uuid
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, select

from errors import CustomerAlreadyExists, CustomerNotFound
from models import (
    REPORTING_CURRENCY,
    Asset,
    AssetPublic,
    BankAccount,
    BankAccountPublic,
    Currency,
    CustomerCreate,
    CustomerDeleted,
    CustomerExistence,
    CustomerRegistered,
    DerivativeTransaction,
    DerivativeTransactionPublic,
    HasData,
    Portfolio,
    PortfolioSummary,
    Spending,
    SpendingPublic,
    Transaction,
    TransactionPublic,
    User,
    UserPublic,
)

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
CENT = Decimal("0.01")


def to_reporting_currency(amount: Decimal, currency: Currency | str) -> Decimal:
    """Convert an amount into the reporting currency, rounded to the cent (banker's rounding)."""
    rate = USD_PER_UNIT[Currency(currency)] / USD_PER_UNIT[REPORTING_CURRENCY]
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_EVEN)


def total_in_reporting_currency(amounts: Sequence[tuple[Decimal, Currency | str]]) -> Decimal:
    return sum((to_reporting_currency(a, c) for a, c in amounts), Decimal("0.00"))


# --- Customers ------------------------------------------------------------------------------


def list_customers(*, session: Session) -> list[UserPublic]:
    users = session.exec(select(User).order_by(col(User.customer_oid))).all()
    return [UserPublic.model_validate(user) for user in users]


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


# --- Portfolio ------------------------------------------------------------------------------

RowT = TypeVar("RowT", bound=SQLModel)


def _customer_rows(
    session: Session, table: type[RowT], customer_oid: str, *order_by: Any
) -> Sequence[RowT]:
    column = cast(Any, table).customer_oid
    return session.exec(select(table).where(column == customer_oid).order_by(*order_by)).all()


def _asset_public(asset: Asset) -> AssetPublic:
    public = AssetPublic.model_validate(asset)
    if asset.cost_basis is not None:
        public.unrealized_gain = asset.current_value - asset.cost_basis
        if asset.cost_basis:
            public.unrealized_gain_pct = round(
                float(public.unrealized_gain / asset.cost_basis * 100), 2
            )
    return public


def get_portfolio(*, session: Session, customer_oid: str) -> Portfolio:
    """Everything the bank holds on one customer, with a summary in the reporting currency."""
    # One session, one transaction: every list comes from the same snapshot.
    user = get_customer(session=session, customer_oid=customer_oid)
    assets = _customer_rows(session, Asset, customer_oid, col(Asset.id))
    accounts = _customer_rows(session, BankAccount, customer_oid, col(BankAccount.id))
    transactions = _customer_rows(
        session, Transaction, customer_oid, col(Transaction.date).desc(), col(Transaction.id).desc()
    )
    spending = _customer_rows(
        session, Spending, customer_oid, col(Spending.month), col(Spending.id)
    )
    derivatives = _customer_rows(
        session, DerivativeTransaction, customer_oid, col(DerivativeTransaction.id)
    )

    summary = PortfolioSummary(
        customer_oid=customer_oid,
        total_cash_balance=total_in_reporting_currency(
            [(account.balance, account.currency) for account in accounts]
        ),
        total_spending=total_in_reporting_currency([(s.amount, s.currency) for s in spending]),
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
    )
    return Portfolio(
        customer_oid=customer_oid,
        user=UserPublic.model_validate(user),
        assets=[_asset_public(asset) for asset in assets],
        bank_accounts=[BankAccountPublic.model_validate(account) for account in accounts],
        transactions=[TransactionPublic.model_validate(t) for t in transactions],
        spending=[SpendingPublic.model_validate(s) for s in spending],
        derivative_transactions=[
            DerivativeTransactionPublic.model_validate(d) for d in derivatives
        ],
        portfolio_summary=summary,
    )
