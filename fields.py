"""The building blocks of models.py: annotated field types that validate and document a value,
the money column, and the column helpers every table uses."""

import datetime as dt
import re
import unicodedata
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BeforeValidator,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, Dialect, Integer, String
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field

from constants import (
    NAME_CONTROL_CHARACTERS,
    NAME_INVISIBLE,
    NAME_LENGTH,
    NAME_NOT_VISIBLE,
    NAME_SURROGATE,
    NOT_A_DATE,
    NOT_A_MONTH,
    NOT_A_NUMBER,
    NOT_A_WEBHOOK_URL,
    NOT_AN_INTEGER,
    OID_EXAMPLE,
)
from errors import NUL_FREE_PATTERN, InvalidCustomerOID, InvalidInput

# --- Customer identifiers -------------------------------------------------------------------

UUID_RE = re.compile(
    r"[0-9A-Fa-f]{8}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{4}-?[0-9A-Fa-f]{12}"
)
LEGACY_RE = re.compile(r"[A-Z0-9-]{8,36}")
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
CUSTOMER_OID_PATTERN = f"^{UUID_RE.pattern}$|^{LEGACY_RE.pattern}$"


def normalize_customer_oid(value: str) -> str:
    """Canonical form of a CustomerOID: one spelling per UUID, legacy IDs as given."""
    if not (UUID_RE.fullmatch(value) or LEGACY_RE.fullmatch(value)):
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


# Character classes of a name, as regular expression ranges that Python and JSON Schema share.
_CONTROLS = r"\u0000-\u001f\u007f-\u009f"
# Every format character (Cf) of the Basic Multilingual Plane: bidirectional overrides and
# isolates, zero-width spaces, the BOM, soft hyphens... Not the zero-width non-joiner and joiner
# (U+200C, U+200D), which Persian and Indic names and emoji sequences need. Format characters
# beyond the BMP (emoji tag sequences, musical and hieroglyph formatting) are allowed.
_INVISIBLE = (
    r"\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f"
    r"\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
)
_JOINERS = r"\u200c\u200d"
# Space separators (Zs, Zl, Zp): they show nothing by themselves.
_SPACES = r"\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
_VISIBLE_RE = re.compile(f"[^{_CONTROLS}{_INVISIBLE}{_SPACES}{_JOINERS}]")
# No control or invisible format character, and at least one visible one.
NAME_PATTERN = (
    f"^[^{_CONTROLS}{_INVISIBLE}]*[^{_CONTROLS}{_INVISIBLE}{_SPACES}{_JOINERS}]"
    f"[^{_CONTROLS}{_INVISIBLE}]*$"
)


def clean_customer_name(value: str) -> str:
    """Strip surrounding spaces and reject names that are too short, too long, not valid
    Unicode, or that hide or reorder text: control and invisible format characters, and names
    with nothing visible."""
    name = value.strip()
    if not NAME_MIN_LENGTH <= len(name) <= NAME_MAX_LENGTH:
        raise InvalidInput(NAME_LENGTH.format(minimum=NAME_MIN_LENGTH, maximum=NAME_MAX_LENGTH))
    # A lone surrogate (JSON "\ud800") is no character: no database can store it as UTF-8.
    if any("\ud800" <= char <= "\udfff" for char in name):
        raise InvalidInput(NAME_SURROGATE)
    if any(unicodedata.category(char) == "Cc" for char in name):
        raise InvalidInput(NAME_CONTROL_CHARACTERS)
    invisible = _INVISIBLE_RE.search(name)
    if invisible is not None:
        char = invisible.group()
        code, char_name = f"U+{ord(char):04X}", unicodedata.name(char, "format character")
        raise InvalidInput(NAME_INVISIBLE.format(code=code, name=char_name))
    if _VISIBLE_RE.search(name) is None:
        raise InvalidInput(NAME_NOT_VISIBLE)
    return name


CustomerName = Annotated[
    str,
    AfterValidator(clean_customer_name),
    WithJsonSchema(
        {
            "type": "string",
            "minLength": NAME_MIN_LENGTH,
            "maxLength": NAME_MAX_LENGTH,
            "pattern": NAME_PATTERN,
            "description": "The customer's name: 2-100 characters after surrounding spaces are "
            "removed, at least one of them visible; no control characters, and no invisible "
            "format characters such as bidirectional overrides or zero-width spaces (the "
            "zero-width joiner and non-joiner are allowed).",
            "examples": ["John Doe"],
        }
    ),
]

# --- Numbers and dates ----------------------------------------------------------------------


def json_number(value: Any) -> Any:
    """Accept numbers only: a quoted "12.5" or a boolean is a client mistake, not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError(NOT_A_NUMBER)
    return value


def json_integer(value: Any) -> Any:
    """Refuse true and false where an integer belongs (pydantic would read them as 1 and 0),
    and a quoted "1": numbers are JSON numbers."""
    if isinstance(value, bool | str | bytes):
        raise ValueError(NOT_AN_INTEGER)
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
    raise ValueError(NOT_A_DATE)


def iso_month(value: str) -> str:
    if not MONTH_RE.fullmatch(value):
        raise ValueError(NOT_A_MONTH)
    return value


_ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MONTH_RE = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")

IsoDate = Annotated[dt.date, BeforeValidator(iso_date)]
Month = Annotated[
    str,
    AfterValidator(iso_month),
    WithJsonSchema({"type": "string", "pattern": f"^{MONTH_RE.pattern}$", "examples": ["2026-09"]}),
]
MCC_RE = re.compile(r"[0-9]{4}")
# ISO 18245: four digits, "5411" for grocery stores.
MerchantCategoryCode = Annotated[
    str,
    PydanticField(pattern=f"^{MCC_RE.pattern}$"),
    WithJsonSchema({"type": "string", "pattern": f"^{MCC_RE.pattern}$", "examples": ["5411"]}),
]
Quantity = Annotated[
    float,
    BeforeValidator(json_number),
    PydanticField(gt=0, allow_inf_nan=False),
    WithJsonSchema({"type": "number", "exclusiveMinimum": 0, "examples": [10]}),
]

# --- Money -----------------------------------------------------------------------------------


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

# --- Columns ---------------------------------------------------------------------------------

# Enumerations are stored as their plain values (VARCHAR), not as database enum types,
# so adding a member never needs a schema migration.
ENUM_COLUMN = String(20)
CURRENCY_COLUMN = String(3)


def sorted_text(length: int) -> Any:
    """Text the API sorts by: bytewise ("C") on PostgreSQL, as SQLite compares, so both engines
    list rows in the same order."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")


OID_COLUMN = sorted_text(36)
# BIGINT ids on PostgreSQL; SQLite's AUTOINCREMENT needs the column to be exactly INTEGER.
ID_COLUMN = BigInteger().with_variant(Integer(), "sqlite")
# Ids are never reused (SQLite's AUTOINCREMENT, as PostgreSQL's sequences): an id a client holds
# can never come to name another item, and both engines hand out the same ids.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def customer_fk(*, index: bool = True) -> Any:
    """The customer_oid foreign key of a per-customer table, indexed unless another index leads
    with it; deleting the user cascades."""
    return Field(
        foreign_key="users.customer_oid",
        ondelete="CASCADE",
        index=index,
        max_length=36,
        sa_type=OID_COLUMN,
    )


def customer_key() -> Any:
    """The customer_oid primary key of a table with one row per customer; deleting the user
    cascades."""
    return Field(
        primary_key=True,
        foreign_key="users.customer_oid",
        ondelete="CASCADE",
        max_length=36,
        sa_type=OID_COLUMN,
    )


# Text may hold any character but NUL, which PostgreSQL cannot store in a text column.
NO_NUL: Final = {"pattern": NUL_FREE_PATTERN}


def text(max_length: int, description: str | None = None) -> Any:
    """A required, non-empty text field."""
    return Field(min_length=1, max_length=max_length, description=description, schema_extra=NO_NUL)


def optional_text(max_length: int) -> Any:
    return Field(default=None, max_length=max_length, schema_extra=NO_NUL)


_HTTP_URL: Final = TypeAdapter(AnyHttpUrl)


def check_webhook_url(value: str) -> str:
    """A webhook's URL as given, once pydantic's URL parser finds it an http(s) URL with a host."""
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise ValueError(NOT_A_WEBHOOK_URL) from None
    return value
