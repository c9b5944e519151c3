"""The response cache: a GET's answer about one customer, kept in memory and served again
while that customer's data is unchanged.

1. Each answer is stored with its customer's data version (customer_versions), read in the same
   transaction as the answer's data.
2. Database triggers give that version a new random value with every write to the customer's
   rows (migration 0002), whoever makes it: another worker, MCP, a script, a SQL shell.
3. Before a stored answer is served, the current version is read (one primary-key lookup) and
   must match; only the same path and query string as an answer that succeeded is served.
4. The store drops the least recently used answers beyond RESPONSE_CACHE_MB, counting each
   entry's bytes: body, key and a measured fixed overhead per entry.
"""

from operator import itemgetter
from typing import Any, NamedTuple

import orjson
from cachetools import LRUCache
from fastapi import Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bank.pagination import Page
from db import Database, Read
from errors import BankError

VERSION_SQL = "SELECT version FROM customer_versions WHERE customer_oid = :customer_oid"
# What an entry costs beyond its bytes: the key tuple, the entry objects and the store's own
# bookkeeping (tests/test_response_cache.py measures it with tracemalloc).
ENTRY_OVERHEAD = 1024


class Answer(NamedTuple):
    """A serialized answer, and the next page's query string when it is one page of a list."""

    body: bytes
    next_page_query: str | None = None


# A kept answer: (body, next_page_query, customer_oid, version, size), size being the bytes
# held, ENTRY_OVERHEAD included. A plain tuple of plain values, which the garbage collector
# stops tracking: its full passes need not walk the whole store (a subclass, a NamedTuple or
# a dataclass, stays tracked, and made each pass 20-45 ms with the store full).
Stored = tuple[bytes, str | None, str, int, int]
SIZE = 4


def serialize(request: Request, result: Any) -> Answer:
    """The JSON bytes of a read's result: a document, or one page of a list."""
    if not isinstance(result, Page):
        return Answer(orjson.dumps(result))
    next_page_query = None
    if result.next_cursor is not None:
        next_page_query = request.url.include_query_params(cursor=result.next_cursor).query
    return Answer(orjson.dumps(result.items), next_page_query)


def json_response(request: Request, answer: Answer) -> Response:
    """The answer's bytes as the response, with the next page's URL in the Link header."""
    headers = None
    if answer.next_page_query is not None:
        # Host and scheme as this request gives them; the query string was made once.
        headers = {"Link": f'<{request.url.replace(query=answer.next_page_query)}>; rel="next"'}
    return Response(answer.body, headers=headers, media_type="application/json")


def _key(scope: Scope) -> tuple[str, bytes]:
    return scope["path"], scope["query_string"]


class ResponseCache:
    """The cached answers of one server process."""

    def __init__(self, database: Database, *, max_bytes: int) -> None:
        self.database = database
        self._store: LRUCache[tuple[str, bytes], Stored] | None = None
        if max_bytes > 0:
            self._store = LRUCache(max_bytes, getsizeof=itemgetter(SIZE))

    async def read(self, request: Request, customer_oid: str, read: Read[Any]) -> Response:
        """Answer the GET `request` about `customer_oid` with `read`'s result, and keep the
        answer with the customer's version as it was when the data was read."""
        # The version in the same transaction as the data (one snapshot), so an answer is never
        # stored under a version newer than its data.
        with_version = read.versioned(VERSION_SQL, {"customer_oid": customer_oid})
        version, result = await self.database.read_rows(with_version)
        answer = serialize(request, result)
        if version is not None:
            self.keep(request.scope, answer, customer_oid, int(version))
        return json_response(request, answer)

    def keep(self, scope: Scope, answer: Answer, customer_oid: str, version: int) -> None:
        """Store the answer to this GET, read at `version` of the customer's data."""
        store = self._store
        if store is None:
            return
        path, query = key = _key(scope)
        size = ENTRY_OVERHEAD + len(answer.body) + len(path) + len(query) + len(customer_oid)
        size += len(answer.next_page_query or "")
        if size <= store.maxsize:
            store[key] = (answer.body, answer.next_page_query, customer_oid, version, size)

    def clear(self) -> None:
        """Forget every cached answer (each would be refused anyway once its data changed)."""
        if self._store is not None:
            self._store.clear()

    @property
    def bytes_held(self) -> int:
        """The bytes the stored answers hold, as the store counts them."""
        return int(self._store.currsize) if self._store is not None else 0

    async def stored(self, scope: Scope) -> Answer | None:
        """The stored answer to this GET, if its customer's data has not changed since."""
        stored = self._store.get(_key(scope)) if self._store is not None else None
        if stored is None:
            return None
        body, next_page_query, customer_oid, version, _ = stored
        current = await self.database.read_version(VERSION_SQL, {"customer_oid": customer_oid})
        return Answer(body, next_page_query) if current == version else None


class ResponseCacheMiddleware:
    """Answer a GET from the app's response cache when a current answer is kept (see above)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            cache: ResponseCache | None = getattr(scope["app"].state, "response_cache", None)
            try:
                answer = await cache.stored(scope) if cache is not None else None
            except BankError as error:  # no connection free for the version lookup: 503
                await error.response()(scope, receive, send)
                return
            if answer is not None:
                await json_response(Request(scope), answer)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def cached_read(request: Request, customer_oid: str, read: Read[Any]) -> Response:
    """The response to the GET `request` about one customer, read and kept by this server's
    response cache."""
    cache: ResponseCache = request.app.state.response_cache
    return await cache.read(request, customer_oid, read)
