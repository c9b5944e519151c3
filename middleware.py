"""Pure ASGI middleware: access, request logging and ids, body limits, and a 500 that leaks
nothing."""

import hashlib
import hmac
import json
import logging
import re
import time
import uuid

from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette.requests import ClientDisconnect
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from constants import (
    DOCS_PATHS,
    DOCS_PREFIXES,
    HOST_NOT_ALLOWED,
    INTERNAL_ERROR,
    INVALID_API_KEY,
    MISSING_API_KEY,
    READ_ONLY_REFUSAL,
    SERVICE_NAME,
    WRITE_METHODS,
)
from errors import BodyTooLarge

logger = logging.getLogger("bank")


class TrackedSend:
    """The app's `send`, remembering whether the response has started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.response_started = False

    async def __call__(self, message: Message) -> None:
        self.response_started |= message["type"] == "http.response.start"
        await self._send(message)


class InternalErrorMiddleware:
    """Log an unexpected error with its traceback and answer a generic 500 that leaks nothing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        tracked = TrackedSend(send)
        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if is_hang_up(scope, error):
                raise  # not an error: RequestLogMiddleware logs the hang-up, once, at INFO
            logger.exception(
                "Unhandled error on %s %s (request_id=%s)",
                scope["method"],
                scope["path"],
                scope.get("state", {}).get("request_id"),
            )
            if tracked.response_started:
                raise
            await JSONResponse({"detail": INTERNAL_ERROR}, status_code=500)(scope, receive, send)


class BodyLimitMiddleware:
    """Refuse a request body over `max_bytes` with 413 before it is read whole.

    A declared Content-Length over the limit is refused before any byte is read. A body sent
    without one (chunked) is cut off as soon as its bytes pass the limit: reading the next chunk
    raises BodyTooLarge, an HTTPException that FastAPI answers as {"detail": ...}.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"]) if scope["type"] == "http" else {}
        declared = headers.get(b"content-length")
        if declared is None and b"transfer-encoding" not in headers:  # no body to limit
            await self.app(scope, receive, send)
            return
        too_large = BodyTooLarge(self.max_bytes)
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await refuse(too_large, scope, receive, send)
            return
        received, tracked = 0, TrackedSend(send)

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise too_large
            return message

        try:
            await self.app(scope, receive_within_limit, tracked)
        except BodyTooLarge:
            # Routes answer it as a client error; this is for a body read elsewhere (/mcp).
            if tracked.response_started:
                raise
            await refuse(too_large, scope, receive, send)


async def refuse(error: BodyTooLarge, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 413, and close the connection: the rest of the body is never read."""
    response = JSONResponse(
        {"detail": error.detail}, status_code=413, headers={"Connection": "close"}
    )
    await response(scope, receive, send)


REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")
request_logger = logging.getLogger("bank.requests")
# Set in scope["state"] once the client is known to have gone before its answer was sent.
CLIENT_DISCONNECTED = "client_disconnected"
# nginx's code for "client closed request": never sent, only logged.
CLIENT_CLOSED_REQUEST = 499
# Set in scope["state"] when the server broke the connection on purpose (a fault: reset), and
# logged as nginx logs a connection it closed without an answer.
CONNECTION_BROKEN = "connection_broken"
NO_RESPONSE = 444
REQUEST_LINE = "method=%s path=%s status=%d duration_ms=%.2f request_id=%s"


def is_hang_up(scope: Scope, error: Exception) -> bool:
    """Whether `error` is what a client's hang-up raises: writing to its closed connection
    (OSError, ASGI 2.4) or reading a body it stopped sending. Any other error, even after a
    hang-up, is a real one and is logged as such."""
    hung_up = CLIENT_DISCONNECTED in scope.get("state", {})
    return hung_up and isinstance(error, OSError | ClientDisconnect)


class RequestLogMiddleware:
    """One structured (logfmt) log line per request, and an X-Request-ID on every response.

    The request's own X-Request-ID is kept when it is 1-128 letters, digits or `._:-`; otherwise
    one is made. It goes into scope["state"]["request_id"], so error logs can name it too.

    A client that hangs up before its answer is sent is one INFO line with status 499, whatever
    the app then raised or would have answered. The server says so in either of two ways: its
    `send` raises OSError (ASGI 2.4, and server.py), or `receive` returns http.disconnect before
    the answer is complete.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope["headers"]).get(REQUEST_ID_HEADER, b"")
        request_id = given if _VALID_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex.encode()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id.decode()
        status = 500  # unless a response starts
        response_started = answered = False

        async def receive_noting_hang_up() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect" and not answered:
                state[CLIENT_DISCONNECTED] = True
            return message

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, answered, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id)]
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                answered = True
            try:
                await send(message)
            except OSError:
                state[CLIENT_DISCONNECTED] = True
                raise

        try:
            await self.app(scope, receive_noting_hang_up, send_with_request_id)
        except Exception as error:
            if not is_hang_up(scope, error):
                raise
        finally:
            if CLIENT_DISCONNECTED in state:
                status = CLIENT_CLOSED_REQUEST
            elif CONNECTION_BROKEN in state and not response_started:
                status = NO_RESPONSE
            if request_logger.isEnabledFor(logging.INFO):
                request_logger.info(
                    REQUEST_LINE,
                    scope["method"],
                    json.dumps(scope["path"]),
                    status,
                    (time.perf_counter() - started) * 1000,
                    request_id.decode(),
                )


# Open without a key: the health probe, and the docs with their schema and assets.
PUBLIC_PATHS = DOCS_PATHS | {"/health"}
PUBLIC_PREFIXES = DOCS_PREFIXES
# MCP sends every call, reads included, as a POST; in read-only mode its write tools are gone.
MCP_PATH = "/mcp"


def digest(secret: bytes) -> bytes:
    return hashlib.sha256(secret).digest()


class AccessMiddleware:
    """The API key (when one is set) and read-only mode, checked before anything else runs.

    It sits outside ResponseCacheMiddleware, so a cached answer is never served to a request
    without the key, nor does read-only mode depend on which route would have answered.
    """

    def __init__(self, app: ASGIApp, *, api_key: str | None, read_only: bool) -> None:
        self.app = app
        # Digests of equal length: the comparison takes the same time whatever is sent.
        self.key_digest = None if api_key is None else digest(api_key.encode())
        self.read_only = read_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self.key_digest is not None:
            given = presented_key(scope["headers"])
            if given is None or not hmac.compare_digest(digest(given), self.key_digest):
                detail = MISSING_API_KEY if given is None else INVALID_API_KEY
                challenge = f'Bearer realm="{SERVICE_NAME}"'
                if given is not None:
                    challenge += ', error="invalid_token"'
                headers = {"WWW-Authenticate": challenge}
                response = JSONResponse({"detail": detail}, status_code=401, headers=headers)
                await response(scope, receive, send)
                return
        if self.read_only and scope["method"] in WRITE_METHODS and is_write_route(scope):
            await JSONResponse({"detail": READ_ONLY_REFUSAL}, status_code=403)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def allowed_methods(scope: Scope) -> set[str]:
    """Every method the app's routes take on this request's path (none for an unknown path),
    routes of included routers among them."""
    return {
        method
        for route in iter_route_contexts(scope["app"].router.routes)
        if route.methods and route.matches(scope)[0] != Match.NONE
        for method in route.methods
    }


def is_write_route(scope: Scope) -> bool:
    """Whether a route of the app takes this write: not /mcp, and not a method the path lacks
    (that one is the router's 405, and changes nothing either)."""
    return scope["path"] != MCP_PATH and scope["method"] in allowed_methods(scope)


def presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    """The key from X-API-Key, or else from `Authorization: Bearer <key>`; None if neither."""
    bearer = None
    for name, value in headers:
        if name == b"x-api-key":
            return value
        if name == b"authorization" and bearer is None:
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                bearer = token.strip()
    return bearer


def caller_of(
    headers: list[tuple[bytes, bytes]], client: tuple[str, int] | None, *, by_key: bool = True
) -> str:
    """Who is asking, for rate limits and idempotency keys: the API key sent (as a digest),
    or else (or unless `by_key`) the client's address."""
    key = presented_key(headers) if by_key else None
    if key is not None:
        return "key:" + hashlib.sha256(key).hexdigest()
    return "addr:" + (client[0] if client else "unknown")


# Answered whatever the Host: monitors and probes often send an address as the Host.
HOST_EXEMPT_PATHS = frozenset({"/health"})


def host_name(host: bytes) -> str:
    """The name in a Host header, lower-case and without its port: localhost, 127.0.0.1, [::1]."""
    text = host.decode("latin-1").strip().lower()
    if text.startswith("["):
        return text[: text.find("]") + 1]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


class TrustedHostMiddleware:
    """Answer only requests whose Host is one of `allowed_hosts` (any port), REST and /mcp alike.

    A page on another site whose name resolves to this machine (DNS rebinding) sends its own
    name as the Host, and gets 400 instead of customers' data. "*" allows every Host.
    Starlette's middleware of this name answers in plain text; this one in the API's
    {"detail"} shape.
    """

    def __init__(self, app: ASGIApp, *, allowed_hosts: list[str]) -> None:
        self.app = app
        self.allow_any = "*" in allowed_hosts
        self.allowed_hosts = frozenset(allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.allow_any or scope["path"] in HOST_EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        host = dict(scope["headers"]).get(b"host", b"")
        if host_name(host) not in self.allowed_hosts:
            shown = host.decode("latin-1")[:64]
            response = JSONResponse({"detail": HOST_NOT_ALLOWED.format(host=shown)}, 400)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)
