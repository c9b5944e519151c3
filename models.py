"""Tables and API shapes: for each entity a Base, the table, and its public form.

The field types and column helpers they are built from are in fields.py.
"""

import datetime as dt
import functools
import re
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    WithJsonSchema,
    create_model,
    model_validator,
)
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Index, LargeBinary, String, Text
from sqlalchemy import text as sql_text
from sqlmodel import Field, Relationship, SQLModel

from constants import DELETED_MESSAGE, REGISTERED_MESSAGE
from errors import NUL_FREE_PATTERN, WEBHOOK_URL_PATTERN, InvalidCursor
from fields import (
    CURRENCY_COLUMN,
    ENUM_COLUMN,
    ID_COLUMN,
    LEGACY_RE,
    MONTH_RE,
    NAME_MAX_LENGTH,
    NEVER_REUSE_IDS,
    OID_COLUMN,
    UUID_RE,
    CustomerName,
    CustomerOID,
    IsoDate,
    JsonFloat,
    JsonInt,
    MerchantCategoryCode,
    Money,
    MoneyColumn,
    Month,
    NonNegativeMoney,
    Quantity,
    RowIdRef,
    Total,
    check_webhook_url,
    customer_fk,
    customer_key,
    optional_text,
    sorted_text,
    text,
)

# --- Currencies -----------------------------------------------------------------------------


class Currency(StrEnum):
    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"
    CHF = "CHF"
    JPY = "JPY"
    CAD = "CAD"


REPORTING_CURRENCY = Currency.USD


# --- Enumerations ---------------------------------------------------------------------------


class InstitutionType(StrEnum):
    BANK = "bank"
    BROKER = "broker"
    EXCHANGE = "exchange"


class AssetType(StrEnum):
    STOCK = "stock"
    BOND = "bond"
    ETF = "etf"
    MUTUAL_FUND = "mutual_fund"
    CRYPTO = "crypto"
    COMMODITY = "commodity"
    REAL_ESTATE = "real_estate"
    CASH = "cash"


class AccountType(StrEnum):
    CHECKING = "checking"
    SAVINGS = "savings"
    MONEY_MARKET = "money_market"
    BROKERAGE = "brokerage"
    RETIREMENT = "retirement"
    BUSINESS = "business"


class TransactionType(StrEnum):
    BUY = "buy"
    SELL = "sell"
    DEPOSIT = "deposit"
    WITHDRAWAL = "withdrawal"
    DIVIDEND = "dividend"
    INTEREST = "interest"
    FEE = "fee"
    TRANSFER = "transfer"
    PAYMENT = "payment"


class DerivativeType(StrEnum):
    OPTION = "option"
    FUTURE = "future"
    FORWARD = "forward"
    SWAP = "swap"


class OptionType(StrEnum):
    CALL = "call"
    PUT = "put"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class DerivativeStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    EXPIRED = "expired"
    EXERCISED = "exercised"


class RowId(SQLModel):
    """A stored row's key: listed first in every public shape, as the API has always shown it."""

    id: JsonInt


class CustomerRow(RowId):
    customer_oid: str


class StrictInput(SQLModel):
    """Input shapes refuse fields they do not know, so a misspelt field is an error, not lost."""

    model_config = ConfigDict(extra="forbid")  # type: ignore[assignment]


class ReadOnlyKeys(SQLModel):
    """The keys a document from GET carries; accepted on import and ignored."""

    id: JsonInt | None = PydanticField(default=None, description="Ignored")
    customer_oid: str | None = PydanticField(default=None, description="Ignored")


# --- Users ----------------------------------------------------------------------------------


class UserBase(SQLModel):
    customer_oid: str = Field(primary_key=True, max_length=36, sa_type=OID_COLUMN)
    name: str = Field(max_length=NAME_MAX_LENGTH)


class User(UserBase, table=True):
    __tablename__ = "users"


class UserPublic(UserBase):
    pass


# --- Institutions ---------------------------------------------------------------------------


class InstitutionBase(SQLModel):
    name: str = Field(max_length=100)
    routing_number: str = Field(max_length=20)
    type: InstitutionType = Field(sa_type=ENUM_COLUMN)


class Institution(InstitutionBase, table=True):
    __tablename__ = "institutions"
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)


class InstitutionPublic(InstitutionBase, RowId):
    pass


# --- Assets ---------------------------------------------------------------------------------


class AssetBase(SQLModel):
    asset_type: AssetType = Field(sa_type=ENUM_COLUMN)
    symbol: str = text(20)
    quantity: Quantity
    current_value: NonNegativeMoney = Field(
        sa_type=MoneyColumn, description="Market value of the whole holding"
    )
    currency: Currency = Field(default=Currency.USD, sa_type=CURRENCY_COLUMN)
    cost_basis: NonNegativeMoney | None = Field(
        default=None, sa_type=MoneyColumn, description="What the whole holding cost"
    )


class Asset(AssetBase, table=True):
    __tablename__ = "assets"
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)
    customer_oid: str = customer_fk()


class AssetPublic(AssetBase, CustomerRow):
    unrealized_gain: Total | None = Field(
        default=None, description="current_value minus cost_basis, when the cost is known"
    )
    unrealized_gain_pct: float | None = Field(
        default=None, description="unrealized_gain as a percentage of cost_basis"
    )


class AssetCreate(AssetBase, StrictInput):
    pass


class AssetImport(AssetCreate, ReadOnlyKeys):
    unrealized_gain: JsonFloat | None = PydanticField(default=None, description="Ignored")
    unrealized_gain_pct: JsonFloat | None = PydanticField(default=None, description="Ignored")


# --- Bank accounts --------------------------------------------------------------------------


class BankAccountBase(SQLModel):
    account_number: str = text(34)
    account_type: AccountType = Field(sa_type=ENUM_COLUMN)
    balance: Money = Field(sa_type=MoneyColumn)
    currency: Currency = Field(default=Currency.USD, sa_type=CURRENCY_COLUMN)
    iban: str | None = optional_text(34)
    institution_id: RowIdRef = Field(
        foreign_key="institutions.id",
        index=True,
        sa_type=ID_COLUMN,
        description="An id from GET /institutions",
    )


class BankAccount(BankAccountBase, table=True):
    __tablename__ = "bank_accounts"
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)
    customer_oid: str = customer_fk()
    # Every account is shown with its institution, so load it in the same query.
    institution: Institution = Relationship(sa_relationship_kwargs={"lazy": "joined"})


class BankAccountPublic(BankAccountBase, CustomerRow):
    institution: InstitutionPublic


class BankAccountCreate(BankAccountBase, StrictInput):
    pass


class BankAccountImport(BankAccountCreate, ReadOnlyKeys):
    institution: InstitutionPublic | None = PydanticField(
        default=None, description="Ignored: institution_id names the institution"
    )


# --- Transactions ---------------------------------------------------------------------------


class TransactionBase(SQLModel):
    date: IsoDate
    amount: Money = Field(
        sa_type=MoneyColumn, description="Signed: money in is positive, money out negative"
    )
    description: str = text(200)
    category: str = text(50)
    type: TransactionType = Field(sa_type=ENUM_COLUMN)
    symbol: str | None = optional_text(20)
    currency: Currency = Field(
        default=Currency.USD,
        sa_type=CURRENCY_COLUMN,
        description="The account's currency when the transaction names one; else USD by default",
    )
    account_id: RowIdRef | None = Field(
        default=None,
        description=(
            "One of the customer's bank accounts: the transaction's amount is posted to its "
            "balance. Null: a transaction of no account"
        ),
    )
    merchant: str | None = optional_text(100)
    mcc: MerchantCategoryCode | None = Field(
        default=None,
        max_length=4,
        sa_type=String(4),
        description="ISO 18245 merchant category code",
    )


class Transaction(TransactionBase, table=True):
    __tablename__ = "transactions"
    # Newest-first pages of one customer's history are read straight off this index.
    __table_args__ = (
        Index("ix_transactions_customer_date_id", "customer_oid", "date", "id"),
        NEVER_REUSE_IDS,
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)
    # Found by ix_transactions_customer_date_id, which leads with it.
    customer_oid: str = customer_fk(index=False)
    # Deleting the account keeps its transactions, of no account from then on. Indexed: a
    # deleted account's transactions are found by it, and so is a statement's.
    account_id: int | None = Field(
        default=None,
        foreign_key="bank_accounts.id",
        ondelete="SET NULL",
        index=True,
        sa_type=BigInteger,
    )


class TransactionPublic(TransactionBase, CustomerRow):
    pass


class TransactionCreate(TransactionBase, StrictInput):
    pass


class TransactionImport(TransactionCreate, ReadOnlyKeys):
    pass


# --- Spending -------------------------------------------------------------------------------


class SpendingBase(SQLModel):
    category: str = text(50)
    amount: NonNegativeMoney = Field(sa_type=MoneyColumn)
    month: Month = Field(max_length=7, sa_type=sorted_text(7), description="YYYY-MM")
    currency: Currency = Field(default=Currency.USD, sa_type=CURRENCY_COLUMN)


class Spending(SpendingBase, table=True):
    __tablename__ = "spending"
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)
    customer_oid: str = customer_fk()


class SpendingPublic(SpendingBase, CustomerRow):
    pass


class SpendingCreate(SpendingBase, StrictInput):
    pass


class SpendingImport(SpendingCreate, ReadOnlyKeys):
    pass


# --- Derivative transactions ----------------------------------------------------------------


class DerivativeTransactionBase(SQLModel):
    type: DerivativeType = Field(sa_type=ENUM_COLUMN)
    option_type: OptionType | None = Field(default=None, sa_type=ENUM_COLUMN)
    side: Side = Field(sa_type=ENUM_COLUMN)
    underlying: str = text(20)
    quantity: Quantity = Field(description="Number of contracts")
    strike_price: NonNegativeMoney | None = Field(default=None, sa_type=MoneyColumn)
    premium: NonNegativeMoney | None = Field(default=None, sa_type=MoneyColumn)
    expiration_date: IsoDate
    execution_date: IsoDate
    strategy: str | None = optional_text(50)
    status: DerivativeStatus = Field(sa_type=ENUM_COLUMN)
    counterparty: str | None = optional_text(100)
    currency: Currency = Field(default=Currency.USD, sa_type=CURRENCY_COLUMN)


class DerivativeTransaction(DerivativeTransactionBase, table=True):
    __tablename__ = "derivative_transactions"
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)
    customer_oid: str = customer_fk()


class DerivativeTransactionPublic(DerivativeTransactionBase, CustomerRow):
    pass


class DerivativeTransactionCreate(DerivativeTransactionBase, StrictInput):
    pass


class DerivativeTransactionImport(DerivativeTransactionCreate, ReadOnlyKeys):
    pass


# --- Partial updates ------------------------------------------------------------------------


def patch_model(create: type[SQLModel]) -> type[SQLModel]:
    """The fields of a PATCH made from a Create model: every field optional, none of them
    nullable unless it is nullable on create, so a PATCH can change a field but never blank a
    required one. The Update classes below add nothing to them but their name."""
    fields: dict[str, Any] = {
        # The metadata carries the field's constraints and validators (gt=0, lengths, ...).
        name: (
            Annotated[(field.annotation, *field.metadata)],
            PydanticField(default=None, description=field.description),
        )
        for name, field in create.model_fields.items()
    }
    model: type[SQLModel] = create_model(
        create.__name__.replace("Create", "Patch"), __base__=StrictInput, **fields
    )
    return model


# The base classes are made from the Create models at import time, which mypy cannot follow.
class AssetUpdate(patch_model(AssetCreate)):  # type: ignore[misc]
    """The fields of an asset to change; those left out keep their values."""


class BankAccountUpdate(patch_model(BankAccountCreate)):  # type: ignore[misc]
    """The fields of a bank account to change; those left out keep their values."""


class TransactionUpdate(patch_model(TransactionCreate)):  # type: ignore[misc]
    """The fields of a transaction to change; those left out keep their values."""


class SpendingUpdate(patch_model(SpendingCreate)):  # type: ignore[misc]
    """The fields of a spending entry to change; those left out keep their values."""


class DerivativeTransactionUpdate(patch_model(DerivativeTransactionCreate)):  # type: ignore[misc]
    """The fields of a derivative transaction to change; those left out keep their values."""


# --- Portfolio ------------------------------------------------------------------------------


class HasData(BaseModel):
    assets: bool
    accounts: bool
    transactions: bool
    spending: bool
    derivatives: bool


class PortfolioSummary(BaseModel):
    customer_oid: str
    total_cash_balance: Total = PydanticField(
        description="Sum of account balances, converted to the reporting currency"
    )
    total_spending: Total = PydanticField(
        description="Sum of spending, converted to the reporting currency"
    )
    total_assets: int = PydanticField(description="Number of asset holdings")
    total_accounts: int
    total_transactions: int
    total_spending_categories: int = PydanticField(description="Distinct spending categories")
    total_derivative_positions: int
    has_data: HasData
    currency: Currency = PydanticField(description="The reporting currency of every total")
    total_asset_value: Total = PydanticField(
        description="Sum of the assets' current values, in the reporting currency"
    )
    net_worth: Total = PydanticField(description="total_cash_balance plus total_asset_value")
    asset_allocation: dict[AssetType, Total] = PydanticField(
        description="Current value per asset type, in the reporting currency"
    )
    spending_by_category: dict[str, Total] = PydanticField(
        description="Spending per category, in the reporting currency"
    )
    spending_by_month: dict[str, Total] = PydanticField(
        description="Spending per month (YYYY-MM), in the reporting currency"
    )


class Portfolio(BaseModel):
    customer_oid: str
    user: UserPublic
    assets: list[AssetPublic]
    bank_accounts: list[BankAccountPublic]
    transactions: list[TransactionPublic]
    spending: list[SpendingPublic]
    derivative_transactions: list[DerivativeTransactionPublic]
    portfolio_summary: PortfolioSummary


class PortfolioUser(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CustomerName
    customer_oid: str | None = PydanticField(default=None, description="Ignored")


class PortfolioImport(BaseModel):
    """A whole portfolio, in the shape GET /user-portfolio returns; ids and the summary are
    ignored, a missing list means an empty one."""

    model_config = ConfigDict(extra="forbid")

    customer_oid: str | None = PydanticField(default=None, description="Ignored")
    user: PortfolioUser
    assets: list[AssetImport] = []
    bank_accounts: list[BankAccountImport] = []
    transactions: list[TransactionImport] = []
    spending: list[SpendingImport] = []
    derivative_transactions: list[DerivativeTransactionImport] = []
    portfolio_summary: dict[str, Any] | None = PydanticField(default=None, description="Ignored")


# --- Data versions --------------------------------------------------------------------------


class CustomerVersion(SQLModel, table=True):
    """A version of everything one customer's portfolio shows: database triggers give it a new
    random value with every change to the customer's rows (migration 0002). Cached answers
    (response_cache.py) are served only while the version they were read at is still current."""

    __tablename__ = "customer_versions"
    customer_oid: str = customer_key()
    version: int = Field(sa_type=BigInteger)


# --- The sandbox ----------------------------------------------------------------------------


class SandboxClock(SQLModel, table=True):
    """The sandbox's date: its today, set on the first start (SANDBOX_START_DATE, or the real
    date in UTC) and kept in the database, so that histories and statements agree on it."""

    __tablename__ = "sandbox_clock"
    id: int = Field(default=1, primary_key=True)
    today: dt.date


class SandboxClockPublic(BaseModel):
    today: dt.date = PydanticField(description="The sandbox's today, YYYY-MM-DD")


class SyncQuery(BaseModel):
    """Where a sync of a customer's transactions starts, and how many changes it returns."""

    model_config = ConfigDict(extra="forbid")

    cursor: str | None = PydanticField(
        default=None,
        max_length=19,
        pattern="^[0-9]*$",
        description="next_cursor of the previous sync; none (or empty) to start from the beginning",
    )
    count: int = PydanticField(default=100, ge=1, le=500, description="Changes at most, 1-500")


class RemovedTransaction(BaseModel):
    id: JsonInt


class TransactionSync(BaseModel):
    """What changed in a customer's transactions since a cursor (Plaid's /transactions/sync):
    each transaction once, as it is now."""

    added: list[TransactionPublic]
    modified: list[TransactionPublic]
    removed: list[RemovedTransaction]
    next_cursor: str = PydanticField(description="Where to sync from next time")
    has_more: bool = PydanticField(description="More changes wait: sync again from next_cursor")


class ClockAdvance(BaseModel):
    """How far to move the sandbox's clock."""

    model_config = ConfigDict(extra="forbid")

    days: int = PydanticField(ge=1, le=366, description="Days to move forward, 1-366")


class ClockAdvanced(BaseModel):
    """What an advance of the clock did: the days it made happen, and what they brought."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    start: dt.date = PydanticField(alias="from", description="The first day made to happen")
    end: dt.date = PydanticField(alias="to", description="The last: the sandbox's today now")
    days: int
    customers: int = PydanticField(description="Sample and synthetic customers who lived them")
    transactions_added: int
    prices_added: int = PydanticField(description="A close per security and trading day")
    holdings_revalued: int = PydanticField(description="Holdings valued at the new last close")
    spending_rows: int = PydanticField(
        description="Spending rows of the days' months, summed again from the transactions"
    )
    derivatives_expired: int
    derivatives_exercised: int = PydanticField(
        description="Options in the money at their expiry's close"
    )


class TransactionChange(SQLModel, table=True):
    """One change to a transaction, in commit order (seq): the change feed's log, written by
    triggers (migration 0009) and read by GET .../transactions/sync (bank/feed.py)."""

    __tablename__ = "transaction_changes"
    __table_args__ = (
        Index("ix_transaction_changes_customer_seq", "customer_oid", "seq"),
        NEVER_REUSE_IDS,
    )
    seq: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)
    # No foreign key: a deleted customer's removals stay logged.
    customer_oid: str = Field(max_length=36, sa_type=OID_COLUMN)
    transaction_id: int = Field(sa_type=BigInteger)
    change: str = Field(max_length=8, description="added, modified or removed")


class Persona(SQLModel, table=True):
    """Where a generated customer's life comes from, so that advancing the clock can go on
    living it (bank/days.py): a sample (seed null, its number in seed.py) or the number-th
    synthetic customer of a seed. Customers registered through the API have none, and get no
    invented activity."""

    __tablename__ = "personas"
    customer_oid: str = customer_key()
    seed: int | None = Field(default=None, sa_type=BigInteger)
    number: int


# --- Webhooks -------------------------------------------------------------------------------


class WebhookEvent(StrEnum):
    """The events an endpoint can subscribe to."""

    TRANSACTIONS_UPDATED = "transactions.updated"
    CLOCK_ADVANCED = "clock.advanced"
    CUSTOMER_CREATED = "customer.created"
    CUSTOMER_DELETED = "customer.deleted"


# Sent by POST /webhooks/{id}/test to that endpoint alone, whatever it subscribed to.
TEST_EVENT: Final = "webhook.test"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Webhook(SQLModel, table=True):
    """An endpoint that events are sent to, signed with its secret (Standard Webhooks)."""

    __tablename__ = "webhooks"
    __table_args__ = NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)
    url: str = Field(max_length=2048)
    events: str = Field(max_length=200, description="The subscribed events, comma-separated")
    secret: str = Field(max_length=64)
    created_at: dt.datetime


class WebhookMessage(SQLModel, table=True):
    """An event, stored in the transaction of the change it tells of (the outbox)."""

    __tablename__ = "webhook_messages"
    id: str = Field(primary_key=True, max_length=40, description="webhook-id: msg_...")
    type: str = Field(max_length=40)
    payload: str = Field(sa_type=Text, description="The body sent, byte for byte: JSON")
    created_at: dt.datetime


class WebhookDelivery(SQLModel, table=True):
    """One event on its way to one endpoint: sent until a 2xx, or until the attempts run out."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook_id", "webhook_id", "id"),
        Index("ix_webhook_deliveries_message_id", "message_id"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            sqlite_where=sql_text("status = 'pending'"),
            postgresql_where=sql_text("status = 'pending'"),
        ),
        NEVER_REUSE_IDS,
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=ID_COLUMN)
    webhook_id: int = Field(
        sa_type=ID_COLUMN, foreign_key="webhooks.id", ondelete="CASCADE", index=False
    )
    message_id: str = Field(
        max_length=40, foreign_key="webhook_messages.id", ondelete="CASCADE", index=False
    )
    status: str = Field(max_length=10)
    attempts: int = 0
    # Null once settled. A sender that takes the delivery moves it to the end of its lease: if
    # the sender dies, the delivery is due again then.
    next_attempt_at: dt.datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=200)
    created_at: dt.datetime
    delivered_at: dt.datetime | None = None


WebhookUrl = Annotated[
    str,
    PydanticField(
        min_length=1,
        max_length=2048,
        pattern=WEBHOOK_URL_PATTERN,
        description="Where events are POSTed: an http or https URL",
        examples=["http://localhost:8000/webhooks"],
    ),
    AfterValidator(check_webhook_url),
]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "url": "http://localhost:8000/webhooks",
                    "events": ["transactions.updated", "clock.advanced"],
                }
            ]
        },
    )

    url: WebhookUrl
    events: list[WebhookEvent] = PydanticField(
        min_length=1, max_length=len(WebhookEvent), description="The events to send, at least one"
    )


class WebhookPublic(BaseModel):
    id: JsonInt
    url: str
    events: list[WebhookEvent]
    created_at: dt.datetime = PydanticField(description="UTC")


class WebhookCreated(WebhookPublic):
    secret: str = PydanticField(
        description="whsec_ and the base64 key that signs every delivery (Standard Webhooks); "
        "shown only now"
    )


class WebhookDeliveryPublic(BaseModel):
    id: JsonInt
    event_id: str = PydanticField(description="The webhook-id header: the same on every retry")
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None = PydanticField(description="The receiver's last HTTP status")
    last_error: str | None = PydanticField(description="Why the last attempt failed")
    next_attempt_at: dt.datetime | None = PydanticField(description="UTC; null once settled")
    created_at: dt.datetime
    delivered_at: dt.datetime | None


# --- Faults ---------------------------------------------------------------------------------

FAULT_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
FAULT_KINDS = ("status", "reset", "truncate", "ack_lost")


class Fault(BaseModel):
    """One fault: a status answered instead of the operation's (with Retry-After), a delay
    before the real answer, or a broken answer: `reset` closes the connection without one,
    `truncate` sends half of it, `ack_lost` lets a write run, then answers 502. `latency` may
    come with any of the others; they exclude one another."""

    model_config = ConfigDict(extra="forbid")

    status: JsonInt | None = PydanticField(
        default=None, ge=400, le=599, description="Answer this status (400-599) instead"
    )
    retry_after: JsonInt | None = PydanticField(
        default=None, ge=0, le=3600, description="Seconds, sent as Retry-After with `status`"
    )
    latency: JsonInt | None = PydanticField(
        default=None, ge=0, le=60_000, description="Milliseconds to wait before answering"
    )
    reset: StrictBool = PydanticField(default=False, description="Close the connection, no answer")
    truncate: StrictBool = PydanticField(
        default=False, description="Send half the answer, then close"
    )
    ack_lost: StrictBool = PydanticField(
        default=False, description="Writes: run the write, then answer 502 instead of its answer"
    )

    @model_validator(mode="after")
    def _one_fault(self) -> "Fault":
        kinds = [kind for kind in FAULT_KINDS if getattr(self, kind) not in (None, False)]
        if len(kinds) > 1:
            raise ValueError(
                f"one fault at a time: {' and '.join(kinds)} exclude one another "
                "(latency may come with any of them)"
            )
        if self.retry_after is not None and self.status is None:
            raise ValueError("retry_after goes with status")
        if not kinds and self.latency is None:
            raise ValueError("name a fault: status, latency, reset, truncate or ack_lost")
        return self

    @property
    def kind(self) -> str:
        """What it does besides any latency: status, reset, truncate, ack_lost or latency."""
        return next(
            (kind for kind in FAULT_KINDS if getattr(self, kind) not in (None, False)), "latency"
        )


class FaultMatch(BaseModel):
    """Which requests a rule is for: HTTP requests by method and path (a glob: * matches
    anything, / included), or MCP tool calls by tool name (a glob too). Empty: every HTTP
    request."""

    model_config = ConfigDict(extra="forbid")

    method: Literal[FAULT_METHODS] | None = PydanticField(  # type: ignore[valid-type]
        default=None, description="GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS; none: any"
    )
    path: str | None = PydanticField(
        default=None,
        max_length=500,
        pattern=r"^/[^\x00]*$",
        description="A glob of the path, such as /customer/*/transactions; none: any",
    )
    tool: str | None = PydanticField(
        default=None,
        max_length=100,
        pattern=r"^[A-Za-z0-9_*?\[\]-]+$",
        description="An MCP tool's name, or a glob of names, such as get_*",
    )

    @model_validator(mode="after")
    def _http_or_tool(self) -> "FaultMatch":
        if self.tool is not None and (self.method is not None or self.path is not None):
            raise ValueError("a rule matches HTTP requests (method, path) or MCP tools, not both")
        return self


class FaultRule(BaseModel):
    """Strike the requests it matches with `fault`, each with probability `rate`."""

    model_config = ConfigDict(extra="forbid")

    match: FaultMatch = PydanticField(default_factory=FaultMatch)
    rate: JsonFloat = PydanticField(ge=0, le=1, description="The share of matching requests, 0-1")
    fault: Fault

    @model_validator(mode="after")
    def _tool_faults(self) -> "FaultRule":
        if self.match.tool is not None and (self.fault.reset or self.fault.truncate):
            raise ValueError(
                "reset and truncate break an HTTP connection: a tool rule takes status, "
                "latency or ack_lost (a rule for the path /mcp breaks MCP's connection)"
            )
        return self


class FaultProfile(BaseModel):
    """The server's faults: rules tried in order, the first that strikes wins. The same seed
    and the same sequence of requests give the same faults."""

    model_config = ConfigDict(extra="forbid")

    seed: JsonInt = PydanticField(default=0, ge=0, le=2**63 - 1)
    rules: list[FaultRule] = PydanticField(default_factory=list, max_length=100)


class FaultRuleReport(FaultRule):
    matched: int = PydanticField(description="Requests or tool calls the rule was tried on")
    injected: int = PydanticField(description="Faults it injected")


class FaultProfileReport(BaseModel):
    """The fault profile, and what each rule has done since it was set."""

    seed: int
    rules: list[FaultRuleReport]


# --- Idempotency keys -----------------------------------------------------------------------


class IdempotencyKey(SQLModel, table=True):
    """A write sent with an Idempotency-Key, and its answer once it has one (bank/idempotency.py).
    `status` is null while the first request runs."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_created_at", "created_at"),)
    scope: str = Field(primary_key=True, max_length=80, description="Whose key: API key or client")
    key: str = Field(primary_key=True, max_length=255)
    fingerprint: str = Field(max_length=64, description="SHA-256 of method, path and body")
    status: int | None = None
    headers: str | None = Field(default=None, sa_type=Text, description="JSON [[name, value]]")
    body: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: dt.datetime


# --- Lists and pages ------------------------------------------------------------------------

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


# A cursor names the last row of the previous page by its list key, the parts joined by
# '.': a CustomerOID, an item id, or a date or month and an id. Any string of that form is a
# position in the list, so the OpenAPI pattern says exactly which cursors are accepted.
_CURSOR_ID = r"[1-9][0-9]{0,17}"
_YEAR = r"(?:000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})"
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    r"|(?:0[13578]|1[02])-31)"
    r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:0[48]|[2468][048]|[13579][26])00)-02-29)"
)
CURSOR_PARTS: Final = {
    "customer_oid": f"(?:{UUID_RE.pattern}|{LEGACY_RE.pattern})",
    "id": _CURSOR_ID,
    "date": _DATE,
    "month": f"(?:{MONTH_RE.pattern})",
}
CURSOR_SEPARATOR: Final = "."


def cursor_pattern(key: tuple[str, ...]) -> str:
    return "^" + re.escape(CURSOR_SEPARATOR).join(CURSOR_PARTS[name] for name in key) + "$"


class PageQuery(BaseModel):
    """Which page of a list: at most `limit` items, after the position `cursor` names."""

    limit: int = PydanticField(
        default=DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Items per page (1-1000)"
    )
    cursor: str | None = PydanticField(
        default=None,
        max_length=512,
        description="Where the page starts: the cursor from the previous page (Link header)",
    )


@functools.cache
def page_query(key: tuple[str, ...]) -> type[PageQuery]:
    """The page query of a list ordered by `key`: its cursor must have that key's form."""
    pattern = re.compile(cursor_pattern(key))

    def check(value: str | None) -> str | None:
        if value is not None and not pattern.fullmatch(value):
            raise InvalidCursor()
        return value

    cursor_type = Annotated[
        str | None,
        AfterValidator(check),
        WithJsonSchema(
            {"anyOf": [{"type": "string", "pattern": pattern.pattern}, {"type": "null"}]}
        ),
    ]
    field = PageQuery.model_fields["cursor"]
    model: type[PageQuery] = create_model(
        f"PageQuery_{'_'.join(key)}",
        __base__=PageQuery,
        cursor=(cursor_type, PydanticField(default=None, description=field.description)),
    )
    return model


class CustomerPageQuery(page_query(("customer_oid",))):  # type: ignore[misc]
    """A page of customers, by CustomerOID."""


class TransactionQuery(page_query(("date", "id"))):  # type: ignore[misc]
    """A page of transactions, optionally within a date range and of one type or category."""

    start: IsoDate | None = PydanticField(
        default=None, alias="from", description="Earliest date (inclusive), YYYY-MM-DD"
    )
    end: IsoDate | None = PydanticField(
        default=None, alias="to", description="Latest date (inclusive), YYYY-MM-DD"
    )
    type: TransactionType | None = PydanticField(default=None, description="Only this type")
    category: str | None = PydanticField(
        default=None, max_length=50, pattern=NUL_FREE_PATTERN, description="Only this category"
    )


class DayRange(BaseModel):
    """Which days a statement or a price series covers: by default the 30 days up to and
    including today."""

    model_config = ConfigDict(extra="forbid")

    start: IsoDate | None = PydanticField(
        default=None,
        alias="from",
        description="First day (inclusive), YYYY-MM-DD; default: to - 29 days",
    )
    end: IsoDate | None = PydanticField(
        default=None, alias="to", description="Last day (inclusive), YYYY-MM-DD; default: today"
    )


class StatementTransaction(TransactionPublic):
    running_balance: Total = PydanticField(
        description="The account's balance after this transaction"
    )


class AccountStatement(BaseModel):
    """A bank account's transactions over some days, oldest first, with the balances around them:
    opening_balance plus the amounts is closing_balance, to the cent."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    account_id: JsonInt
    currency: Currency
    start: dt.date = PydanticField(alias="from")
    end: dt.date = PydanticField(alias="to")
    opening_balance: Total = PydanticField(description="The balance before the first day")
    closing_balance: Total = PydanticField(description="The balance after the last day")
    transactions: list[StatementTransaction]


class SecurityPublic(BaseModel):
    """A security a customer may hold, or the benchmark index, with its prices at
    GET /securities/{symbol}/prices."""

    symbol: str
    name: str
    asset_type: str = PydanticField(description="An asset type, or index for the benchmark")
    currency: Currency


class PricePoint(BaseModel):
    date: dt.date
    close: Total = PydanticField(description="The day's closing price, in the security's currency")


class HoldingPerformance(BaseModel):
    symbol: str
    priced: bool = PydanticField(
        description="False for a holding whose symbol has no prices: it counts in no value"
    )
    start_value: Total | None = PydanticField(default=None, description="Null when unpriced")
    end_value: Total | None = PydanticField(default=None, description="Null when unpriced")
    return_pct: float | None = PydanticField(default=None, description="Null when unpriced")


class BenchmarkReturn(BaseModel):
    symbol: str
    return_pct: float | None


class PerformanceValue(BaseModel):
    date: dt.date
    value: Total


class Performance(BaseModel):
    """How the customer's holdings of today did over the period, valued each business day at
    that day's close, in the reporting currency."""

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    period: str
    start: dt.date = PydanticField(alias="from", description="The period's first business day")
    end: dt.date = PydanticField(alias="to", description="Its last: today, or the day before")
    currency: Currency = PydanticField(description="The reporting currency of every value")
    start_value: Total
    end_value: Total
    return_pct: float | None = PydanticField(description="Null when the start value is zero")
    volatility_pct: float | None = PydanticField(
        description="Annualized standard deviation of the daily returns"
    )
    max_drawdown_pct: float | None = PydanticField(
        description="The largest fall from a peak to a later value, as a percentage of the peak"
    )
    benchmark: BenchmarkReturn
    holdings: list[HoldingPerformance]
    values: list[PerformanceValue]


NEXT_CURSOR_DESCRIPTION = "Pass as cursor to get the next page; null on the last page"


class CustomerPage(BaseModel):
    """One page of customers, for clients that cannot read a Link header (MCP)."""

    customers: list[UserPublic]
    next_cursor: str | None = PydanticField(description=NEXT_CURSOR_DESCRIPTION)


class TransactionPage(BaseModel):
    """One page of transactions, for clients that cannot read a Link header (MCP)."""

    transactions: list[TransactionPublic]
    next_cursor: str | None = PydanticField(description=NEXT_CURSOR_DESCRIPTION)


# --- Customer lifecycle ---------------------------------------------------------------------


class CustomerCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "John Doe"}]})

    name: CustomerName
    customer_oid: CustomerOID | None = PydanticField(
        default=None, description="Optional; a UUID4 is generated when it is left out"
    )


class CustomerRegistered(BaseModel):
    customer_oid: str
    name: str
    message: Literal["Customer registered successfully"] = REGISTERED_MESSAGE


class CustomerDeleted(BaseModel):
    customer_oid: str
    message: Literal["Customer and all associated data deleted successfully"] = DELETED_MESSAGE


class CustomerExistence(BaseModel):
    customer_oid: str
    exists: bool
    name: str | None


# --- Service --------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    service: str
    database: Literal["ok", "unreachable"]


class ErrorResponse(BaseModel):
    detail: str = PydanticField(examples=["Customer with CustomerOID '...' not found"])
