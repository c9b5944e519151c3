"""Fixtures: databases on both engines, in-process clients, and real uvicorn servers.

Tests that use an engine run on both: the `backend` fixture is parametrized on SQLite and
PostgreSQL. Apps and servers that a test does not stop or break are shared for the session, per
engine and settings, and put back to the freshly seeded state before each test takes one.
"""

import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp import Client
from sqlalchemy import Engine

from main import create_app
from mcp_server import build_mcp_server
from settings import Settings
from tests.fixtures import (
    ENGINES,
    SANDBOX_DAY,
    TEST_CLIENT_HOST,
    LiveServer,
    Shared,
    app_database,
    app_engine,
    empty_database,
    postgres_unavailable,
    running,
    vacuum_catalogs,
)


def pytest_configure(config: pytest.Config) -> None:
    """Starlette's TestClient sends `Host: testserver`, which the app does not answer unless
    ALLOWED_HOSTS names it (only localhost, 127.0.0.1 and [::1] by default)."""
    os.environ["ALLOWED_HOSTS"] = TEST_CLIENT_HOST
    # Every database the tests make starts on the same day: the same samples, whatever the date.
    os.environ["SANDBOX_START_DATE"] = SANDBOX_DAY.isoformat()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Start each worker's share with its part of the slow tests, so that no worker ends the
    run alone on a long test while the others have nothing left. pytest-xdist's worksteal hands
    each worker one contiguous, equal part of this list, then balances what remains. Every test
    still runs; only the order changes."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    slow = [item for item in items if item.get_closest_marker("slow")]
    fast = iter([item for item in items if not item.get_closest_marker("slow")])
    ordered: list[pytest.Item] = []
    for worker in range(workers):
        ordered += slow[worker::workers]
        share_end = len(items) * (worker + 1) // workers
        ordered += itertools.islice(fast, max(0, share_end - len(ordered)))
    items[:] = ordered + list(fast)


@pytest.fixture
def anyio_backend() -> str:
    """The MCP tests run on asyncio, the loop uvicorn and the SDK use in production."""
    return "asyncio"


@pytest.fixture(params=ENGINES)
def backend(request: pytest.FixtureRequest) -> str:
    """The database engine: every test that uses one runs on both."""
    name: str = request.param
    if name == "postgresql":
        reason = postgres_unavailable()
        if reason is not None:
            pytest.skip(reason)
    return name


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the test's own."""
    with empty_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(DATABASE_URL=database_url)


@pytest.fixture(scope="session")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    shared = Shared(tmp_path_factory.mktemp("shared"))
    yield shared
    shared.close()
    vacuum_catalogs()


@pytest.fixture
def app_client(backend: str, shared: Shared) -> Callable[..., TestClient]:
    """A client of the app with the given settings, on freshly seeded data."""

    def client(**settings: Any) -> TestClient:
        return shared.client(backend, **settings)

    return client


@pytest.fixture
def client(app_client: Callable[..., TestClient]) -> TestClient:
    """The app with default settings, on freshly seeded data."""
    return app_client()


@pytest.fixture
def own_client(settings: Settings) -> Iterator[TestClient]:
    """An app of the test's own, on its own database: for a test that breaks the database."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def engine(client: TestClient) -> Engine:
    """The running app's own engine, for arranging data the HTTP API cannot create yet."""
    return app_engine(client)


@pytest.fixture
def live_server(backend: str, shared: Shared) -> LiveServer:
    """A real server with default settings, on freshly seeded data. Not to be stopped."""
    return shared.server(backend)


@pytest.fixture
def own_live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A real server of the test's own, on its own database: for a test that stops it."""
    with running(LiveServer(database_url, tmp_path / "server.log")) as server:
        yield server


@pytest.fixture
async def mcp(client: TestClient) -> AsyncIterator[Client]:
    """An MCP client connected in-process to the server, over the same database as `client`."""
    async with Client(build_mcp_server(lambda: app_database(client))) as mcp_client:
        yield mcp_client
