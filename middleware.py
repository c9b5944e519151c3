"""Pure ASGI middleware: request logging and ids, body limits, and a 500 that leaks nothing."""

import json
import logging
import re
import time
import uuid

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from errors import BodyTooLarge

logger = logging.getLogger("bank")

INTERNAL_ERROR = "Internal server error"


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
        except Exception:
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


class RequestLogMiddleware:
    """One structured (logfmt) log line per request, and an X-Request-ID on every response.

    The request's own X-Request-ID is kept when it is 1-128 letters, digits or `._:-`; otherwise
    one is made. It goes into scope["state"]["request_id"], so error logs can name it too.
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
        scope.setdefault("state", {})["request_id"] = request_id.decode()
        status = 500  # unless a response starts

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (REQUEST_ID_HEADER, request_id)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            if request_logger.isEnabledFor(logging.INFO):
                request_logger.info(
                    "method=%s path=%s status=%d duration_ms=%.2f request_id=%s",
                    scope["method"],
                    json.dumps(scope["path"]),
                    status,
                    (time.perf_counter() - started) * 1000,
                    request_id.decode(),
                )
