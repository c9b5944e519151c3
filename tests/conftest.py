"""Fixtures: a throwaway SQLite file per test, an in-process client, and a real uvicorn server."""

import contextlib
import functools
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, make_url, text

from main import create_app
from settings import PROJECT_DIR, Settings, normalize_database_url

SAMPLE_OIDS = [f"550e8400-e29b-41d4-a716-44665544000{n}" for n in range(1, 6)]
NEW_OID = "123e4567-e89b-42d3-a456-426614174000"
MCP_TOOLS = {
    "list_customers",
    "get_portfolio",
    "customer_exists",
    "get_transactions",
    "list_institutions",
    "register_customer",
    "import_portfolio",
    "delete_customer",
}


@pytest.fixture
def anyio_backend() -> str:
    """The MCP tests run on asyncio, the loop uvicorn and the SDK use in production."""
    return "asyncio"


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
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database on each engine: every test that uses one runs on both."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bank.db'}"
        return
    reason = postgres_unavailable()
    if reason is not None:
        pytest.skip(reason)
    with postgres_schema() as url:
        yield url


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(DATABASE_URL=database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def engine(client: TestClient) -> Engine:
    """The running app's own engine, for arranging data the HTTP API cannot create yet."""
    app_engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    return app_engine


def run_python(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `python <args>` in the project directory against the database at `database_url`."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=180,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LiveServer:
    """The service started as `make run` starts it, on a free port and its own database."""

    def __init__(
        self, database_url: str, log_path: Path, env: dict[str, str] | None = None
    ) -> None:
        self.database_url = database_url
        self.env = env or {}
        self.log_path = log_path
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "warning",
            **self.env,
        }
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "main.py"], cwd=PROJECT_DIR, env=env, stdout=log, stderr=log
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
            self.process.wait(timeout=15)
        self.process = None


@pytest.fixture
def live_server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    server = LiveServer(database_url, tmp_path / "server.log")
    server.start()
    yield server
    server.stop()
