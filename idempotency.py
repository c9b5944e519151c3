"""Idempotency-Key on POST, PUT, PATCH and DELETE, with Stripe's semantics (bank/idempotency.py).

The first request under a key runs, and its answer is kept before a byte of it is sent: a
retry with the same key and the same request (method, path, query and body) within 24 hours
gets that status, those headers and that body again, with `Idempotent-Replayed: true`. As with
Stripe, an answer given before the operation began (invalid input, a busy bank) frees the key. The
same key with another request is 422; while the first still runs, 409. Keys belong to the API
key sent (or the client's address without one). /mcp is left to its tools' own
`idempotency_key` argument: every MCP message is a POST.
"""

import logging
from collections.abc import Awaitable, Callable

import anyio
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bank.clock import utcnow
from bank.idempotency import NOT_KEPT, KeptAnswer, check_key, claim, fingerprint, keep, release
from constants import WRITE_METHODS
from db import Database
from errors import BankError, InvalidInput
from middleware import MCP_PATH, caller_of

logger = logging.getLogger("bank")

IDEMPOTENCY_KEY_HEADER = b"idempotency-key"
REPLAYED_HEADER = (b"idempotent-replayed", b"true")


class IdempotencyMiddleware:
    """Answer a write sent again under its Idempotency-Key from the first one's kept answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in WRITE_METHODS
            or scope["path"] == MCP_PATH
        ):
            await self.app(scope, receive, send)
            return
        given = next((v for n, v in scope["headers"] if n == IDEMPOTENCY_KEY_HEADER), None)
        if given is None:
            await self.app(scope, receive, send)
            return
        try:
            key = check_key(given.decode("latin-1"))
        except InvalidInput as error:
            await error.response()(scope, receive, send)
            return
        await self._once(key, scope, receive, send)

    async def _once(self, key: str, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        request = fingerprint(
            scope["method"].encode(), scope["path"].encode(), scope["query_string"], body
        )
        owner = caller_of(scope["headers"], scope.get("client"))
        database: Database = scope["app"].state.database
        try:
            answer, replayed = await once(
                database,
                owner=owner,
                key=key,
                request=request,
                run=lambda: self._run(scope, body, receive),
            )
        except BankError as error:  # reused (422), in flight (409), or busy (503)
            await error.response()(scope, receive, send)
            return
        await replay(answer, send, replayed=replayed)

    async def _run(self, scope: Scope, body: bytes, receive: Receive) -> KeptAnswer:
        """Run the request, its body given again; its answer, whole."""
        started: Message = {}
        chunks: list[bytes] = []
        sent_body = False

        async def receive_body() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive_body, capture)
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in started["headers"]]
        return KeptAnswer(started["status"], headers, b"".join(chunks))


async def once(
    database: Database,
    *,
    owner: str,
    key: str,
    request: str,
    run: Callable[[], Awaitable[KeptAnswer]],
) -> tuple[KeptAnswer, bool]:
    """The answer under the key, and whether it is replayed: the first request's, kept, or else
    `run`'s, which is then kept (or the key freed: NOT_KEPT). What claiming the key raises
    (IdempotencyKeyReused, IdempotencyKeyInFlight, WriteQueueFull) is the caller's to answer.
    REST (IdempotencyMiddleware) and the MCP write tools both answer through it."""
    kept = await database.write(claim, scope=owner, key=key, request=request, now=utcnow())
    if kept is not None:
        return kept, True
    try:
        answer = await run()
    except BaseException:
        with anyio.CancelScope(shield=True):  # freed even when the request is cancelled
            await database.write_after(release, scope=owner, key=key)
        raise
    await settle(database, owner, key, answer)
    return answer, False


async def settle(database: Database, owner: str, key: str, answer: KeptAnswer) -> None:
    """Keep the answer of a request that ran (or free the key of one that did not start). It
    waits its turn however long that takes: the request's own write is done, and a retry must
    learn its answer. Should even that fail, the answer is still given (its key then stays
    in flight until ABANDONED_AFTER)."""
    try:
        with anyio.CancelScope(shield=True):
            if answer.status in NOT_KEPT:
                await database.write_after(release, scope=owner, key=key)
            else:
                await database.write_after(keep, scope=owner, key=key, answer=answer)
    except Exception:
        logger.exception("Could not keep the answer under an Idempotency-Key")


async def read_body(receive: Receive) -> bytes:
    """The whole request body (BodyLimitMiddleware, outside, limits its size)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()  # the request log tells of the hang-up
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body", False):
            return b"".join(chunks)


async def replay(answer: KeptAnswer, send: Send, *, replayed: bool = True) -> None:
    headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in answer.headers]
    if replayed:
        headers.append(REPLAYED_HEADER)
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": answer.body})
