"""Tables and API shapes: for each entity a Base, the table, and its public form."""

import datetime as dt
import functools
import re
import unicodedata
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    WithJsonSchema,
    create_model,
)
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Dialect, Index, Integer, String
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, Relationship, SQLModel

from errors import (
    NUL_FREE_PATTERN,
    OID_EXAMPLE,
    InvalidCursor,
    InvalidCustomerOID,
    InvalidInput,
)

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
        raise InvalidInput(
            f"Customer name must be {NAME_MIN_LENGTH} to {NAME_MAX_LENGTH} characters long "
            "(surrounding spaces are not counted)"
        )
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise InvalidInput("Customer name must not contain control characters")
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

# --- Numbers and dates ----------------------------------------------------------------------


def json_number(value: Any) -> Any:
    """Accept numbers only: a quoted "12.5" or a boolean is a client mistake, not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("Input should be a number")
    return value


def json_integer(value: Any) -> Any:
    """Refuse true and false where an integer belongs; pydantic would read them as 1 and 0."""
    if isinstance(value, bool):
        raise ValueError("Input should be an integer")
    return value


JsonInt = Annotated[int, BeforeValidator(json_integer)]
JsonFloat = Annotated[float, BeforeValidator(json_number)]
# The largest row id a client may name: the largest integer a JSON number holds exactly
# (JavaScript's Number.MAX_SAFE_INTEGER), and far inside a 64-bit column.
MAX_ID: Final = 2**53 - 1
RowIdRef = Annotated[
    JsonInt,
    PydanticField(ge=1, le=MAX_ID),
    # Spelt out: inside a table model's Field, pydantic's own ge/le would reach the schema raw.
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": MAX_ID, "examples": [1]}),
]


def iso_date(value: Any) -> Any:
    """Accept dates only as YYYY-MM-DD (not timestamps or other spellings pydantic would take)."""
    if isinstance(value, dt.date) or (isinstance(value, str) and _ISO_DATE_RE.fullmatch(value)):
        return value
    raise ValueError("Input should be a date in YYYY-MM-DD form")


def iso_month(value: str) -> str:
    if not _MONTH_RE.fullmatch(value):
        raise ValueError("Input should be a month in YYYY-MM form, such as 2026-09")
    return value


_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_MONTH_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")

IsoDate = Annotated[dt.date, BeforeValidator(iso_date)]
Month = Annotated[
    str,
    AfterValidator(iso_month),
    WithJsonSchema(
        {"type": "string", "pattern": f"^{_MONTH_RE.pattern}$", "examples": ["2026-09"]}
    ),
]
Quantity = Annotated[
    float,
    BeforeValidator(json_number),
    PydanticField(gt=0, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "examples": [10]}),
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


# The largest amount one field holds: 15 digits, two of them cents (stored as hundredths).
MAX_MONEY: Final = Decimal("9999999999999.99")
CENT: Final = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    """Round to the cent, half to even: 0.1 + 0.2 from a float-minded client is 0.30."""
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def money_schema(minimum: Decimal) -> WithJsonSchema:
    # No multipleOf 0.01: JSON Schema validators test it in binary floating point and reject
    # exact two-decimal amounts such as 4227.24. Amounts are rounded to the cent instead.
    return WithJsonSchema(
        {
            "type": "number",
            "minimum": float(minimum),
            "maximum": float(MAX_MONEY),
            "description": "Rounded to the cent (half to even)",
            "examples": [1250.5],
        }
    )


# Exact inside (Decimal, two places); a plain JSON number outside, as the API has always sent.
Money = Annotated[
    Decimal,
    BeforeValidator(json_number),
    PydanticField(ge=-float(MAX_MONEY), le=float(MAX_MONEY), allow_inf_nan=False),
    AfterValidator(to_cents),
    PlainSerializer(float, return_type=float, when_used="json"),
    money_schema(-MAX_MONEY),
]
NonNegativeMoney = Annotated[
    Decimal,
    BeforeValidator(json_number),
    PydanticField(ge=0, le=float(MAX_MONEY), allow_inf_nan=False),
    AfterValidator(to_cents),
    PlainSerializer(float, return_type=float, when_used="json"),
    money_schema(Decimal(0)),
]
# A sum of amounts, computed by the bank: exact, in cents, without the bound of one field.
Total = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number", "description": "Exact to the cent", "examples": [1250.5]}),
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


def sorted_text(length: int) -> Any:
    """Text the API sorts by: bytewise ("C") on PostgreSQL, as SQLite compares, so both engines
    list rows in the same order."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


_OID_COLUMN = sorted_text(36)
# BIGINT ids on PostgreSQL; SQLite's AUTOINCREMENT needs the column to be exactly INTEGER.
_ID_COLUMN = BigInteger().with_variant(Integer(), "sqlite")
# Ids are never reused (SQLite's AUTOINCREMENT, as PostgreSQL's sequences): an id a client holds
# can never come to name another item, and both engines hand out the same ids.
_NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def customer_fk() -> Any:
    """The indexed customer_oid foreign key of a per-customer table; deleting the user cascades."""
    return Field(
        foreign_key="users.customer_oid",
        ondelete="CASCADE",
        index=True,
        max_length=36,
        sa_type=_OID_COLUMN,
    )


# Text may hold any character but NUL, which PostgreSQL cannot store in a text column.
NO_NUL: Final = {"pattern": NUL_FREE_PATTERN}


def text(max_length: int, description: str | None = None) -> Any:
    """A required, non-empty text field."""
    return Field(min_length=1, max_length=max_length, description=description, schema_extra=NO_NUL)


def optional_text(max_length: int) -> Any:
    return Field(default=None, max_length=max_length, schema_extra=NO_NUL)


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
    customer_oid: str = Field(primary_key=True, max_length=36, sa_type=_OID_COLUMN)
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
    __table_args__ = _NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=_ID_COLUMN)


class InstitutionPublic(InstitutionBase, RowId):
    pass


# --- Assets ---------------------------------------------------------------------------------


class AssetBase(SQLModel):
    asset_type: AssetType = Field(sa_type=_ENUM_COLUMN)
    symbol: str = text(20)
    quantity: Quantity
    current_value: NonNegativeMoney = Field(
        sa_type=MoneyColumn, description="Market value of the whole holding"
    )
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)
    cost_basis: NonNegativeMoney | None = Field(
        default=None, sa_type=MoneyColumn, description="What the whole holding cost"
    )


class Asset(AssetBase, table=True):
    __tablename__ = "assets"
    __table_args__ = _NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=_ID_COLUMN)
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
    account_type: AccountType = Field(sa_type=_ENUM_COLUMN)
    balance: Money = Field(sa_type=MoneyColumn)
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)
    iban: str | None = optional_text(34)
    institution_id: RowIdRef = Field(
        foreign_key="institutions.id",
        index=True,
        sa_type=_ID_COLUMN,
        description="An id from GET /institutions",
    )


class BankAccount(BankAccountBase, table=True):
    __tablename__ = "bank_accounts"
    __table_args__ = _NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=_ID_COLUMN)
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
    type: TransactionType = Field(sa_type=_ENUM_COLUMN)
    symbol: str | None = optional_text(20)
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)


class Transaction(TransactionBase, table=True):
    __tablename__ = "transactions"
    # Newest-first pages of one customer's history are read straight off this index.
    __table_args__ = (
        Index("ix_transactions_customer_date_id", "customer_oid", "date", "id"),
        _NEVER_REUSE_IDS,
    )
    id: int | None = Field(default=None, primary_key=True, sa_type=_ID_COLUMN)
    customer_oid: str = customer_fk()


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
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)


class Spending(SpendingBase, table=True):
    __tablename__ = "spending"
    __table_args__ = _NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=_ID_COLUMN)
    customer_oid: str = customer_fk()


class SpendingPublic(SpendingBase, CustomerRow):
    pass


class SpendingCreate(SpendingBase, StrictInput):
    pass


class SpendingImport(SpendingCreate, ReadOnlyKeys):
    pass


# --- Derivative transactions ----------------------------------------------------------------


class DerivativeTransactionBase(SQLModel):
    type: DerivativeType = Field(sa_type=_ENUM_COLUMN)
    option_type: OptionType | None = Field(default=None, sa_type=_ENUM_COLUMN)
    side: Side = Field(sa_type=_ENUM_COLUMN)
    underlying: str = text(20)
    quantity: Quantity = Field(description="Number of contracts")
    strike_price: NonNegativeMoney | None = Field(default=None, sa_type=MoneyColumn)
    premium: NonNegativeMoney | None = Field(default=None, sa_type=MoneyColumn)
    expiration_date: IsoDate
    execution_date: IsoDate
    strategy: str | None = optional_text(50)
    status: DerivativeStatus = Field(sa_type=_ENUM_COLUMN)
    counterparty: str | None = optional_text(100)
    currency: Currency = Field(default=Currency.USD, sa_type=_CURRENCY_COLUMN)


class DerivativeTransaction(DerivativeTransactionBase, table=True):
    __tablename__ = "derivative_transactions"
    __table_args__ = _NEVER_REUSE_IDS
    id: int | None = Field(default=None, primary_key=True, sa_type=_ID_COLUMN)
    customer_oid: str = customer_fk()


class DerivativeTransactionPublic(DerivativeTransactionBase, CustomerRow):
    pass


class DerivativeTransactionCreate(DerivativeTransactionBase, StrictInput):
    pass


class DerivativeTransactionImport(DerivativeTransactionCreate, ReadOnlyKeys):
    pass


# --- Partial updates ------------------------------------------------------------------------


def patch_model(create: type[SQLModel]) -> type[SQLModel]:
    """The PATCH shape of a Create model: every field optional, none of them nullable unless
    it is nullable on create, so a PATCH can change a field but never blank a required one."""
    fields: dict[str, Any] = {
        # The metadata carries the field's constraints and validators (gt=0, lengths, ...).
        name: (
            Annotated[(field.annotation, *field.metadata)],
            PydanticField(default=None, description=field.description),
        )
        for name, field in create.model_fields.items()
    }
    model: type[SQLModel] = create_model(
        create.__name__.replace("Create", "Update"), __base__=StrictInput, **fields
    )
    return model


AssetUpdate = patch_model(AssetCreate)
BankAccountUpdate = patch_model(BankAccountCreate)
TransactionUpdate = patch_model(TransactionCreate)
SpendingUpdate = patch_model(SpendingCreate)
DerivativeTransactionUpdate = patch_model(DerivativeTransactionCreate)

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
    random value with every change to the customer's rows (migration 0002). Answers kept in
    memory (answers.py) are served only while the version they were read at is still current."""

    __tablename__ = "customer_versions"
    customer_oid: str = Field(
        primary_key=True,
        foreign_key="users.customer_oid",
        ondelete="CASCADE",
        max_length=36,
        sa_type=_OID_COLUMN,
    )
    version: int = Field(sa_type=BigInteger)


class CustomerListVersion(SQLModel, table=True):
    """The one-row version of the customer list: new with every customer added, removed or
    renamed."""

    __tablename__ = "customer_list_version"
    id: int = Field(primary_key=True, sa_type=Integer)
    version: int = Field(sa_type=BigInteger)


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
    "customer_oid": f"(?:{_UUID_RE.pattern}|{_LEGACY_RE.pattern})",
    "id": _CURSOR_ID,
    "date": _DATE,
    "month": f"(?:{_MONTH_RE.pattern})",
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


class CustomerMissing(BaseModel):
    """The answer of the existence check for an unknown customer (404): an error and an answer."""

    detail: str
    customer_oid: str
    exists: Literal[False]
    name: None


# --- Service --------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["healthy", "unhealthy"]
    service: str
    database: Literal["ok", "unreachable"]


class ErrorResponse(BaseModel):
    detail: str = PydanticField(examples=["Customer with CustomerOID '...' not found"])
