"""The response cache: a GET's serialized answer, kept in memory and served again while its data
is unchanged.

Each answer is stored with the data version it was read at: a customer's (customer_versions) or
the customer list's (customer_list_version). Database triggers give a version a new random value
with every write to the data behind it (migration 0002). Before a stored answer is served, the
current version is read, one indexed lookup, and must match. Any write by any process (another
worker, MCP, seed.py, reset_database.py, a SQL shell) therefore shows on the very next read.

Routes fill the cache (ResponseCache.read); ResponseCacheMiddleware serves from it, in front of
routing, so a repeated GET skips FastAPI's parameter parsing too. Only a request with the same
path and query string as one that succeeded is served from memory: its parameters are valid, as
they were then.
"""

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Concatenate, ParamSpec

from cachetools import LRUCache
from fastapi import Request, Response
from pydantic import TypeAdapter
from sqlalchemy import text
from sqlmodel import Session
from starlette.types import ASGIApp, Receive, Scope, Send

from bank.pagination import Page
from db import Database


@dataclass(frozen=True)
class Version:
    """The query reading one data version; its SQL takes :named parameters on both drivers."""

    sql: str
    params: dict[str, Any]


def customer_version(customer_oid: str) -> Version:
    """Everything one customer's portfolio, items and lists show; no row when no such customer."""
    sql = "SELECT version FROM customer_versions WHERE customer_oid = :customer_oid"
    return Version(sql, {"customer_oid": customer_oid})


CUSTOMER_LIST_VERSION = Version("SELECT version FROM customer_list_version", {})


@dataclass(frozen=True)
class Answer:
    """A serialized answer, and the next page's query string when it is one page of a list."""

    body: bytes
    next_page_query: str | None = None


@dataclass(frozen=True)
class Stored:
    answer: Answer
    version: Version
    version_read: int


@lru_cache
def _adapter(shape: Any) -> TypeAdapter[Any]:
    return TypeAdapter(shape)


def serialize(request: Request, shape: Any, result: Any) -> Answer:
    """The bytes FastAPI itself sends for `result` as `shape` (pydantic-core's dump_json)."""
    if not isinstance(result, Page):
        return Answer(_adapter(shape).dump_json(result, by_alias=True))
    next_page_query = None
    if result.next_cursor is not None:
        next_page_query = request.url.include_query_params(cursor=result.next_cursor).query
    return Answer(_adapter(shape).dump_json(result.items, by_alias=True), next_page_query)


def json_response(request: Request, answer: Answer) -> Response:
    """The answer's bytes as the response, with the next page's URL in the Link header."""
    headers = None
    if answer.next_page_query is not None:
        # Host and scheme as this request gives them; the query string was made once.
        headers = {"Link": f'<{request.url.replace(query=answer.next_page_query)}>; rel="next"'}
    return Response(answer.body, headers=headers, media_type="application/json")


def _key(scope: Scope) -> tuple[str, bytes]:
    return scope["path"], scope["query_string"]


P = ParamSpec("P")


class ResponseCache:
    """The cached answers of one server process, least recently used dropped beyond
    `max_bytes`."""

    def __init__(self, database: Database, *, max_bytes: int) -> None:
        self.database = database
        self._store: LRUCache[tuple[str, bytes], Stored] | None = None
        if max_bytes > 0:
            self._store = LRUCache(max_bytes, getsizeof=lambda stored: len(stored.answer.body))

    async def read(
        self,
        request: Request,
        version: Version,
        shape: Any,
        operation: Callable[Concatenate[Session, P], Any],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> Response:
        """Answer the GET `request` with `operation(session, ...)` serialized as `shape`, and
        keep the answer with `version` as it was when the data was read."""

        def read_fresh(session: Session) -> tuple[int | None, Answer]:
            # The version first, in the same transaction: the data read after it is never
            # older, so an answer is never stored under a version newer than its data.
            version_read = session.execute(text(version.sql), version.params).scalar()
            return version_read, serialize(request, shape, operation(session, *args, **kwargs))

        version_read, answer = await self.database.read(read_fresh)
        store = self._store
        if store is not None and version_read is not None and len(answer.body) <= store.maxsize:
            store[_key(request.scope)] = Stored(answer, version, int(version_read))
        return json_response(request, answer)

    def clear(self) -> None:
        """Forget every cached answer (each would be refused anyway once its data changed)."""
        if self._store is not None:
            self._store.clear()

    async def stored(self, scope: Scope) -> Answer | None:
        """The stored answer to this GET, if its data has not changed since it was read."""
        stored = self._store.get(_key(scope)) if self._store is not None else None
        if stored is None:
            return None
        current = await self.database.read_version(stored.version.sql, stored.version.params)
        return stored.answer if current == stored.version_read else None


class ResponseCacheMiddleware:
    """Answer a GET from the app's response cache when a current answer is kept (see above)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            cache: ResponseCache | None = getattr(scope["app"].state, "response_cache", None)
            answer = await cache.stored(scope) if cache is not None else None
            if answer is not None:
                await json_response(Request(scope), answer)(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def cached_read(
    request: Request,
    version: Version,
    shape: Any,
    operation: Callable[Concatenate[Session, P], Any],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> Response:
    """The response to the GET `request`, read and kept by this server's response cache."""
    cache: ResponseCache = request.app.state.response_cache
    return await cache.read(request, version, shape, operation, *args, **kwargs)
