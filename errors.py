"""Errors a client can cause. Each carries its HTTP status, and its message is safe to show: it is
the `detail` clients see, over HTTP and MCP alike."""

from collections.abc import Sequence
from typing import Any, ClassVar

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from constants import (
    ACCOUNT_HAS_TRANSACTIONS,
    ACCOUNT_NOT_IN_DOCUMENT,
    ACCOUNT_NOT_THEIRS,
    BALANCE_OUT_OF_RANGE,
    BODY_TOO_LARGE,
    CURRENCY_NOT_THE_ACCOUNTS,
    CUSTOMER_ALREADY_EXISTS,
    CUSTOMER_NOT_FOUND,
    DATE_RANGE_REVERSED,
    DUPLICATE_ACCOUNT_ID,
    IDEMPOTENCY_KEY_IN_FLIGHT,
    IDEMPOTENCY_KEY_REUSED,
    INSTITUTION_NOT_FOUND,
    INVALID_CURSOR,
    INVALID_CUSTOMER_OID,
    INVALID_FAULT_HEADER,
    INVALID_IDEMPOTENCY_KEY,
    INVALID_JSON,
    INVALID_PREFER_CODE,
    INVALID_SYNC_CURSOR,
    ITEM_NOT_FOUND,
    NOT_A_WEBHOOK_URL,
    NUL_IN_TEXT,
    READ_QUEUE_FULL,
    RETRY_AFTER_SECONDS,
    SECURITY_NOT_FOUND,
    SYNC_COUNT_TOO_LARGE,
    WEBHOOK_NOT_FOUND,
    WRITE_QUEUE_FULL,
)

# The pattern of every free-text field: anything but NUL (see describe_validation_errors).
NUL_FREE_PATTERN = r"^[^\x00]*$"
# A webhook's URL as the OpenAPI document states it (fields.check_webhook_url checks the rest).
WEBHOOK_URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s]+$"
_ECHO_LIMIT = 64


def _echo(value: str) -> str:
    """Quote client input back without letting an oversized value flood the message."""
    return value if len(value) <= _ECHO_LIMIT else value[:_ECHO_LIMIT] + "..."


class BankError(Exception):
    """Base of every error caused by the request rather than by the server."""

    status_code: ClassVar[int]

    @property
    def message(self) -> str:
        return str(self.args[0])

    @property
    def headers(self) -> dict[str, str] | None:
        """Headers the HTTP answer carries besides the body; none for most errors."""
        return None

    def response(self) -> JSONResponse:
        """The HTTP answer: {"detail": message}, the status and the headers."""
        return JSONResponse({"detail": self.message}, self.status_code, headers=self.headers)


class InvalidInput(BankError, ValueError):
    """The request is malformed; it is a ValueError so pydantic validators can raise it too."""

    status_code = 400


class InvalidCustomerOID(InvalidInput):
    def __init__(self, value: str) -> None:
        super().__init__(INVALID_CUSTOMER_OID.format(value=_echo(value)))


class InvalidCursor(InvalidInput):
    def __init__(self) -> None:
        super().__init__(INVALID_CURSOR)


class InvalidSyncCursor(InvalidInput):
    def __init__(self) -> None:
        super().__init__(INVALID_SYNC_CURSOR)


class SyncCountTooLarge(InvalidInput):
    def __init__(self, limit: int) -> None:
        super().__init__(SYNC_COUNT_TOO_LARGE.format(limit=limit))


class InstitutionNotFound(InvalidInput):
    """A bank account names an institution that is not there: the customer in the URL exists,
    the body is what is wrong, so 400."""

    def __init__(self, institution_id: int) -> None:
        super().__init__(INSTITUTION_NOT_FOUND.format(institution_id=institution_id))


class AccountNotTheirs(InvalidInput):
    """A transaction names a bank account that is not its customer's (or none at all)."""

    def __init__(self, account_id: int, customer_oid: str) -> None:
        super().__init__(
            ACCOUNT_NOT_THEIRS.format(account_id=account_id, customer_oid=customer_oid)
        )


class DuplicateAccountId(InvalidInput):
    def __init__(self, account_id: int) -> None:
        super().__init__(DUPLICATE_ACCOUNT_ID.format(account_id=account_id))


class AccountHasTransactions(InvalidInput):
    def __init__(self, account_id: int, currency: str) -> None:
        super().__init__(ACCOUNT_HAS_TRANSACTIONS.format(account_id=account_id, currency=currency))


class AccountNotInDocument(InvalidInput):
    """An imported transaction names an account id that no account of the document has."""

    def __init__(self, account_id: int) -> None:
        super().__init__(ACCOUNT_NOT_IN_DOCUMENT.format(account_id=account_id))


class CurrencyNotTheAccounts(InvalidInput):
    def __init__(self, currency: str, account_id: int, account_currency: str) -> None:
        super().__init__(
            CURRENCY_NOT_THE_ACCOUNTS.format(
                currency=currency, account_id=account_id, account_currency=account_currency
            )
        )


class BalanceOutOfRange(InvalidInput):
    def __init__(self, account_id: int, limit: str) -> None:
        super().__init__(BALANCE_OUT_OF_RANGE.format(account_id=account_id, limit=limit))


class DateRangeReversed(InvalidInput):
    def __init__(self, start: str, end: str) -> None:
        super().__init__(DATE_RANGE_REVERSED.format(start=start, end=end))


class SecurityNotFound(BankError):
    status_code = 404

    def __init__(self, symbol: str) -> None:
        super().__init__(SECURITY_NOT_FOUND.format(symbol=_echo(symbol)))


class CustomerNotFound(BankError):
    status_code = 404

    def __init__(self, customer_oid: str) -> None:
        super().__init__(CUSTOMER_NOT_FOUND.format(customer_oid=customer_oid))


class ItemNotFound(BankError):
    status_code = 404

    def __init__(self, label: str, item_id: int, customer_oid: str) -> None:
        super().__init__(
            ITEM_NOT_FOUND.format(label=label, item_id=item_id, customer_oid=customer_oid)
        )


class WebhookNotFound(BankError):
    status_code = 404

    def __init__(self, webhook_id: int) -> None:
        super().__init__(WEBHOOK_NOT_FOUND.format(webhook_id=webhook_id))


class CustomerAlreadyExists(BankError):
    status_code = 409

    def __init__(self, customer_oid: str) -> None:
        super().__init__(CUSTOMER_ALREADY_EXISTS.format(customer_oid=customer_oid))


class Busy(BankError):
    """Overload: 503 with Retry-After, and nothing changed."""

    status_code = 503
    retry_after = RETRY_AFTER_SECONDS

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class WriteQueueFull(Busy):
    """A write waited longer than WRITE_QUEUE_TIMEOUT_SECONDS for its turn: 503, retry later."""

    def __init__(self) -> None:
        super().__init__(WRITE_QUEUE_FULL.format(retry_after=self.retry_after))


class ReadQueueFull(Busy):
    """A read waited longer than WRITE_QUEUE_TIMEOUT_SECONDS for a free PostgreSQL connection:
    503, retry later."""

    def __init__(self) -> None:
        super().__init__(READ_QUEUE_FULL.format(retry_after=self.retry_after))


class InvalidFaultHeader(InvalidInput):
    def __init__(self, problem: str) -> None:
        super().__init__(INVALID_FAULT_HEADER.format(problem=problem))


class InvalidPreferCode(InvalidInput):
    def __init__(self, code: str) -> None:
        super().__init__(INVALID_PREFER_CODE.format(code=code[:16]))


class InvalidIdempotencyKey(InvalidInput):
    def __init__(self) -> None:
        super().__init__(INVALID_IDEMPOTENCY_KEY)


class IdempotencyKeyReused(BankError):
    """The key was used with another request: 422, as Stripe answers."""

    status_code = 422

    def __init__(self, key: str) -> None:
        super().__init__(IDEMPOTENCY_KEY_REUSED.format(key=_echo(key)))


class IdempotencyKeyInFlight(BankError):
    """The first request under the key is still running: 409, as Stripe answers."""

    status_code = 409

    def __init__(self, key: str) -> None:
        super().__init__(IDEMPOTENCY_KEY_IN_FLIGHT.format(key=_echo(key)))

    @property
    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": "1"}


class BodyTooLarge(HTTPException):
    """Raised while a body is read past MAX_BODY_BYTES. An HTTPException, not a BankError:
    FastAPI turns any other error raised while it reads a body into a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, BODY_TOO_LARGE.format(limit=limit))


# What a value that does not match a pattern is told, instead of the pattern itself.
PATTERN_MESSAGES = {NUL_FREE_PATTERN: NUL_IN_TEXT, WEBHOOK_URL_PATTERN: NOT_A_WEBHOOK_URL}


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """One readable sentence per pydantic error, without echoing the input or pydantic internals.

    An InvalidInput raised by our validators names its field already, so its message stands
    alone, identical over HTTP and MCP; every other message gets the field's location in front.
    """
    problems = []
    for error in errors:
        cause = error.get("ctx", {}).get("error")
        if error["type"] == "json_invalid":
            problems.append(INVALID_JSON.format(problem=cause))
        elif isinstance(cause, InvalidInput):
            problems.append(str(cause))
        else:
            message = str(cause) if error["type"] == "value_error" else error["msg"]
            message = PATTERN_MESSAGES.get(error.get("ctx", {}).get("pattern"), message)
            location = ".".join(str(part) for part in error["loc"]) or "request body"
            problems.append(f"{location}: {message}")
    return "; ".join(problems)
