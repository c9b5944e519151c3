"""Tables and API shapes: for each entity a Base, the table, and its public form."""

import datetime as dt
import re
import unicodedata
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, PlainSerializer, WithJsonSchema
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Dialect, String
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Relationship, SQLModel

from errors import OID_EXAMPLE, InvalidCustomerOID

# --- Customer identifiers -------------------------------------------------------------------

_UUID_RE = re.compile(
    r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}"
)
_LEGACY_RE = re.compile(r"[A-Z0-9-]{8,36}")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
CUSTOMER_OID_PATTERN = f"^{_UUID_RE.pattern}$|^{_LEGACY_RE.pattern}$"


def normalize_customer_oid(value: str) -> str:
    """Canonical form of a CustomerOID: one spelling per UUID, legacy IDs as given."""
    if not (_UUID_RE.fullmatch(value) or _LEGACY_RE.fullmatch(value)):
        raise InvalidCustomerOID(value)
    digits = value.replace("-", "")
    # An upper-case UUID with unusual hyphens also matches the legacy pattern; it is still
    # that UUID, and must not become a second customer.
    if len(digits) == 32 and set(digits) <= _HEX_DIGITS:
        return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}".lower()
    return value


CustomerOID = Annotated[
    str,
    AfterValidator(normalize_customer_oid),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": CUSTOMER_OID_PATTERN,
            "description": "A UUID (any case, hyphens optional; stored lower-case and hyphenated) "
            "or a legacy ID of 8-36 characters from A-Z, 0-9 and '-'.",
            "examples": [OID_EXAMPLE],
        }
    ),
]

# --- Customer names -------------------------------------------------------------------------

NAME_MIN_LENGTH = 2
NAME_MAX_LENGTH = 100


def clean_customer_name(value: str) -> str:
    """Strip surrounding spaces and reject names that are too short, too long or unprintable."""
    name = value.strip()
    if not NAME_MIN_LENGTH <= len(name) <= NAME_MAX_LENGTH:
        raise ValueError(
            f"Customer name must be {NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} characters long "
            "(surrounding spaces are not counted)"
        )
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise ValueError("Customer name must not contain control characters")
    return name


CustomerName = Annotated[
    str,
    AfterValidator(clean_customer_name),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": NAME_MIN_LENGTH,
            "maxLength": NAME_MAX_LENGTH,
            "pattern": r"^[^\u0000-\u001f\u007f-\u009f]*$",
            "description": "The customer's name: 2-100 characters after surrounding spaces are "
            "removed, no control characters.",
            "examples": ["John Doe"],
        }
    ),
]

# --- Money ----------------------------------------------------------------------------------


class Currency(StrEnum):
    USD = "USD"
    EUR = "EUR"
    GBP = "GBP"
    CHF = "CHF"
    JPY = "JPY"
    CAD = "CAD"


REPORTING_CURRENCY = Currency.USD


class MoneyColumn(TypeDecorator[Decimal]):
    """Money stored as integer hundredths, so sums in the database and in Python are exact."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> int | None:
        return None if value is None else int(Decimal(value).scaleb(2).to_integral_value())

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(int(value)).scaleb(-2)


# Exact inside (Decimal, two places); a plain JSON number outside, as the API has always sent.
Money = Annotated[
    Decimal,
    PydanticField(max_digits=15, decimal_places=2, allow_inf_nan=False),
    PlainSerializer(float, return_type=float, when_used="json"),
]

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


# Enumerations are stored as their plain values (VARCHAR), not as database enum types,
# so adding a member never needs a schema migration.
_ENUM_COLUMN = String(20)
_CURRENCY_COLUMN = String(3)


def customer_fk() -> Any:
    """The indexed customer_oid foreign key of a per-customer table; deleting the user cascades."""
    return Field(foreign_key="users.customer_oid", ondelete="CASCADE", index=True, max_length=36)


class RowId(SQLModel):
    """A stored row's key: listed first in every public shape, as the API has always shown it."""

    id: int


class CustomerRow(RowId):
    customer_oid: str


# --- Users ----------------------------------------------------------------------------------


class UserBase(SQLModel):
    customer_oid: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=NAME_MAX_LENGTH)


class User(UserBase, table=True):
    __tablename__ = "users"


class UserPublic(UserBase):
    pass


# --- Institutions ---------------------------------------------------------------------------


class InstitutionBase(SQLModel):
    name: str = Field(max_length=100)
    routing_number: str = Field(max_length=20)
    type: InstitutionType = Field(sa_type=_ENUM_COLUMN)


class Institution(InstitutionBase, table=True):
    __tablename__ = "institutions"
    id: int | None = Field(default=None, primary_key=True)


class InstitutionPublic(InstitutionBase, RowId):
    pass


# --- Assets ---------------------------------------------------------------------------------


class AssetBase(SQLModel):
    asset_type: AssetType = Field(sa_type=_ENUM_COLUMN)
    symbol: str = Field(max_length=20)
    quantity: float
    current_value: Money = Field(sa_type=MoneyColumn)
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)
    cost_basis: Money | None = Field(default=None, sa_type=MoneyColumn)


class Asset(AssetBase, table=True):
    __tablename__ = "assets"
    id: int | None = Field(default=None, primary_key=True)
    customer_oid: str = customer_fk()


class AssetPublic(AssetBase, CustomerRow):
    unrealized_gain: Money | None = Field(
        default=None, description="current_value minus cost_basis, when the cost is known"
    )
    unrealized_gain_pct: float | None = Field(
        default=None, description="unrealized_gain as a percentage of cost_basis"
    )


# --- Bank accounts --------------------------------------------------------------------------


class BankAccountBase(SQLModel):
    account_number: str = Field(max_length=34)
    account_type: AccountType = Field(sa_type=_ENUM_COLUMN)
    balance: Money = Field(sa_type=MoneyColumn)
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)
    iban: str | None = Field(default=None, max_length=34)
    institution_id: int = Field(foreign_key="institutions.id", index=True)


class BankAccount(BankAccountBase, table=True):
    __tablename__ = "bank_accounts"
    id: int | None = Field(default=None, primary_key=True)
    customer_oid: str = customer_fk()
    # Every account is shown with its institution, so load it in the same query.
    institution: Institution = Relationship(sa_relationship_kwargs={"lazy": "joined"})


class BankAccountPublic(BankAccountBase, CustomerRow):
    institution: InstitutionPublic


# --- Transactions ---------------------------------------------------------------------------


class TransactionBase(SQLModel):
    date: dt.date
    amount: Money = Field(
        sa_type=MoneyColumn, description="Signed: money in is positive, money out negative"
    )
    description: str = Field(max_length=200)
    category: str = Field(max_length=50)
    type: TransactionType = Field(sa_type=_ENUM_COLUMN)
    symbol: str | None = Field(default=None, max_length=20)
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)


class Transaction(TransactionBase, table=True):
    __tablename__ = "transactions"
    id: int | None = Field(default=None, primary_key=True)
    customer_oid: str = customer_fk()


class TransactionPublic(TransactionBase, CustomerRow):
    pass


# --- Spending -------------------------------------------------------------------------------


class SpendingBase(SQLModel):
    category: str = Field(max_length=50)
    amount: Money = Field(sa_type=MoneyColumn)
    month: str = Field(max_length=7, regex=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)


class Spending(SpendingBase, table=True):
    __tablename__ = "spending"
    id: int | None = Field(default=None, primary_key=True)
    customer_oid: str = customer_fk()


class SpendingPublic(SpendingBase, CustomerRow):
    pass


# --- Derivative transactions ----------------------------------------------------------------


class DerivativeTransactionBase(SQLModel):
    type: DerivativeType = Field(sa_type=_ENUM_COLUMN)
    option_type: OptionType | None = Field(default=None, sa_type=_ENUM_COLUMN)
    side: Side = Field(sa_type=_ENUM_COLUMN)
    underlying: str = Field(max_length=20)
    quantity: float = Field(description="Number of contracts")
    strike_price: Money | None = Field(default=None, sa_type=MoneyColumn)
    premium: Money | None = Field(default=None, sa_type=MoneyColumn)
    expiration_date: dt.date
    execution_date: dt.date
    strategy: str | None = Field(default=None, max_length=50)
    status: DerivativeStatus = Field(sa_type=_ENUM_COLUMN)
    counterparty: str | None = Field(default=None, max_length=100)
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)


class DerivativeTransaction(DerivativeTransactionBase, table=True):
    __tablename__ = "derivative_transactions"
    id: int | None = Field(default=None, primary_key=True)
    customer_oid: str = customer_fk()


class DerivativeTransactionPublic(DerivativeTransactionBase, CustomerRow):
    pass


# --- Portfolio ------------------------------------------------------------------------------


class HasData(BaseModel):
    assets: bool
    accounts: bool
    transactions: bool
    spending: bool
    derivatives: bool


class PortfolioSummary(BaseModel):
    customer_oid: str
    total_cash_balance: Money = PydanticField(
        description="Sum of account balances, converted to the reporting currency"
    )
    total_spending: Money = PydanticField(
        description="Sum of spending, converted to the reporting currency"
    )
    total_assets: int = PydanticField(description="Number of asset holdings")
    total_accounts: int
    total_transactions: int
    total_spending_categories: int = PydanticField(description="Distinct spending categories")
    total_derivative_positions: int
    has_data: HasData
    currency: Currency = PydanticField(description="The reporting currency of every total")


class Portfolio(BaseModel):
    customer_oid: str
    user: UserPublic
    assets: list[AssetPublic]
    bank_accounts: list[BankAccountPublic]
    transactions: list[TransactionPublic]
    spending: list[SpendingPublic]
    derivative_transactions: list[DerivativeTransactionPublic]
    portfolio_summary: PortfolioSummary


# --- Customer lifecycle ---------------------------------------------------------------------

REGISTERED_MESSAGE: Final = "Customer registered successfully"
DELETED_MESSAGE: Final = "Customer and all associated data deleted successfully"


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
