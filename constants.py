"""What clients depend on word for word: the API's name and version, the example CustomerOID, and
every fixed message. Changing one of these changes the contract."""

from typing import Final

API_TITLE: Final = "Dummy Bank API"
API_VERSION: Final = "1.0.0"
API_DESCRIPTION: Final = (
    "A sandbox bank for AI agents and developers: customers, portfolios and their analysis, "
    'keyed by CustomerOID. Every error body is `{"detail": "..."}`.\n\n'
    "Every write takes an `Idempotency-Key` header, with Stripe's semantics: a retry with the "
    "same key and request gets the first answer (`Idempotent-Replayed: true`), another request "
    "under the key is 422, one while the first runs 409. Any request can ask for a fault with "
    "`Sandbox-Fault: status=503; retry_after=2` (or `latency=800`, `reset`, `truncate`, "
    "`ack-lost`) or Prism's `Prefer: code=503`; `PUT /sandbox/faults` sets a seeded profile "
    "for the whole server. With `RATE_LIMIT` set, answers carry the IETF `RateLimit-Policy` "
    "and `RateLimit` fields and a caller over a limit gets 429 with `Retry-After`."
)
SERVICE_NAME: Final = "dummy-bank-api"

# The methods that change data (access, idempotency keys, faults).
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The docs: their pages and schema, and their assets.
DOCS_PATHS: Final = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
DOCS_PREFIXES: Final = ("/static-offline-docs/",)

# The first sample customer (John Doe): examples in the docs name someone who is there.
OID_EXAMPLE: Final = "550e8400-e29b-41d4-a716-446655440001"

# Answers to a successful change.
REGISTERED_MESSAGE: Final = "Customer registered successfully"
DELETED_MESSAGE: Final = "Customer and all associated data deleted successfully"

# Errors a request can cause (see errors.py), filled in with the request's values.
CUSTOMER_NOT_FOUND: Final = "Customer with CustomerOID '{customer_oid}' not found"
CUSTOMER_ALREADY_EXISTS: Final = "Customer with CustomerOID '{customer_oid}' already exists"
ITEM_NOT_FOUND: Final = "{label} {item_id} not found for CustomerOID '{customer_oid}'"
ACCOUNT_NOT_THEIRS: Final = (
    "account_id: bank account {account_id} is not an account of CustomerOID '{customer_oid}'"
)
ACCOUNT_NOT_IN_DOCUMENT: Final = (
    "transactions: account_id {account_id} is the id of no bank account in the document"
)
CURRENCY_NOT_THE_ACCOUNTS: Final = (
    "currency: the transaction is in {currency}, its bank account {account_id} in "
    "{account_currency}; a transaction takes its account's currency"
)
BALANCE_OUT_OF_RANGE: Final = (
    "amount: posting it would take bank account {account_id}'s balance beyond ±{limit}"
)
DATE_RANGE_REVERSED: Final = "from: {start} is after to: {end}"
DUPLICATE_ACCOUNT_ID: Final = (
    "bank_accounts: id {account_id} names two accounts of the document; a transaction's "
    "account_id must name one"
)
ACCOUNT_HAS_TRANSACTIONS: Final = (
    "currency: bank account {account_id} has transactions in {currency}; its currency cannot "
    "change while they are posted to it"
)
SECURITY_NOT_FOUND: Final = "Security '{symbol}' not found (see GET /securities)"
INSTITUTION_NOT_FOUND: Final = (
    "institution_id: Institution {institution_id} does not exist (see GET /institutions)"
)
INVALID_CUSTOMER_OID: Final = (
    "Invalid CustomerOID '{value}': expected a UUID such as " + OID_EXAMPLE + " (any case, "
    "hyphens optional) or a legacy ID of 8-36 characters from A-Z, 0-9 and '-'"
)
INVALID_CURSOR: Final = "cursor: Invalid cursor; use the one from the previous page's Link header"
SYNC_COUNT_TOO_LARGE: Final = (
    "count: At most {limit} changes a sync over MCP, to fit an agent's context; sync again from "
    "next_cursor for more"
)
NOT_A_WEBHOOK_URL: Final = (
    "Not an http or https URL with a host, such as http://localhost:8000/hook"
)
WEBHOOK_NOT_FOUND: Final = "Webhook {webhook_id} not found (see GET /webhooks)"
INVALID_SYNC_CURSOR: Final = (
    "cursor: Not a cursor of this feed; send the next_cursor of the previous sync, or none to "
    "start from the beginning"
)
# Validation: each sentence follows the field's name ("name: ...") unless it names it itself.
NAME_LENGTH: Final = (
    "Customer name must be {minimum} to {maximum} characters long "
    "(surrounding spaces are not counted)"
)
NAME_CONTROL_CHARACTERS: Final = "Customer name must not contain control characters"
NAME_SURROGATE: Final = "Customer name must be valid Unicode: it contains an unpaired surrogate"
NAME_INVISIBLE: Final = (
    "Customer name must not contain invisible format characters: it contains {code} ({name})"
)
NAME_NOT_VISIBLE: Final = "Customer name must contain a visible character"
NOT_A_NUMBER: Final = "Input should be a number"
NOT_AN_INTEGER: Final = "Input should be an integer"
NOT_A_DATE: Final = "Input should be a date in YYYY-MM-DD form"
NOT_A_MONTH: Final = "Input should be a month in YYYY-MM form, such as 2026-09"
NUL_IN_TEXT: Final = "Text cannot contain the NUL character (\\u0000)"
INVALID_JSON: Final = "Request body is not valid JSON: {problem}"
BODY_TOO_LARGE: Final = "Request body too large: the limit is {limit:,} bytes"
# Refused by the server (server.py) before any route runs, with 431.
HEADERS_TOO_LARGE: Final = "Request line and headers too large: the limit is {limit:,} bytes"
TOO_MANY_HEADERS: Final = "Too many request headers: the limit is {limit:,}"
METHOD_NOT_ALLOWED: Final = "Method {method} is not allowed here; use {allowed}"

# Access (middleware.AccessMiddleware): answered before any route runs.
MISSING_API_KEY: Final = (
    "Missing API key: send it as 'X-API-Key: <key>' or 'Authorization: Bearer <key>'"
)
INVALID_API_KEY: Final = "Invalid API key"
READ_ONLY_REFUSAL: Final = "The bank is read-only (BANK_READ_ONLY=1): nothing was changed"

# Overload: a write that could not start in time (SQLite's in-process write queue).
WRITE_QUEUE_FULL: Final = (
    "The bank is busy with other writes: nothing was changed; retry after {retry_after} seconds"
)
RETRY_AFTER_SECONDS: Final = 2
# Overload: a read that found no free database connection in time (PostgreSQL's read pool).
READ_QUEUE_FULL: Final = "The bank is busy with other reads; retry after {retry_after} seconds"

# A request whose Host header names another site (DNS rebinding), or none.
HOST_NOT_ALLOWED: Final = (
    "Host '{host}' is not served here: use localhost or 127.0.0.1, or add it to ALLOWED_HOSTS"
)

# The generic 500: the real error is logged on the server, never sent.
INTERNAL_ERROR: Final = "Internal server error"

# Faults (fault_injection.py, bank/faults.py): what a client asked for, and is told it got.
FAULT_STATUS: Final = "Sandbox fault: {status} {phrase}, injected {by}; nothing was changed"
FAULT_RETRY_AFTER: Final = "; retry after {retry_after} seconds"
FAULT_ACK_LOST: Final = (
    "Sandbox fault: 502 Bad Gateway, injected {by} after the request ran (ack-lost): its answer "
    "was lost on the way back. Retry with the same Idempotency-Key to learn it"
)
FAULT_NEEDS_OUR_SERVER: Final = (
    "Sandbox fault: {kind} breaks the connection, which only the bank's own server can do "
    "(python main.py, or uvicorn with --http server:BankHttpProtocol): answered 502 instead; "
    "nothing was changed"
)
FAULT_BY_HEADER: Final = "by the Sandbox-Fault header"
FAULT_BY_PREFER: Final = "by the Prefer header"
FAULT_BY_PROFILE: Final = "by the fault profile (GET /sandbox/faults)"
INVALID_FAULT_HEADER: Final = (
    "Sandbox-Fault: {problem}. Send one fault, such as 'status=503; retry_after=2', "
    "'latency=800', 'reset', 'truncate' or 'ack-lost'"
)
INVALID_PREFER_CODE: Final = "Prefer: code={code} is not an HTTP status code (100-599)"
ACK_LOST_NEEDS_A_WRITE: Final = (
    "Sandbox-Fault: ack-lost applies to writes (POST, PUT, PATCH, DELETE) only"
)

# Idempotency keys (idempotency.py, bank/idempotency.py), with Stripe's semantics.
INVALID_IDEMPOTENCY_KEY: Final = (
    "Idempotency-Key must be 1-255 printable ASCII characters, such as a UUID"
)
IDEMPOTENCY_KEY_REUSED: Final = (
    "Idempotency-Key '{key}' was used with a different request (method, path or body) in the "
    "last 24 hours: use a new key for a new request"
)
IDEMPOTENCY_KEY_IN_FLIGHT: Final = (
    "A request with Idempotency-Key '{key}' is still running: retry after it has been answered"
)

# Rate limits (rate_limit.py, RATE_LIMIT).
RATE_LIMITED: Final = (
    "Too many requests: the limit is {limit} {per}; retry after {retry_after} seconds"
)
