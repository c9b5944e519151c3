"""Both engines: Alembic owns the schema, start-up is safe in parallel, answers are identical."""

import asyncio
import contextlib
import gc
import logging
import os
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text

from bank.documents import PORTFOLIO_SQL
from db import READ_CONNECTION_NAME, Prepared, alembic_config, create_db_engine
from main import create_app
from settings import Settings
from tests import launcher
from tests.fixtures import (
    SAMPLE_OIDS,
    TEST_DATABASE_URL,
    VALID,
    LiveServer,
    app_database,
    app_engine,
    on_sqlite_only,
    postgres_unavailable,
    run_python,
)


def alembic(database_url: str, *commands: str) -> subprocess.CompletedProcess[str]:
    """Alembic's command line, run for each command ("upgrade head", ...) in turn, in one
    process (each process costs a second of imports); each command's output ends with a line
    "== <command>"."""
    script = "".join(
        f"main({command.split()!r}); print({'== ' + command!r}, flush=True)\n"
        for command in commands
    )
    result = run_python(database_url, "-c", f"from alembic.config import main\n{script}")
    assert result.returncode == 0, result.stderr
    return result


def test_upgrade_head_on_an_empty_database_matches_the_models(database_url: str) -> None:
    # check compares the migrated schema with the models: any drift is an error.
    check = alembic(database_url, "upgrade head", "check")
    assert "No new upgrade operations detected" in check.stdout + check.stderr


def test_app_start_migrates_to_head_and_check_is_clean(settings: Settings) -> None:
    with TestClient(create_app(settings)):
        pass
    current = alembic(settings.DATABASE_URL, "current", "check")
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert f"{head} (head)" in current.stdout.split("== current")[0]


@on_sqlite_only
def test_a_new_sqlite_database_has_8_kib_pages_in_wal_mode(engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA page_size").scalar() == 8192
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_migrations_go_down_and_up_again(settings: Settings) -> None:
    with TestClient(create_app(settings)):
        pass
    steps = alembic(settings.DATABASE_URL, "downgrade base", "current", "upgrade head", "current")
    after_downgrade, after_upgrade = steps.stdout.split("== current")[:2]
    assert "(head)" not in after_downgrade and "(head)" in after_upgrade
    with TestClient(create_app(settings)) as client:
        # The emptied database is seeded again on start.
        assert len(client.get("/customers").json()) == 5


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgres://bank@db:5432/bank", "postgresql+psycopg://bank@db:5432/bank"),
        ("postgresql://bank@db/bank", "postgresql+psycopg://bank@db/bank"),
        ("postgresql+psycopg://bank@db/bank", "postgresql+psycopg://bank@db/bank"),
        ("sqlite:////tmp/bank.db", "sqlite:////tmp/bank.db"),
    ],
)
def test_database_url_forms(given: str, expected: str) -> None:
    assert Settings(DATABASE_URL=given).DATABASE_URL == expected


def test_processes_starting_together_migrate_and_seed_once(
    database_url: str, tmp_path: Path
) -> None:
    env = {**os.environ, "DATABASE_URL": database_url}
    outputs = [(tmp_path / f"seed-{n}.out", tmp_path / f"seed-{n}.err") for n in range(3)]
    processes = [launcher.launch(["seed.py"], env, out, err) for out, err in outputs]
    returncodes = [process.wait(timeout=120) for process in processes]
    assert returncodes == [0, 0, 0], [err.read_text() for _, err in outputs]
    assert sum("Loaded 5 sample customers" in out.read_text() for out, _ in outputs) == 1
    with TestClient(create_app(Settings(DATABASE_URL=database_url))) as client:
        assert [c["customer_oid"] for c in client.get("/customers").json()] == SAMPLE_OIDS
        assert len(client.get("/institutions").json()) == 3


async def import_concurrently(
    base_url: str, oid: str, documents: list[dict[str, Any]]
) -> list[int]:
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        responses = await asyncio.gather(
            *(http.put(f"/user-portfolio/{oid}", json=document) for document in documents)
        )
    return [response.status_code for response in responses]


def test_concurrent_imports_of_one_customer_never_mix(live_server: LiveServer) -> None:
    sources = [
        httpx.get(f"{live_server.base_url}/user-portfolio/{oid}").json() for oid in SAMPLE_OIDS
    ]
    documents = [sources[n % 5] for n in range(12)]
    oid = str(uuid.uuid4())
    statuses = asyncio.run(import_concurrently(live_server.base_url, oid, documents))
    assert Counter(statuses) == {201: 1, 200: 11}
    stored = httpx.get(f"{live_server.base_url}/user-portfolio/{oid}").json()
    # Exactly one of the documents, not a mixture of several.
    symbols = sorted(asset["symbol"] for asset in stored["assets"])
    assert symbols in [sorted(a["symbol"] for a in source["assets"]) for source in sources]
    assert stored["portfolio_summary"]["total_transactions"] == len(stored["transactions"])
    names = {source["user"]["name"] for source in sources}
    assert stored["user"]["name"] in names


# --- Byte-for-byte the same answers ---------------------------------------------------------

# Bytewise, "ZZ-LEGACY-01" sorts before "bbbb0000-..."; in a linguistic (en-US) collation, after.
LEGACY, UPPER = "ZZ-LEGACY-01", "BBBB0000-0000-4000-8000-000000000001"


@contextlib.contextmanager
def linguistic_postgres_database() -> Iterator[str]:
    """A fresh database whose default collation is ICU en-US, not bytewise; dropped afterwards."""
    name = f"test_icu_{uuid.uuid4().hex[:12]}"
    admin = create_engine(TEST_DATABASE_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(
                f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu '
                "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        )
    try:
        yield make_url(TEST_DATABASE_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()


def session_of_requests(client: TestClient) -> list[bytes]:
    """A fixed sequence of API calls, answered body by body."""
    answers: list[Any] = []
    answers.append(
        client.post("/register-customer", json={"name": "Legacy", "customer_oid": LEGACY})
    )
    answers.append(client.post("/register-customer", json={"name": "Upper", "customer_oid": UPPER}))
    answers.append(client.post("/register-customer", json={"name": "Dup", "customer_oid": LEGACY}))
    answers.append(client.get("/customers?limit=3"))
    answers.append(client.get(client.get("/customers?limit=3").headers["link"][1:].split(">")[0]))
    source = client.get(f"/user-portfolio/{SAMPLE_OIDS[4]}")
    answers.append(source)
    answers.append(client.put(f"/user-portfolio/{LEGACY}", json=source.json()))
    created = client.post(
        f"/customer/{LEGACY}/assets",
        json={"asset_type": "bond", "symbol": "B", "quantity": 0.125, "current_value": 10.05},
    )
    answers.append(created)
    answers.append(client.delete(f"/customer/{LEGACY}/assets/{created.json()['id']}"))
    answers.append(
        client.post(
            f"/customer/{LEGACY}/assets",
            json={"asset_type": "cash", "symbol": "C", "quantity": 3, "current_value": 0.1},
        )
    )
    answers.append(client.patch(f"/customer/{LEGACY}/spending/1", json={"amount": 1}))
    answers.append(client.get(f"/customer/{LEGACY}/transactions?limit=2&from=2026-09-01"))
    answers.append(client.get(f"/user-portfolio/{LEGACY}"))
    answers.append(client.get("/institutions"))
    answers.append(client.delete(f"/customer/{UPPER}"))
    answers.append(client.get("/customers"))
    return [f"{a.status_code} {a.headers.get('link', '')}\n".encode() + a.content for a in answers]


def test_both_engines_answer_byte_for_byte_the_same(tmp_path: Path) -> None:
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with TestClient(create_app(Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'bank.db'}"))) as c:
        on_sqlite = session_of_requests(c)
    # A linguistic default collation, where only the schema's own choices keep the order bytewise.
    with (
        linguistic_postgres_database() as url,
        TestClient(create_app(Settings(DATABASE_URL=url))) as c,
    ):
        on_postgres = session_of_requests(c)
    for number, (left, right) in enumerate(zip(on_sqlite, on_postgres, strict=True)):
        assert left == right, f"answer {number} differs"


# --- PostgreSQL's lean reads: a pool of their own on the event loop -------------------------


on_postgresql_only = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def read_connections(client: TestClient, *, waiting: bool = False) -> list[int]:
    """The server processes of the app's read connections in its own database (those waiting
    on a lock only, with `waiting`). Each call looks on a connection of its own: a transaction
    sees pg_stat_activity as it was when it first looked."""
    sql = (
        "SELECT pid FROM pg_stat_activity"
        " WHERE application_name = :name AND datname = current_database()"
    )
    if waiting:
        sql += " AND wait_event_type = 'Lock'"
    with app_engine(client).connect() as connection:
        return list(connection.execute(text(sql), {"name": READ_CONNECTION_NAME}).scalars())


@on_postgresql_only
def test_read_connections_the_server_dropped_are_replaced_and_the_read_made_again(
    app_client: Callable[..., TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    """As after a server restart: every connection of the pool is gone at once."""
    client = app_client(RESPONSE_CACHE_MB=0, DB_POOL_SIZE=3)
    expected = client.get(f"/user-portfolio/{SAMPLE_OIDS[0]}")
    assert expected.status_code == 200
    pool = app_database(client)._read_pool
    assert pool is not None

    async def hold_three() -> None:  # so that the pool keeps three connections
        async with pool.connection(), pool.connection(), pool.connection():
            pass

    assert client.portal is not None
    client.portal.call(hold_three)
    dropped = read_connections(client)
    assert len(dropped) >= 3
    with app_engine(client).connect() as connection:
        for pid in dropped:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with caplog.at_level(logging.INFO, logger="db"):
        again = client.get(f"/user-portfolio/{SAMPLE_OIDS[0]}")
    assert again.status_code == 200 and again.content == expected.content
    assert any("reading again" in record.getMessage() for record in caplog.records)
    assert not set(read_connections(client)) & set(dropped)


def on_the_read_connection(client: TestClient, sql: str) -> list[Any]:
    """The first column of `sql`'s rows, on the read pool's connection (DB_POOL_SIZE=1)."""
    pool = app_database(client)._read_pool
    assert pool is not None

    async def run() -> list[Any]:
        async with pool.connection() as connection:
            cursor = await connection.execute(sql)
            return [row[0] for row in await cursor.fetchall()] if cursor.description else []

    assert client.portal is not None
    return client.portal.call(run)


@on_postgresql_only
def test_reads_prepare_their_statements_and_again_when_the_server_dropped_them(
    app_client: Callable[..., TestClient],
) -> None:
    client = app_client(RESPONSE_CACHE_MB=0, DB_POOL_SIZE=1)
    url = f"/user-portfolio/{SAMPLE_OIDS[1]}"
    expected = client.get(url)
    assert expected.status_code == 200
    names = on_the_read_connection(client, "SELECT name FROM pg_prepared_statements")
    # The customer with their data version, then each of the five lists.
    assert len([name for name in names if name.startswith("bank_")]) >= len(PORTFOLIO_SQL) == 6
    on_the_read_connection(client, "DEALLOCATE ALL")
    again = client.get(url)
    assert again.status_code == 200 and again.content == expected.content


@on_postgresql_only
def test_a_batch_of_prepares_cut_short_is_prepared_again(
    app_client: Callable[..., TestClient],
) -> None:
    """PostgreSQL keeps the PREPAREs of a batch before the one that failed."""
    client = app_client(RESPONSE_CACHE_MB=0, DB_POOL_SIZE=1)
    oid = SAMPLE_OIDS[1]
    assert client.get(f"/customer/{oid}/assets").status_code == 200
    engine = app_engine(client)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE spending RENAME TO spending_away"))
    try:
        assert client.get(f"/user-portfolio/{oid}").status_code == 500  # no spending table
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE spending_away RENAME TO spending"))
    answer = client.get(f"/user-portfolio/{oid}")
    assert answer.status_code == 200 and answer.json()["spending"]


def test_a_prepared_read_numbers_each_parameter_once_and_keeps_casts() -> None:
    prepared = Prepared.of("SELECT x::text FROM t WHERE a = :oid AND b < :limit OR c = :oid")
    assert prepared.prepare.endswith("SELECT x::text FROM t WHERE a = $1 AND b < $2 OR c = $1")
    assert prepared.execution == f"EXECUTE {prepared.name}(%(oid)s, %(limit)s)"
    assert Prepared.of("SELECT 1").execution == f"EXECUTE {Prepared.of('SELECT 1').name}"


def test_values_in_a_read_are_bound_as_values(client: TestClient) -> None:
    """Quotes, backslashes and SQL in a filter's value find what was stored under that value."""
    oid = SAMPLE_OIDS[0]
    category = "O'Brien \\ cafe'); DROP TABLE users; --"
    body = {**VALID["transactions"], "category": category}
    assert client.post(f"/customer/{oid}/transactions", json=body).status_code == 201
    found = client.get(f"/customer/{oid}/transactions", params={"category": category})
    assert found.status_code == 200
    assert [item["category"] for item in found.json()] == [category]


@on_postgresql_only
@pytest.mark.parametrize("cache_mb", [0, 64], ids=["read", "cache-version-lookup"])
def test_a_read_that_finds_no_free_connection_in_time_is_503_with_retry_after(
    app_client: Callable[..., TestClient], cache_mb: int
) -> None:
    """The full read, or with the cache on, the lookup of a kept answer's version."""
    client = app_client(RESPONSE_CACHE_MB=cache_mb, DB_POOL_SIZE=1, WRITE_QUEUE_TIMEOUT_SECONDS=0.5)
    url = f"/user-portfolio/{SAMPLE_OIDS[0]}"
    assert client.get(url).status_code == 200  # kept, when the cache is on
    with app_engine(client).connect() as locker, ThreadPoolExecutor(1) as pool:
        # Another session's lock keeps the one read connection busy with a first read.
        locker.execute(text("LOCK TABLE customer_versions IN ACCESS EXCLUSIVE MODE"))
        first = pool.submit(client.get, url)
        deadline = time.monotonic() + 10
        while not read_connections(client, waiting=True) and time.monotonic() < deadline:
            time.sleep(0.02)
        refused = client.get(url)
        locker.rollback()  # the lock goes: the first read finishes
        assert first.result(timeout=10).status_code == 200
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "2"
    assert refused.json() == {"detail": "The bank is busy with other reads; retry after 2 seconds"}


def test_an_app_start_freezes_what_lives_as_long_as_the_server(settings: Settings) -> None:
    """Started, the app has frozen what it made (main.freeze_what_lives_on), so that the
    collector's full passes no longer scan it."""
    gc.unfreeze()  # as in a new process
    assert gc.get_freeze_count() == 0
    with TestClient(create_app(settings)) as client:
        assert gc.get_freeze_count() > 0
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize("megabytes", [0, 8])
def test_sqlite_reads_the_file_through_a_memory_map_of_the_size_set(
    tmp_path: Path, megabytes: int
) -> None:
    settings = Settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'mapped.db'}", SQLITE_MMAP_MB=megabytes
    )
    engine = create_db_engine(settings)
    try:
        with engine.connect() as connection:
            size = connection.exec_driver_sql("PRAGMA mmap_size").scalar()
        assert size == megabytes * 2**20
    finally:
        engine.dispose()
