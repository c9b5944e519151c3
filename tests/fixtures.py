"""What the tests share: sample data, databases on both engines, the app and the real server.

Every name of the app's internals that the tests use is reached here, and only here.
"""

import contextlib
import datetime as dt
import functools
import io
import json
import os
import random
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mcp.server.mcpserver import MCPServer
from sqlalchemy import Engine, Integer, MetaData, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

import activity
import seed
from bank import days, webhooks
from bank.faults import FaultInjector
from bank.idempotency import fingerprint
from db import Database
from main import create_app
from mcp_server import build_mcp_server
from models import WebhookCreate, WebhookEvent
from response_cache import ResponseCache
from seed import seed_if_empty
from settings import PROJECT_DIR, Settings, normalize_database_url
from synthetic import row_triggers_skipped
from tests import launcher

# The Host header Starlette's TestClient sends.
TEST_CLIENT_HOST = "testserver"
# The sandbox's today in every database the tests make (SANDBOX_START_DATE).
SANDBOX_DAY = dt.date(2026, 11, 2)
SAMPLE_OIDS = [f"550e8400-e29b-41d4-a716-44665544000{n}" for n in range(1, 6)]
NEW_OID = "123e4567-e89b-42d3-a456-426614174000"
MCP_TOOLS = {
    "list_customers",
    "get_portfolio",
    "customer_exists",
    "get_transactions",
    "get_account_statement",
    "get_items",
    "list_securities",
    "get_prices",
    "get_performance",
    "list_institutions",
    "register_customer",
    "import_portfolio",
    "delete_customer",
    "advance_clock",
    "sync_transactions",
}

# What get_portfolio and import_portfolio add, over MCP, to the portfolio REST returns.
AGENT_PORTFOLIO_FIELDS = ("transactions_shown", "transactions_total", "partly_shown", "hint")


# Outflows that are not spending, as the README says: money between the customer's own
# accounts, and investments bought.
NOT_SPENDING = {"transfer", "investment"}


def money(value: float) -> Decimal:
    """An amount as JSON gives it (a number with at most two decimals), exactly."""
    return Decimal(str(value))


def reconcile(
    client: TestClient,
    oid: str,
    closes: dict[str, Decimal],
    *,
    today: dt.date = SANDBOX_DAY,
    never_below_zero: bool = True,
) -> dict[str, Any]:
    """Assert that the customer's accounts, spending and holdings follow from their history
    (up to `today`, the sandbox's); returns the portfolio. A generated history never takes an
    account below zero; days made to happen later may."""
    portfolio: dict[str, Any] = client.get(f"/user-portfolio/{oid}").json()
    transactions = portfolio["transactions"]
    last = today.isoformat()
    for account in portfolio["bank_accounts"]:
        own = [t for t in transactions if t["account_id"] == account["id"]]
        first = min(t["date"] for t in own)
        statement = client.get(
            f"/customer/{oid}/bank-accounts/{account['id']}/statement",
            params={"from": first, "to": last},
        ).json()
        # It opens with its opening balance, at zero, and closes at the balance.
        assert statement["transactions"][0]["description"] == activity.OPENING_BALANCE
        assert money(statement["opening_balance"]) == 0, (oid, account["account_number"])
        assert money(statement["closing_balance"]) == money(account["balance"])
        assert len(statement["transactions"]) == len(own)
        running = Decimal(0)
        for line in statement["transactions"]:
            running += money(line["amount"])
            assert money(line["running_balance"]) == running
            if never_below_zero:
                assert running >= 0, ("never below zero", oid, account["account_number"], line)
            assert line["currency"] == account["currency"]
    outflows: defaultdict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for t in transactions:
        if money(t["amount"]) < 0 and t["category"] not in NOT_SPENDING:
            outflows[(t["date"][:7], t["category"], t["currency"])] -= money(t["amount"])
    spending = {
        (s["month"], s["category"], s["currency"]): money(s["amount"])
        for s in portfolio["spending"]
    }
    assert spending == dict(outflows), oid
    bought: defaultdict[str, Decimal] = defaultdict(Decimal)
    for t in transactions:
        if t["type"] == "buy":
            bought[t["symbol"]] -= money(t["amount"])
    for asset in portfolio["assets"]:
        value = (Decimal(str(asset["quantity"])) * closes[asset["symbol"]]).quantize(
            Decimal("0.01"), ROUND_HALF_EVEN
        )
        assert money(asset["current_value"]) == value, (oid, asset["symbol"])
        assert money(asset["cost_basis"]) == bought[asset["symbol"]], (oid, asset["symbol"])
    return portfolio


def last_closes(client: TestClient) -> dict[str, Decimal]:
    closes = {}
    for security in client.get("/securities").json():
        points = client.get(f"/securities/{security['symbol']}/prices").json()
        closes[security["symbol"]] = money(points[-1]["close"])
    return closes


def accounts_by_place(portfolio: dict[str, Any]) -> list[dict[str, Any]]:
    """The portfolio's transactions with account_id given as the account's place in
    bank_accounts (ids differ between copies of a portfolio; places do not)."""
    place = {account["id"]: n for n, account in enumerate(portfolio["bank_accounts"])}
    return [
        {**t, "account_id": place.get(t["account_id"], t["account_id"])}
        for t in portfolio["transactions"]
    ]


def assert_agent_sees_rest(agent: dict[str, Any], rest: dict[str, Any]) -> None:
    """An MCP portfolio is the REST portfolio with its newest 50 transactions, and says so."""
    total = len(rest["transactions"])
    assert agent["transactions_total"] == total
    assert agent["transactions_shown"] == len(agent["transactions"]) == min(total, 50)
    assert (agent["hint"] is None) == (total <= 50)
    shown = {**rest, "transactions": rest["transactions"][: agent["transactions_shown"]]}
    assert {key: value for key, value in agent.items() if key not in AGENT_PORTFOLIO_FIELDS} == (
        shown
    )


# A valid new item of each collection, with only the seed's required fields.
VALID: dict[str, dict[str, Any]] = {
    "assets": {"asset_type": "etf", "symbol": "SPY", "quantity": 10, "current_value": 5000.5},
    "bank-accounts": {
        "account_number": "NEW-1", "account_type": "savings", "balance": 1200.75,
        "institution_id": 1,
    },
    "transactions": {
        "date": "2026-11-01", "amount": -12.5, "description": "Coffee beans",
        "category": "groceries", "type": "payment",
    },
    "spending": {"category": "books", "amount": 45.9, "month": "2026-11"},
    "derivative-transactions": {
        "type": "option", "side": "buy", "underlying": "NVDA", "quantity": 1,
        "expiration_date": "2027-01-15", "execution_date": "2026-11-02", "status": "open",
    },
}  # fmt: skip
# A change to one field of each collection, and the portfolio list each collection fills.
CHANGES: dict[str, dict[str, Any]] = {
    "assets": {"quantity": 12.5},
    "bank-accounts": {"balance": 99.99},
    "transactions": {"category": "coffee"},
    "spending": {"month": "2026-12"},
    "derivative-transactions": {"status": "closed"},
}
PORTFOLIO_LIST = {
    "assets": "assets",
    "bank-accounts": "bank_accounts",
    "transactions": "transactions",
    "spending": "spending",
    "derivative-transactions": "derivative_transactions",
}

ENGINES = ["sqlite", "postgresql"]
# For a test whose outcome cannot depend on the engine (validation before any query, the
# OpenAPI document, the docs pages): run it on SQLite only.
on_sqlite_only = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

# PostgreSQL for the tests: TEST_DATABASE_URL, or the local server as user postgres.
TEST_DATABASE_URL = normalize_database_url(
    os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
)


@functools.cache
def postgres_unavailable() -> str | None:
    """Why PostgreSQL cannot be used for the tests, or None when it can."""
    engine = create_engine(TEST_DATABASE_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:  # any failure to connect means: skip, and say why
        return f"PostgreSQL at {engine.url!r} is not reachable ({type(error).__name__})"
    finally:
        engine.dispose()
    return None


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A fresh schema on the test server, dropped afterwards; yields a URL that uses only it."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(TEST_DATABASE_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(TEST_DATABASE_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}{SNAPSHOT_SUFFIX}" CASCADE'))
        admin.dispose()


# The system catalogs that creating and dropping a schema of the bank's tables leaves dead rows
# in: tens of thousands a run.
SCHEMA_CATALOGS = (
    "pg_attribute", "pg_depend", "pg_class", "pg_type", "pg_trigger", "pg_constraint",
    "pg_index", "pg_proc", "pg_attrdef", "pg_sequence", "pg_namespace",
)  # fmt: skip


def vacuum_catalogs() -> None:
    """Reclaim the catalog rows this run's schemas left behind. Where the server runs without
    autovacuum, they pile up run after run, and every later CREATE and DROP SCHEMA, and every
    test, slows down. Nothing is changed when PostgreSQL is absent or refuses (not a superuser)."""
    if postgres_unavailable() is not None:
        return
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            tables = ", ".join(f"pg_catalog.{name}" for name in SCHEMA_CATALOGS)
            connection.execute(text(f"VACUUM {tables}"))
    except Exception:  # a maintenance courtesy: never a test failure
        pass
    finally:
        admin.dispose()


@contextlib.contextmanager
def empty_database(backend: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database on `backend`: a file in `directory`, or a schema."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / f'bank-{uuid.uuid4().hex[:8]}.db'}"
        return
    with postgres_schema() as url:
        yield url


# --- Back to the freshly seeded state ---------------------------------------------------------

# Alembic's own table.
KEPT_TABLES = {"alembic_version"}
# Shared apps, and shared servers, a test worker keeps open on PostgreSQL (Shared).
KEPT_ON_POSTGRESQL = 3
# The schema beside a test schema that holds a copy of its seeded state (Reset).
SNAPSHOT_SUFFIX = "_snapshot"


class Reset:
    """Puts a migrated database back to exactly the state of a fresh start: the samples, with
    the ids a new database gives them (tests assert ids)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata = MetaData()
        metadata.reflect(engine)
        self.with_ids = {
            table.name
            for table in metadata.sorted_tables
            if "id" in table.columns and isinstance(table.columns["id"].type, Integer)
        }
        # Referencing tables before those they reference; the change feed's log last, after
        # the transactions whose deletion it logs.
        self.tables = sorted(
            (
                table.name
                for table in reversed(metadata.sorted_tables)
                if table.name not in KEPT_TABLES
            ),
            key=lambda name: name == "transaction_changes",
        )
        self.sequences: list[str] = []
        self.replica = False
        if engine.dialect.name == "postgresql":
            with engine.connect() as connection:
                self.replica = bool(
                    connection.scalar(
                        text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
                    )
                )
                self.sequences = list(
                    connection.scalars(
                        text(
                            "SELECT sequencename FROM pg_sequences "
                            "WHERE schemaname = current_schema()"
                        )
                    )
                )

        self.seeded: tuple[object, ...] | None = None
        self.snapshot: str | None = None  # a SQLite file, or a PostgreSQL schema
        self.sequence_values: list[tuple[str, int | None]] = []

    def fingerprint(self) -> tuple[object, ...]:
        """What any change to the data changes: each table's row count and highest id, where
        each id sequence stands, the sandbox's date, the institutions, every customer's data
        version (which triggers renew on every change to their rows, migration 0002), and the
        schema's triggers and indexes (a test may drop one)."""
        counts = " UNION ALL ".join(
            f"SELECT '{name}', count(*), {'max(id)' if name in self.with_ids else '0'} "
            f'FROM "{name}"'
            for name in self.tables
        )
        if self.engine.dialect.name == "postgresql":
            sequences = (
                "SELECT sequencename, last_value FROM pg_sequences "
                "WHERE schemaname = current_schema() ORDER BY 1"
            )
            schema = (
                "SELECT tgname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid "
                "WHERE NOT tgisinternal AND relnamespace = current_schema()::regnamespace "
                "UNION ALL SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "ORDER BY 1"
            )
        else:
            sequences = "SELECT name, seq FROM sqlite_sequence ORDER BY 1"
            schema = "SELECT name, sql FROM sqlite_master ORDER BY 1"
        with self.engine.connect() as connection:
            return (
                tuple(map(tuple, connection.execute(text(counts)))),
                tuple(map(tuple, connection.execute(text(sequences)))),
                tuple(connection.execute(text("SELECT today FROM sandbox_clock")).scalars()),
                tuple(
                    map(
                        tuple,
                        connection.execute(
                            text(
                                "SELECT id, name, routing_number, type FROM institutions "
                                "ORDER BY id"
                            )
                        ),
                    )
                ),
                tuple(map(tuple, connection.execute(text(schema)))),
                tuple(
                    map(
                        tuple,
                        connection.execute(
                            text("SELECT customer_oid, version FROM customer_versions ORDER BY 1")
                        ),
                    )
                ),
            )

    def __call__(self) -> None:
        # Nothing to do when the last test changed nothing (most only read): the samples are
        # a year of history each, and making them anew takes longer than the test.
        if self.seeded is not None:
            try:
                if self.fingerprint() == self.seeded:
                    return
            except SQLAlchemyError:
                pass  # a test broke the schema: reset below
        self.reset()
        self.seeded = self.fingerprint()

    def reset(self) -> None:
        """Back to the seeded state: the first time by seeding anew, and then from a copy of
        that state (a tenth of the time: a year of the samples' history is made once)."""
        if self.snapshot is not None:
            self.restore()
            return
        self.reseed()
        self.take_snapshot()

    def reseed(self) -> None:
        # DELETE, not TRUNCATE, on PostgreSQL too: on a few dozen rows it takes 3 ms where
        # TRUNCATE, which makes every table's files anew, takes 23, and a test takes one each.
        # Without the row triggers, which would renew versions and log removals of rows that
        # all go: SQLite drops them for the transaction (as the bulk writer does), PostgreSQL
        # skips them as a replica does, where the test role may.
        with self.engine.begin() as connection:
            if self.replica:
                connection.execute(text("SET LOCAL session_replication_role = replica"))
            with row_triggers_skipped(connection, dict.fromkeys(self.tables, ("delete",))):
                for name in self.tables:
                    connection.execute(text(f'DELETE FROM "{name}"'))
            if self.engine.dialect.name == "postgresql":
                for sequence in self.sequences:  # ids start again at 1, as in a new database
                    connection.execute(text(f"SELECT setval('\"{sequence}\"', 1, false)"))
            else:
                connection.execute(text("DELETE FROM sqlite_sequence"))
        seed_if_empty(self.engine, start=SANDBOX_DAY)

    # A copy of the seeded state: every table's rows, the id sequences, as they stand. Data
    # versions come back with the rows they were made for, so an answer a server keeps under
    # one of them is still that data's answer.

    def take_snapshot(self) -> None:
        if self.engine.dialect.name == "sqlite":
            path = f"{self.engine.url.database}.snapshot"
            copier = sqlite3.connect(str(self.engine.url.database), isolation_level=None)
            try:  # outside any transaction, which the app's connections would begin
                copier.execute("VACUUM INTO ?", (path,))
            finally:
                copier.close()
            self.snapshot = path
        elif self.replica:  # a role that cannot skip triggers and keys seeds anew each time
            with self.engine.begin() as connection:
                schema = connection.scalar(text("SELECT current_schema()"))
                copy = f"{schema}{SNAPSHOT_SUFFIX}"
                connection.execute(text(f'CREATE SCHEMA "{copy}"'))
                for name in self.tables:
                    connection.execute(
                        text(f'CREATE TABLE "{copy}"."{name}" AS SELECT * FROM "{name}"')
                    )
                self.sequence_values = [
                    (name, value)
                    for name, value in connection.execute(
                        text(
                            "SELECT sequencename, last_value FROM pg_sequences "
                            "WHERE schemaname = current_schema()"
                        )
                    )
                ]
            self.snapshot = copy

    def restore(self) -> None:
        assert self.snapshot is not None
        if self.engine.dialect.name == "sqlite":
            self.restore_sqlite(self.snapshot)
            return
        with self.engine.begin() as connection:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
            for name in self.tables:
                connection.execute(text(f'DELETE FROM "{name}"'))
            for name in reversed(self.tables):
                connection.execute(
                    text(f'INSERT INTO "{name}" SELECT * FROM "{self.snapshot}"."{name}"')
                )
            for sequence, value in self.sequence_values:
                called = "true" if value is not None else "false"
                connection.execute(text(f"SELECT setval('\"{sequence}\"', {value or 1}, {called})"))

    def restore_sqlite(self, path: str) -> None:
        """On a connection of its own, without the app's events: every trigger is left out for
        the transaction (users' too, which would make versions the copy brings), and put back
        in it."""
        connection = sqlite3.connect(str(self.engine.url.database), isolation_level=None)
        try:
            connection.execute("PRAGMA busy_timeout = 10000")
            connection.execute("ATTACH DATABASE ? AS snapshot", (path,))
            connection.execute("BEGIN IMMEDIATE")
            triggers = connection.execute(
                "SELECT name, sql FROM main.sqlite_master WHERE type = 'trigger'"
            ).fetchall()
            for name, _ in triggers:
                connection.execute(f'DROP TRIGGER "{name}"')
            for name in self.tables:
                connection.execute(f'DELETE FROM main."{name}"')
            for name in [*reversed(self.tables), "sqlite_sequence"]:
                if name == "sqlite_sequence":
                    connection.execute("DELETE FROM main.sqlite_sequence")
                connection.execute(f'INSERT INTO main."{name}" SELECT * FROM snapshot."{name}"')
            for _, sql in triggers:
                connection.execute(sql)
            connection.execute("COMMIT")
            connection.execute("DETACH DATABASE snapshot")
        finally:
            connection.close()


def app_engine(client: TestClient) -> Engine:
    """The running app's own engine, for arranging data the HTTP API cannot create yet."""
    app: FastAPI = client.app  # type: ignore[assignment]
    engine: Engine = app.state.engine
    return engine


def app_database(client: TestClient) -> Database:
    """The running app's Database, which the MCP server reads and writes through."""
    app: FastAPI = client.app  # type: ignore[assignment]
    database: Database = app.state.database
    return database


def clear_response_cache(client: TestClient) -> None:
    """Empty the app's response cache (its answers would not be served anyway: every reseeded
    customer gets a new data version)."""
    app: FastAPI = client.app  # type: ignore[assignment]
    cache: ResponseCache = app.state.response_cache
    cache.clear()


def app_faults(client: TestClient) -> FaultInjector:
    """The running app's fault profile, which its MCP server shares."""
    app: FastAPI = client.app  # type: ignore[assignment]
    faults: FaultInjector = app.state.faults
    return faults


def app_mcp_server(client: TestClient) -> MCPServer:
    """The MCP server as the running app serves it: its database and its fault profile."""
    return build_mcp_server(lambda: app_database(client), faults=app_faults(client))


def request_fingerprint(*parts: bytes) -> str:
    """What the server takes to be the same request under an Idempotency-Key."""
    return fingerprint(*parts)


def customer_count(client: TestClient, name: str) -> int:
    """How many customers have this name."""
    customers = client.get("/customers", params={"limit": 1000}).json()
    return sum(customer["name"] == name for customer in customers)


def a_webhook(client: TestClient, url: str = "http://127.0.0.1:9/hooks") -> int:
    """The id of an endpoint subscribed to customer.created, stored as POST /webhooks stores
    one: for a test whose app refuses writes (read-only mode)."""
    app: FastAPI = client.app  # type: ignore[assignment]
    database: Database = app.state.database
    created = anyio.run(
        functools.partial(
            database.write,
            webhooks.create_webhook,
            webhook=WebhookCreate(url=url, events=[WebhookEvent.CUSTOMER_CREATED]),
        )
    )
    return created.id


@contextlib.contextmanager
def days_worked_out_in_one_process() -> Iterator[None]:
    """Advances of the clock work out every batch's days in this process, however many
    customers there are (past bank.days.PIPELINE_FROM they go to a worker process)."""
    kept = days.PIPELINE_FROM
    days.PIPELINE_FROM = 10**9
    try:
        yield
    finally:
        days.PIPELINE_FROM = kept


def rename_users_away(client: TestClient) -> None:
    """Break the app's database: every query of customers then fails unexpectedly."""
    with app_engine(client).begin() as connection:
        # Renamed away (a DROP would be refused on PostgreSQL: other tables reference it).
        connection.execute(text("ALTER TABLE users RENAME TO users_gone"))


# --- Scripts and the real server ----------------------------------------------------------------


def seed_here(database_url: str, *args: str) -> str:
    """seed.py's main with these arguments, run in this process (a Python process costs two
    seconds of imports): what it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        seed.main(list(args), Settings(DATABASE_URL=database_url))
    return printed.getvalue()


def run_python(
    database_url: str, *args: str, as_typed: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `python <args>` in the project directory against the database at `database_url`:
    in a process forked with the imports made (tests/launcher.py) or, `as_typed`, a new
    interpreter started as a user starts it."""
    env = {**os.environ, "DATABASE_URL": database_url}
    if not as_typed:
        return launcher.run(args, env, timeout=180)
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def free_port() -> int:
    """A free port on loopback, below the kernel's ephemeral range. Under pytest-xdist each
    worker takes ports from a range of its own, so two workers never pick the same one between
    finding it and their server binding it."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    size = 12_000 // workers
    first = 20_000 + worker * size
    for port in random.sample(range(first, first + size), k=200):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port between {first} and {first + size}")


class LiveServer:
    """The service started as `make run` starts it (`python main.py`, in a process forked with
    the imports made: tests/launcher.py; `as_typed`, a new interpreter), on a free port and its
    own database; with `workers`, under the `uvicorn` command with that many worker processes."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        env: dict[str, str] | None = None,
        *,
        workers: int = 1,
        as_typed: bool = False,
    ) -> None:
        self.as_typed = as_typed or workers > 1
        self.database_url = database_url
        self.env = env or {}
        self.log_path = log_path
        self.workers = workers
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | launcher.Launched | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "warning",
            # Small pools: the test workers' servers and apps share one PostgreSQL server's 100
            # connections, and a burst of requests leaves each pool, and its read pool (psycopg's
            # keeps idle connections for ten minutes), at its largest: 5 each peaked at 94.
            "DB_POOL_SIZE": "3",
            "DB_MAX_OVERFLOW": "5",
            **self.env,
        }
        command = ["main.py"]
        if self.workers > 1:
            # Migrated and seeded before the workers race to.
            seeded = run_python(self.database_url, "seed.py")
            assert seeded.returncode == 0, seeded.stderr
            command = ["-m", "uvicorn", "main:app", "--port", str(self.port)]
            command += ["--workers", str(self.workers), "--http", "server:BankHttpProtocol"]
        if not self.as_typed:
            self.process = launcher.launch(command, env, self.log_path)
        else:
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, *command], cwd=PROJECT_DIR, env=env, stdout=log, stderr=log
                )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not become healthy:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)
        self.process = None


def clear_fault_profile(server: LiveServer) -> None:
    """Remove a fault profile a test left on a shared server (a read-only one has none)."""
    if server.env.get("BANK_READ_ONLY") in {"1", "true"}:
        return
    key = server.env.get("BANK_API_KEY")
    headers = {"X-API-Key": key} if key else {}
    response = httpx.delete(f"{server.base_url}/sandbox/faults", headers=headers, timeout=10)
    assert response.status_code == 204, response.text


@contextlib.contextmanager
def running(server: LiveServer) -> Iterator[LiveServer]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Shared:
    """Apps and real servers shared by the whole session, one per engine and settings, their
    database put back to the freshly seeded state each time a test takes one: a new app per test
    costs far more, a new server more still. A test that stops, kills or restarts its server,
    or breaks its database, takes one of its own instead.

    On PostgreSQL a worker keeps the few it used last (KEPT_ON_POSTGRESQL of each kind) and
    closes the rest: every test worker's apps and servers, and their read pools, share one
    PostgreSQL server's 100 connections, which a whole run's worth of them once used up.

    A server keeps answers in memory, but reseeding gives every customer a new random data
    version, so none of them is served again."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stack = contextlib.ExitStack()
        # By key, least recently taken first; each with the stack that closes it.
        self.apps: dict[tuple[Any, ...], tuple[TestClient, Reset, contextlib.ExitStack]] = {}
        self.servers: dict[tuple[Any, ...], tuple[LiveServer, Reset, contextlib.ExitStack]] = {}

    def client(self, backend: str, **settings: Any) -> TestClient:
        """An in-process app with these settings."""
        key = (backend, tuple(sorted(settings.items())))
        if key in self.apps:
            client, reset, own = self.apps.pop(key)
            self.apps[key] = client, reset, own  # now the most recently taken
            reset()
            clear_response_cache(client)
            app_faults(client).clear()
            return client
        self._make_room(self.apps, backend)
        own = self.stack.enter_context(contextlib.ExitStack())
        url = own.enter_context(empty_database(backend, self.directory))
        # Small pools, as for the servers (LiveServer).
        pools: dict[str, Any] = {"DB_POOL_SIZE": 2, "DB_MAX_OVERFLOW": 5}
        client = TestClient(create_app(Settings(DATABASE_URL=url, **{**pools, **settings})))
        own.enter_context(client)
        self.apps[key] = client, Reset(app_engine(client)), own
        return client

    def server(
        self, backend: str, env: dict[str, str] | None = None, *, workers: int = 1
    ) -> LiveServer:
        """A real server with this environment, under uvicorn with `workers` processes."""
        env = env or {}
        key = (backend, workers, tuple(sorted(env.items())))
        if key in self.servers:
            server, reset, own = self.servers.pop(key)
            self.servers[key] = server, reset, own
            reset()
            clear_fault_profile(server)
            return server
        self._make_room(self.servers, backend)
        own = self.stack.enter_context(contextlib.ExitStack())
        url = own.enter_context(empty_database(backend, self.directory))
        log = self.directory / f"server-{uuid.uuid4().hex[:8]}.log"
        server = own.enter_context(running(LiveServer(url, log, env, workers=workers)))
        engine = create_engine(url, pool_size=1, max_overflow=2)  # one kept, for the resets
        own.callback(engine.dispose)
        self.servers[key] = server, Reset(engine), own
        return server

    @staticmethod
    def _make_room(kept: dict[tuple[Any, ...], Any], backend: str) -> None:
        """On PostgreSQL, close the least recently taken of this kind beyond the few kept."""
        if backend != "postgresql":
            return
        on_postgresql = [key for key in kept if key[0] == "postgresql"]
        for key in on_postgresql[: max(0, len(on_postgresql) - KEPT_ON_POSTGRESQL + 1)]:
            *_, own = kept.pop(key)
            own.close()

    def close(self) -> None:
        self.stack.close()


@dataclass(frozen=True)
class Received:
    """One request a Receiver got: its headers (names in lower case) and body."""

    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A real HTTP server on loopback that webhooks are delivered to, in a thread of the test.

    It answers each POST with the next status of `statuses` (200 once they run out), after
    `hold` is set when one is given, and keeps every request it got.
    """

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        self.statuses: list[int] = []
        self.hold: threading.Event | None = None
        self.received: list[Received] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802  (the standard library's name)
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver.arrived:
                    receiver.received.append(
                        Received(
                            {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic()
                        )
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                    receiver.arrived.notify_all()
                if receiver.hold is not None:
                    receiver.hold.wait(30)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20) -> list[Received]:
        """The requests received once there are at least `count` (AssertionError after
        `timeout` seconds)."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"{len(self.received)} deliveries arrived, not {count}")
            return list(self.received)

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def receiving(port: int | None = None) -> Iterator[Receiver]:
    receiver = Receiver(port)
    try:
        yield receiver
    finally:
        receiver.close()
