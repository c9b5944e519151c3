"""The database engine, its SQLite pragmas, migrations, and the typed read/write runner that
routes and tools call the domain through."""

import asyncio
import contextlib
import hashlib
import logging
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, Concatenate, Generic, ParamSpec, TypeVar, cast

import psycopg
from alembic import command
from alembic.config import Config
from fastapi import Depends, Request
from psycopg import AsyncClientCursor
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, SQLModel, create_engine, select
from starlette.concurrency import run_in_threadpool

import models  # noqa: F401  (registers every table on SQLModel.metadata)
from errors import ReadQueueFull, WriteQueueFull
from settings import PROJECT_DIR, Settings

logger = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")
# Execution option marking a session's transactions as writes (see _configure_sqlite).
WRITE_TRANSACTION = "bank_write_transaction"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_db_engine(settings: Settings) -> Engine:
    """Build the engine for DATABASE_URL, with SQLite made transactional and concurrent."""
    url = settings.DATABASE_URL
    sqlite = is_sqlite(url)
    engine_args: dict[str, Any] = {
        "pool_size": settings.DB_POOL_SIZE,
        "max_overflow": settings.DB_MAX_OVERFLOW,
    }
    if sqlite:
        engine_args["connect_args"] = {"check_same_thread": False}
    else:
        engine_args["connect_args"] = {"connect_timeout": 10}
        # A connection the server dropped (restart, idle timeout) is replaced, not handed out.
        # A SQLite file never drops one, so there the ping would be a wasted query per request.
        engine_args["pool_pre_ping"] = True
    engine = create_engine(url, **engine_args)
    if sqlite:
        _configure_sqlite(
            engine,
            busy_timeout_ms=settings.SQLITE_BUSY_TIMEOUT_MS,
            mmap_bytes=settings.SQLITE_MMAP_MB * 2**20,
        )
    else:
        # A bulk insert (seed.py) as multi-row INSERTs of up to 1,000 rows, not psycopg's one
        # statement per row: each statement fires the statement-level version triggers
        # (migration 0002) once, so per row they made a 100,000-customer load take hours.
        engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


SQLITE_PAGE_SIZE = 8192


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int, mmap_bytes: int) -> None:
    # SQLAlchemy's recipe for pysqlite: take transaction control away from the driver so that
    # every Session transaction is a real SQLite transaction. Reads then see one snapshot
    # (a portfolio is never half of a concurrent delete).
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # A new database's pages are 8 KiB, not SQLite's 4 (an existing one keeps its own): an
        # advance of the clock puts new entries into every customer's index pages, and with
        # twice the room in each it writes far fewer of them (30 days for 100,000 customers,
        # README: 75 s -> 59 s). Only a database without tables takes it, so it comes first.
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode=WAL")
        # Without this, ON DELETE CASCADE silently does nothing.
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Statement journals in memory: every insert into a table with triggers (migration
        # 0002) writes one, and on disk they slowed bulk seeding by half.
        cursor.execute("PRAGMA temp_store=MEMORY")
        # A first read of a random customer finds few of its pages in SQLite's own cache: with
        # a memory map it reads them where the page cache holds them, instead of copying each
        # in with a system call (random portfolios: statements 190 -> 135 µs).
        cursor.execute(f"PRAGMA mmap_size={int(mmap_bytes)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A write transaction takes the write lock up front. One that read first and wrote later
        # could find that another writer committed meanwhile and fail at once ("database is
        # locked") instead of waiting its turn under the busy timeout.
        if connection.get_execution_options().get(WRITE_TRANSACTION, False):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


Row = Sequence[Any]
Params = Mapping[str, Any]

# PostgreSQL writes one process runs at once (see Database.__init__).
POSTGRESQL_WRITERS_AT_ONCE = 2

# Any fixed number: every process that sets up this database takes the same advisory lock.
SETUP_LOCK_KEY = 4_041_990_311


def alembic_config() -> Config:
    return Config(str(PROJECT_DIR / "alembic.ini"))


def write_engine(engine: Engine) -> Engine:
    """The engine whose transactions are writes (on SQLite: BEGIN IMMEDIATE, see above)."""
    return engine.execution_options(**{WRITE_TRANSACTION: True})


def read_engine(engine: Engine) -> Engine:
    """The engine for reads: every statement of one read sees the same snapshot.

    A portfolio takes several queries; a customer deleted between two of them must not come
    back half there. SQLite's read transactions are snapshots already (WAL); PostgreSQL's
    default, READ COMMITTED, gives each statement its own, so reads ask for REPEATABLE READ.
    """
    if engine.dialect.name == "postgresql":
        return engine.execution_options(isolation_level="REPEATABLE READ")
    return engine


def take_setup_lock(connection: Connection) -> None:
    """Hold the setup lock until the transaction ends, so processes starting together migrate
    and seed one after the other. SQLite needs nothing more: a write transaction (BEGIN
    IMMEDIATE) already holds the database's only write lock."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SETUP_LOCK_KEY})


def migrate(engine: Engine) -> None:
    """Apply pending migrations, one process at a time: workers starting together migrate once."""
    with write_engine(engine).begin() as connection:
        take_setup_lock(connection)
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# SQLite's own default: a commit past this many pages in the WAL copies them into the file.
WAL_AUTOCHECKPOINT_PAGES = 1000


@contextlib.contextmanager
def checkpoint_afterwards(session: Session) -> Iterator[None]:
    """SQLite, around a transaction that writes a great deal and its commit: the commit does
    not also copy the WAL into the database file (the automatic checkpoint: 2.6 GB and 8 s
    after an advance of the clock at 100,000 customers); a thread of its own does that once
    the block ends, beside the requests, which neither wait for it nor, while it runs, do it
    themselves. SQLite's documentation advises this for large transactions. PostgreSQL: as is."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = cast(sqlite3.Connection, connection.connection.driver_connection)
    driver.execute("PRAGMA wal_autocheckpoint=0")
    try:
        yield
    finally:
        driver.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    path = connection.engine.url.database
    if path and path != ":memory:":
        threading.Thread(target=_checkpoint, args=(path,), name="checkpoint", daemon=True).start()


def _checkpoint(path: str) -> None:
    started = time.monotonic()
    try:
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as connection:
            busy, pages, copied = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        logger.warning("The checkpoint after a large write failed", exc_info=True)
        return
    logger.info(
        "Checkpoint after a large write: %d of %d pages in %.1f s%s",
        copied, pages, time.monotonic() - started, " (another was running)" if busy else "",
    )  # fmt: skip


def reset_schema(engine: Engine) -> None:
    """Drop every table, Alembic's own included, and migrate the empty database to head."""
    with write_engine(engine).begin() as connection:
        SQLModel.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    migrate(engine)


def connection_of(session_or_connection: Session | Connection) -> Connection:
    """The connection a domain function writes on: a session's, or the one it was given (the
    bulk writers of seed.py and the clock work on a Connection)."""
    if isinstance(session_or_connection, Session):
        return session_or_connection.connection()
    return session_or_connection


class WriteSession(Session):
    """A session whose transaction is a write: on SQLite it holds the write lock from its first
    statement (BEGIN IMMEDIATE). Domain functions that change data take one, so mypy refuses
    to run them through Database.read."""


class Database:
    """The engine, and the one way routes and tools run domain functions against it."""

    def __init__(
        self, engine: Engine, *, write_queue_timeout: float = 30, read_connections: int = 20
    ) -> None:
        self.engine = engine
        self._write_engine = write_engine(engine)
        self._read_engine = read_engine(engine)
        # SQLite: one connection kept for the reads that run on the event loop's thread
        # (read_rows, read_version); the lock only matters where several loops share the app.
        sqlite = engine.dialect.name == "sqlite"
        self._inline_connection = engine.raw_connection() if sqlite else None
        self._inline_lock = threading.Lock()
        # PostgreSQL: lean reads (read_rows, read_version) on the event loop that serves the
        # app, over asynchronous connections of their own: no worker thread, no session, one
        # round trip. The pool belongs to the loop `open` ran on, and is closed on it; reads
        # from any other loop (a test's own) take a worker thread and a session instead.
        self._read_pool: AsyncConnectionPool | None = None
        self._read_pool_loop: asyncio.AbstractEventLoop | None = None
        self._read_connections = read_connections
        # The statements each read connection has prepared (Prepared), by connection.
        self._prepared_on: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        self._read_queue_timeout = write_queue_timeout
        # Writes take turns here, on the event loop (FIFO, no worker thread held while waiting).
        # SQLite has one writer at a time: there the queue replaces SQLite's busy timeout, which
        # fails a writer that waits longer, and a write that waits past the timeout is 503.
        # PostgreSQL takes writes side by side, but in one process they are mostly Python work
        # under one GIL: a few at a time finish as fast, and leave the reads their share of it
        # (a storm of 16 large imports starved reads to 3 s otherwise). One queue per event
        # loop: a process serves from one.
        self._write_queues: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, asyncio.Semaphore
        ] = weakref.WeakKeyDictionary()
        self._writers_at_once = 1 if sqlite else POSTGRESQL_WRITERS_AT_ONCE
        self._write_queue_timeout = write_queue_timeout if sqlite else None

    async def open(self) -> None:
        """Open the pool of read connections (PostgreSQL) on the running event loop, the one
        that serves the app; `aclose` closes it."""
        if self._inline_connection is not None or self._read_pool is not None:
            return
        url = self.engine.url.set(drivername="postgresql")
        self._read_pool = AsyncConnectionPool(
            url.render_as_string(hide_password=False),
            min_size=1,
            max_size=self._read_connections,
            # Each read says where its transaction begins and ends (_postgresql_rows).
            kwargs={
                "autocommit": True,
                "connect_timeout": 10,
                "application_name": READ_CONNECTION_NAME,  # as pg_stat_activity shows them
                # Reads prepare their own statements (Prepared); the text of each read's query
                # is new, and psycopg's own bookkeeping of texts to prepare would be spent.
                "prepare_threshold": None,
            },
            timeout=self._read_queue_timeout,
            open=False,
            name="reads",
        )
        self._read_pool_loop = asyncio.get_running_loop()
        await self._read_pool.open()

    async def aclose(self) -> None:
        """Close the pool of read connections, then the rest. Reads still running at that
        point (a graceful shutdown that timed out) take a session on a thread."""
        pool, self._read_pool, self._read_pool_loop = self._read_pool, None, None
        if pool is not None:
            await pool.close()
        self.close()

    def _pool_here(self) -> AsyncConnectionPool | None:
        """The pool of read connections, when the running event loop is the one it serves."""
        if self._read_pool_loop is asyncio.get_running_loop():
            return self._read_pool
        return None

    def close(self) -> None:
        if self._inline_connection is not None:
            self._inline_connection.close()
        self.engine.dispose()

    async def read(
        self,
        operation: Callable[Concatenate[Session, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`operation(session, ...)` in a read transaction of its own.

        On SQLite it runs on the event loop itself. A read there is this process's own work on a
        local file, never a wait (in WAL mode readers do not wait for writers): a hop to a worker
        thread costs more than most reads, and threads taking turns on the GIL stretch every
        request's tail latency (README, Benchmark). Over a network (PostgreSQL) it runs on a
        worker thread.
        """
        if self._inline_connection is not None:
            return _in_session(Session, self._read_engine, operation, *args, **kwargs)
        return await run_in_threadpool(
            _in_session, Session, self._read_engine, operation, *args, **kwargs
        )

    async def read_rows(self, read: "Read[T]") -> T:
        """The result of `read`: its statements run in one read transaction of their own (one
        snapshot), on the driver's cursor, then its rows made into the result.

        On SQLite it runs on the event loop (see `read`), on the connection kept for it: no
        session, no pool checkout, the transaction just BEGIN and its end. On PostgreSQL the
        transaction and every statement go out as one query, one round trip, awaited on the
        event loop (`Prepared`).
        """
        connection = self._inline_connection
        if connection is None:
            if self._pool_here() is None:
                return await run_in_threadpool(
                    _in_session, Session, self._read_engine, _read_in_session, read
                )
            return read.finish(await self._postgresql_rows(read.statements))
        with self._inline_lock:
            cursor = connection.cursor()
            try:
                cursor.execute("BEGIN")  # one snapshot for every statement (WAL)
                try:
                    results = [cursor.execute(sql, p).fetchall() for sql, p in read.statements]
                finally:
                    # A read: nothing to keep. SQLite may have ended the transaction itself
                    # (an I/O error); then the error that did it is the one to raise.
                    if cast(sqlite3.Connection, connection.driver_connection).in_transaction:
                        cursor.execute("ROLLBACK")
            finally:
                cursor.close()
        return read.finish(results)

    async def _postgresql_rows(self, statements: Sequence[tuple[str, Params]]) -> list[list[Row]]:
        """Every statement's rows, read in one REPEATABLE READ transaction sent as one query,
        one round trip (see `Prepared`). A read changes nothing, so it is made again where
        trying again helps:

        - a connection the server dropped (restart, idle timeout) fails its read and is
          discarded; the pool's idle connections are checked, and the read goes to another;
        - a connection whose prepared statements are gone or stale (DEALLOCATE, a table
          altered under them, a batch of PREPAREs cut short) forgets them all, and prepares
          them again.
        """
        pool = self._pool_here()
        assert pool is not None, "read_rows and read_version look first"
        prepared = [Prepared.of(sql) for sql, _ in statements]
        for attempt in range(READ_ATTEMPTS):
            last = attempt == READ_ATTEMPTS - 1
            connection = None
            try:
                async with pool.connection() as connection:
                    try:
                        return await self._prepared_rows(connection, prepared, statements)
                    except psycopg.Error:
                        if not connection.broken:
                            await self._forget_prepared(connection)
                        raise
            except PoolTimeout:
                raise ReadQueueFull() from None
            except STALE_PREPARED:
                if last:
                    raise
                logger.info("A read connection's prepared statements were stale; preparing again")
            except psycopg.OperationalError:
                if last or connection is None or not connection.broken:
                    raise
                logger.info("A read connection was dropped by the server; reading again")
                # A restart drops every connection at once: the idle ones go too, now.
                await pool.check()
        raise AssertionError("unreachable")

    async def _prepared_rows(
        self,
        connection: psycopg.AsyncConnection[Any],
        prepared: list["Prepared"],
        statements: Sequence[tuple[str, Params]],
    ) -> list[list[Row]]:
        known = self._prepared_on.setdefault(connection, set())
        missing = {p.name: p for p in prepared if p.name not in known}
        if missing:  # once per statement and connection
            await connection.execute(";\n".join(p.prepare for p in missing.values()))
            known.update(missing)
        binder = AsyncClientCursor(connection)
        executes = [
            p.execute(binder, params) for p, (_, params) in zip(prepared, statements, strict=True)
        ]
        if len(executes) > 1:  # one statement is one snapshot already
            executes = [BEGIN_READ, *executes, "COMMIT"]
        cursor = connection.cursor()
        await cursor.execute(";\n".join(executes))
        results = []
        for number in range(len(statements)):
            if number or len(executes) > 1:
                cursor.nextset()  # past BEGIN, then past each statement's rows
            results.append(cast(list[Row], await cursor.fetchall()))
        return results

    async def _forget_prepared(self, connection: psycopg.AsyncConnection[Any]) -> None:
        """After a failed read: drop every statement the connection prepared, on both sides. A
        batch of PREPAREs that failed part way kept the ones before the failure."""
        self._prepared_on.pop(connection, None)
        try:
            if connection.info.transaction_status != TransactionStatus.IDLE:
                await connection.execute("ROLLBACK")
            await connection.execute("DEALLOCATE ALL")
        except psycopg.Error:
            # Then the pool finds the connection broken, or not idle, and replaces it or
            # rolls it back; any statement left is prepared again after DuplicatePrepared.
            logger.info("A read connection could not drop its prepared statements")

    async def write(
        self,
        operation: Callable[Concatenate[WriteSession, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """`operation(session, ...)` on a worker thread, in a write transaction of its own.

        It first waits its turn (see __init__). On SQLite, WriteQueueFull (503) when that takes
        longer than the write queue timeout, and then nothing has been changed.
        """
        async with self._turn_to_write(self._write_queue_timeout):
            return await run_in_threadpool(
                _in_session, WriteSession, self._write_engine, operation, *args, **kwargs
            )

    async def write_after(
        self,
        operation: Callable[Concatenate[WriteSession, P], T],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """As `write`, but waiting its turn however long that takes: for the bookkeeping that
        follows a write already made (keeping an idempotent request's answer), which a busy
        queue must not lose."""
        async with self._turn_to_write(None):
            return await run_in_threadpool(
                _in_session, WriteSession, self._write_engine, operation, *args, **kwargs
            )

    @contextlib.asynccontextmanager
    async def _turn_to_write(self, timeout: float | None) -> AsyncIterator[None]:
        """Wait for this write's turn in the queue (at most `timeout` seconds), and hold it."""
        loop = asyncio.get_running_loop()
        queue = self._write_queues.get(loop)
        if queue is None:
            queue = self._write_queues[loop] = asyncio.Semaphore(self._writers_at_once)
        try:
            await asyncio.wait_for(queue.acquire(), timeout)
        except TimeoutError:
            raise WriteQueueFull() from None
        try:
            yield
        finally:
            queue.release()

    async def read_version(self, sql: str, params: dict[str, Any]) -> int | None:
        """The first column of the first row of one small query (a data version, response_cache.py).

        On SQLite it runs at once on the event loop: an indexed lookup in a local file takes
        microseconds, less than the hop to a worker thread, and in WAL mode a read never waits
        for a writer. On PostgreSQL it is awaited over the read pool, as `read_rows` is.
        """
        if self._inline_connection is not None:
            with self._inline_lock:
                cursor = self._inline_connection.cursor()
                cursor.execute(sql, params)
                row = cursor.fetchone()
            return None if row is None else int(row[0])

        if self._pool_here() is not None:
            (rows,) = await self._postgresql_rows([(sql, params)])
            return None if not rows else int(rows[0][0])

        def read() -> int | None:
            connection = self.engine.raw_connection()
            try:
                cursor = connection.cursor()
                cursor.execute(pyformat(sql), params)
                row = cursor.fetchone()
                return None if row is None else int(row[0])
            finally:
                connection.close()

        return await run_in_threadpool(read)

    async def is_reachable(self) -> bool:
        return await run_in_threadpool(database_is_reachable, self.engine)


# A :name parameter (sqlite3's style), not a cast (x::type).
PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


@cache
def pyformat(sql: str) -> str:
    """SQL with :name parameters in psycopg's %(name)s style."""
    return PARAMETER.sub(r"%(\1)s", sql)


@dataclass(frozen=True)
class Prepared:
    """A read's statement as a prepared statement of PostgreSQL's SQL (PREPARE, EXECUTE).

    A read sends BEGIN, an EXECUTE per statement and COMMIT as one query, without parameters:
    the simple query protocol takes several statements, so the whole read is one call into the
    driver (a pipeline makes one per statement, each costing this process more than the
    statement costs the server), and the server runs plans it made once per connection instead
    of parsing and planning every statement again. Values are bound by psycopg's quoting.
    """

    name: str
    prepare: str  # PREPARE name AS the statement, its parameters numbered
    execution: str  # EXECUTE name(...), its arguments as psycopg-style placeholders

    @staticmethod
    @cache
    def of(sql: str) -> "Prepared":
        """`sql` (with :name parameters) as a prepared statement, named after its text."""
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        body = PARAMETER.sub(number, sql)
        name = "bank_" + hashlib.sha1(sql.encode()).hexdigest()[:20]
        arguments = f"({', '.join(f'%({n})s' for n in names)})" if names else ""
        return Prepared(name, f"PREPARE {name} AS {body}", f"EXECUTE {name}{arguments}")

    def execute(self, binder: AsyncClientCursor[Any], params: Params) -> str:
        return binder.mogrify(self.execution, params)


@dataclass(frozen=True, slots=True)
class Read(Generic[T]):
    """A read as data: its SELECTs (SQL with :name parameters), and what their rows become.

    Database.read_rows runs one in a read transaction of its own; `in_session` inside a
    session's transaction (a write building its answer, for instance).
    """

    statements: tuple[tuple[str, Params], ...]
    finish: Callable[[list[list[Row]]], T]  # may raise, a BankError for a missing customer
    # Where the read's own rows hold its customer's data version (response_cache.py), for a
    # read that selects it: None when the customer is missing.
    version: Callable[[list[list[Row]]], int | None] | None = None

    def versioned(self, sql: str, params: Params) -> "Read[tuple[int | None, T]]":
        """This read, its result with its customer's data version, read in the same transaction:
        from the read's own rows when it selects it, else by `sql` (the version, one row or
        none) run before it."""
        own = self.version
        if own is not None:
            return Read(self.statements, lambda results: (own(results), self.finish(results)))

        def finish(results: list[list[Row]]) -> tuple[int | None, T]:
            version = results[0][0][0] if results[0] else None
            return version, self.finish(results[1:])

        return Read(((sql, params), *self.statements), finish)

    def in_session(self, session: Session) -> T:
        return self.finish(select_rows(session, self.statements))


READ_CONNECTION_NAME = "dummy-bank-reads"
# A read on a dropped connection is made again, a few times at most (see _postgresql_rows).
READ_ATTEMPTS = 3
# A read connection's prepared statements gone (DEALLOCATE), left over from a batch of PREPAREs
# cut short, or planned for a table since altered.
STALE_PREPARED = (
    psycopg.errors.InvalidSqlStatementName,
    psycopg.errors.DuplicatePreparedStatement,
    psycopg.errors.FeatureNotSupported,
)
# PostgreSQL's lean reads: one snapshot for all their statements, as Database.read asks for.
BEGIN_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"


def select_rows(session: Session, statements: Sequence[tuple[str, Params]]) -> list[list[Row]]:
    """The rows of each SELECT (SQL with :name parameters), run on the driver's own cursor in the
    session's transaction: no ORM objects, no statement compiling. On PostgreSQL the statements
    go out together in one pipeline, one round trip."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        cursor = connection.connection.cursor()
        try:
            return [cursor.execute(sql, params).fetchall() for sql, params in statements]
        finally:
            cursor.close()
    driver = cast(psycopg.Connection[Any], connection.connection.driver_connection)
    if len(statements) == 1:
        sql, params = statements[0]
        return [driver.execute(pyformat(sql), params).fetchall()]
    with driver.pipeline():
        cursors = [driver.execute(pyformat(sql), params) for sql, params in statements]
    return [cursor.fetchall() for cursor in cursors]


def _read_in_session(session: Session, read: Read[T]) -> T:
    return read.in_session(session)


def _in_session(
    kind: type[Session], engine: Engine, operation: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """Run `operation` with a session of its own, on the calling thread (a worker thread, or
    the event loop's for a SQLite read).

    The session closes, and its connection goes back to the pool, on that thread, before the
    response is built. A request therefore never holds a connection while it waits for a
    thread, so worker threads never wait on connections held by requests without a thread:
    the pool (larger than the 40 threads) cannot run dry into timeouts under load.
    """
    with kind(engine) as session:
        return operation(session, *args, **kwargs)


async def get_database(request: Request) -> Database:  # async: no thread for an attribute
    database: Database = request.app.state.database
    return database


DatabaseDep = Annotated[Database, Depends(get_database)]


def database_is_reachable(engine: Engine) -> bool:
    """Query a real table, so a missing file or schema counts as unreachable too."""
    try:
        with engine.connect() as connection:
            connection.execute(select(models.User.customer_oid).limit(1))
    except SQLAlchemyError:
        logger.warning("Health check: the database did not answer", exc_info=True)
        return False
    return True
