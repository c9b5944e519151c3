"""Errors a client can cause. Each message is safe to show and is the `detail` clients see."""

from collections.abc import Sequence
from typing import Any

from starlette.exceptions import HTTPException

# The pattern of every free-text field: anything but NUL (see describe_validation_errors).
NUL_FREE_PATTERN = r"^[^\x00]*$"
# The first sample customer (John Doe): examples in the docs name someone who is there.
OID_EXAMPLE = "550e8400-e29b-41d4-a716-446655440001"
_ECHO_LIMIT = 64


def _echo(value: str) -> str:
    """Quote client input back without letting an oversized value flood the message."""
    return value if len(value) <= _ECHO_LIMIT else value[:_ECHO_LIMIT] + "..."


class BankError(Exception):
    """Base of every error caused by the request rather than by the server."""

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidInput(BankError, ValueError):
    """The request is malformed; it is a ValueError so pydantic validators can raise it too."""


class InvalidCustomerOID(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(
            f"Invalid CustomerOID '{_echo(value)}': expected a UUID such as {OID_EXAMPLE} "
            "(any case, hyphens optional) or a legacy ID of 8-36 characters from A-Z, 0-9 and '-'"
        )


class CustomerNotFound(BankError):
    def __init__(self, customer_oid: str) -> None:
        super().__init__(f"Customer with CustomerOID '{customer_oid}' not found")


class CustomerAlreadyExists(BankError):
    def __init__(self, customer_oid: str) -> None:
        super().__init__(f"Customer with CustomerOID '{customer_oid}' already exists")


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """One readable sentence per pydantic error, without echoing the input or pydantic internals.

    An InvalidInput raised by our validators names its field already, so its message stands
    alone, identical over HTTP and MCP; every other message gets the field's location in front.
    """
    problems = []
    for error in errors:
        cause = error.get("ctx", {}).get("error")
        if error["type"] == "json_invalid":
            problems.append(f"Request body is not valid JSON: {cause}")
        elif isinstance(cause, InvalidInput):
            problems.append(str(cause))
        else:
            message = str(cause) if error["type"] == "value_error" else error["msg"]
            if error.get("ctx", {}).get("pattern") == NUL_FREE_PATTERN:
                message = "Text cannot contain the NUL character (\\u0000)"
            location = ".".join(str(part) for part in error["loc"]) or "request body"
            problems.append(f"{location}: {message}")
    return "; ".join(problems)


class ItemNotFound(BankError):
    def __init__(self, label: str, item_id: int, customer_oid: str) -> None:
        super().__init__(f"{label} {item_id} not found for CustomerOID '{customer_oid}'")


class InstitutionNotFound(BankError):
    """A bank account names an institution that is not there: 404, as for a missing customer."""

    def __init__(self, institution_id: int) -> None:
        super().__init__(
            f"institution_id: Institution {institution_id} does not exist (see GET /institutions)"
        )


class InvalidCursor(InvalidInput):
    def __init__(self) -> None:
        super().__init__("cursor: Invalid cursor; use the one from the previous page's Link header")


class BodyTooLarge(HTTPException):
    """Raised while a body is read past MAX_BODY_BYTES. An HTTPException, not a BankError:
    FastAPI turns any other error raised while it reads a body into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"Request body too large: the limit is {limit:,} bytes")


# Access (middleware.AccessMiddleware): answered before any route runs.
MISSING_API_KEY = "Missing API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"
INVALID_API_KEY = "Invalid API key"
READ_ONLY = "The bank is read-only (BANK_READ_ONLY=1): nothing was changed"
