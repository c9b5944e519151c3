"""Faults on HTTP requests: the Sandbox-Fault and Prefer headers, and the server's fault profile
(bank/faults.py), struck before the operation runs, so that nothing changes; except ack-lost,
which lets a write run and then loses its answer.

Breaking a connection (reset, truncate) takes the bank's own server (server.py): its ABORT
extension resets the connection. Without it (an app called in-process, another ASGI server) the
fault is answered 502, saying so.
"""

import asyncio
import logging

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bank.faults import FaultInjector, Strike, requested_strike
from constants import (
    ACK_LOST_NEEDS_A_WRITE,
    FAULT_ACK_LOST,
    FAULT_NEEDS_OUR_SERVER,
    FAULT_STATUS,
    WRITE_METHODS,
)
from errors import InvalidInput
from middleware import CONNECTION_BROKEN
from server import ABORT

logger = logging.getLogger("bank.faults")


class FaultMiddleware:
    """Strike a request with the fault its headers ask for, or that the profile draws for it."""

    def __init__(self, app: ASGIApp, *, injector: FaultInjector) -> None:
        self.app = app
        self.injector = injector

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            strike = requested_strike(scope["headers"])
        except InvalidInput as error:
            await error.response()(scope, receive, send)
            return
        if strike is None and self.injector.active:
            strike = self.injector.for_request(scope["method"], scope["path"])
        if strike is None:
            await self.app(scope, receive, send)
            return
        if strike.fault.ack_lost and scope["method"] not in WRITE_METHODS:
            refusal = JSONResponse({"detail": ACK_LOST_NEEDS_A_WRITE}, status_code=400)
            await refusal(scope, receive, send)
            return
        logger.info(
            "Injected %s on %s %s (request_id=%s)",
            strike.fault.model_dump(exclude_defaults=True),
            scope["method"],
            scope["path"],
            scope.get("state", {}).get("request_id"),
        )
        await strike_request(strike, self.app, scope, receive, send)


async def strike_request(
    strike: Strike, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    fault = strike.fault
    if fault.latency:
        await asyncio.sleep(fault.latency / 1000)
    if fault.status is not None:
        headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
        response = JSONResponse({"detail": strike.status_detail()}, fault.status, headers=headers)
        await response(scope, receive, send)
    elif (fault.reset or fault.truncate) and ABORT not in (scope.get("extensions") or {}):
        # Served otherwise than by server.py (in process, another server): the connection
        # cannot be broken, and the fault is told instead.
        detail = FAULT_NEEDS_OUR_SERVER.format(kind=fault.kind)
        await JSONResponse({"detail": detail}, status_code=502)(scope, receive, send)
    elif fault.reset:
        await abort(scope, send)
    elif fault.truncate:
        await send_half(strike, app, scope, receive, send)
    elif fault.ack_lost:
        await answer_lost(strike, app, scope, receive, send)
    else:  # latency alone: then the real answer
        await app(scope, receive, send)


async def abort(scope: Scope, send: Send, *, reset: bool = True) -> None:
    """End the connection: with a reset, or closed after what was sent (see server.py)."""
    scope.setdefault("state", {})[CONNECTION_BROKEN] = True  # for the request log
    await send({"type": ABORT, "reset": reset})


async def send_half(
    strike: Strike, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Half of the answer, then the connection's end: a read's real answer; a write does not
    run (nothing changes), and half of a 503 is sent."""
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    if scope["method"] in WRITE_METHODS:
        # The body first, whole: a connection closed on bytes still arriving is reset, and the
        # reset can reach the client before the half answer does.
        while (await receive()).get("more_body", False):
            pass
        detail = FAULT_STATUS.format(status=503, phrase="Service Unavailable", by=strike.by)
        await JSONResponse({"detail": detail}, status_code=503)(scope, receive, keep)
    else:
        await app(scope, receive, keep)
    start = next(message for message in messages if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in messages if message is not start)
    await send(start)
    await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    await abort(scope, send, reset=False)


async def answer_lost(
    strike: Strike, app: ASGIApp, scope: Scope, receive: Receive, send: Send
) -> None:
    """Run the write to its end, drop its answer, and answer 502."""

    async def drop(_message: Message) -> None:
        pass

    await app(scope, receive, drop)
    response = JSONResponse({"detail": FAULT_ACK_LOST.format(by=strike.by)}, status_code=502)
    await response(scope, receive, send)
