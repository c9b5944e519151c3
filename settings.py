"""Every setting the service reads, in one pydantic-settings object (environment or `.env`)."""

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from limits import parse_many
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent

LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
DEFAULT_CORS_ORIGINS = [
    "http://localhost:3000",
    "http://localhost:3001",
    "http://localhost:8000",
    "http://localhost:8001",
]


def normalize_database_url(url: str) -> str:
    """Point postgres:// and postgresql:// URLs at the psycopg 3 driver this project ships."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=PROJECT_DIR / ".env", env_file_encoding="utf-8", extra="ignore"
    )

    # Anchored to this file, not the working directory, so every entry point shares one database.
    DATABASE_URL: str = f"sqlite:///{PROJECT_DIR / 'banking.db'}"
    HOST: str = "127.0.0.1"
    PORT: int = 3000
    # NoDecode: a plain comma-separated list, not JSON, is what people type into an environment.
    CORS_ORIGINS: Annotated[list[str], NoDecode] = DEFAULT_CORS_ORIGINS
    # Host names (any port) the server answers besides localhost, 127.0.0.1 and [::1], whatever
    # HOST it binds to: a page whose name resolves to this machine (DNS rebinding) gets 400.
    # "*" answers every Host. /mcp checks browsers' Origin against the same names.
    ALLOWED_HOSTS: Annotated[list[str], NoDecode] = []
    LOG_LEVEL: str = "info"
    # Sized above the 40 worker threads that serve sync routes, so requests wait on the
    # database, never on the pool.
    DB_POOL_SIZE: int = 20
    DB_MAX_OVERFLOW: int = 30
    SQLITE_BUSY_TIMEOUT_MS: int = 10_000
    # SQLite reads the database file through a memory map of up to this many MB (0: with
    # read(), page by page into a cache of its own). The mapped pages are the operating
    # system's page cache, shared, not memory of the process's own (README, Benchmark).
    SQLITE_MMAP_MB: int = Field(default=1024, ge=0)
    # SQLite: writes of one process take turns in a queue; one that cannot start within this
    # many seconds is answered 503 with Retry-After. The busy timeout is the backstop between
    # processes. PostgreSQL: a read that finds no free connection within it is 503 likewise.
    WRITE_QUEUE_TIMEOUT_SECONDS: float = Field(default=30, gt=0)
    # Request bodies over this many bytes are refused with 413 before they are read whole.
    MAX_BODY_BYTES: int = Field(default=1_048_576, ge=1)
    # A request line and headers over this many bytes together are refused with 431 as they
    # arrive (server.py). Generous beside nginx (4 buffers of 8 KiB), Node.js (16 KiB) and h11
    # (16 KiB): room for large cookies and tokens, while an endless header costs 64 KiB.
    MAX_HEADER_BYTES: int = Field(default=65_536, ge=1024)
    # More header lines than this are refused with 431: gunicorn's and Apache's default
    # (limit_request_fields, LimitRequestFields). Browsers send about 20.
    MAX_HEADER_COUNT: int = Field(default=100, ge=1)
    # When set, every endpoint but /health and the docs needs `X-API-Key: <key>` or
    # `Authorization: Bearer <key>`; /mcp too. Unset: open, as a local sandbox is.
    BANK_API_KEY: SecretStr | None = None
    # 1: every write (over HTTP and MCP) is refused with 403 and changes nothing.
    BANK_READ_ONLY: bool = False
    # On SIGTERM or Ctrl-C, requests in flight get this long to finish before the server stops.
    SHUTDOWN_TIMEOUT_SECONDS: int = Field(default=30, ge=1)
    # Memory per server process for the response cache (response_cache.py); 0: none.
    RESPONSE_CACHE_MB: int = Field(default=64, ge=0)
    # The sandbox's today on its first start (YYYY-MM-DD): the day generated histories end on,
    # for reproducible data. Unset: the real date in UTC. Kept in the database from then on.
    # Not before 2017: prices start on 2016-01-04 (bank/market.py), and a sample's year of
    # history is priced throughout.
    SANDBOX_START_DATE: dt.date | None = Field(default=None, ge=dt.date(2017, 1, 1))

    # Webhooks (bank/webhooks.py): a delivery the receiver does not answer with a 2xx within
    # WEBHOOK_TIMEOUT_SECONDS is tried again, after a delay that doubles from
    # WEBHOOK_RETRY_BASE_SECONDS up to WEBHOOK_RETRY_MAX_SECONDS, each with jitter (between half
    # and all of it), until WEBHOOK_MAX_ATTEMPTS attempts have failed.
    WEBHOOK_TIMEOUT_SECONDS: float = Field(default=10, gt=0, le=300)
    WEBHOOK_MAX_ATTEMPTS: int = Field(default=8, ge=1, le=100)
    WEBHOOK_RETRY_BASE_SECONDS: float = Field(default=5, gt=0)
    WEBHOOK_RETRY_MAX_SECONDS: float = Field(default=3600, gt=0)
    # How often the dispatcher looks for deliveries that another process stored (seed.py, other
    # workers); its own process's writes wake it at once.
    WEBHOOK_POLL_SECONDS: float = Field(default=1, gt=0, le=60)

    # Rate limits per API key (where BANK_API_KEY is set) or client address, in the `limits`
    # library's notation: `100/second;2000/minute`. Unset: none. Counted per server process.
    RATE_LIMIT: str | None = None
    # A fault profile to start with (PUT /sandbox/faults): its JSON, or the path of a file
    # holding it. Unset: no faults but those a request asks for.
    SANDBOX_FAULT_PROFILE: str | None = None

    @field_validator("RATE_LIMIT", "SANDBOX_FAULT_PROFILE", mode="before")
    @classmethod
    def empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("RATE_LIMIT")
    @classmethod
    def known_limits(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_many(value)
            except ValueError:
                raise ValueError("not a list of limits such as 100/second;2000/minute") from None
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def use_psycopg(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator("CORS_ORIGINS", "ALLOWED_HOSTS", mode="before")
    @classmethod
    def split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("BANK_API_KEY", mode="before")
    @classmethod
    def empty_key_is_none(cls, value: object) -> object:
        # BANK_API_KEY= (empty) in a .env means no key, not a key anyone can send.
        return None if value == "" else value

    @field_validator("LOG_LEVEL")
    @classmethod
    def lower_log_level(cls, value: str) -> str:
        return value.lower()

    @property
    def allowed_hosts(self) -> list[str]:
        """The Host names this server answers: the loopback names, then ALLOWED_HOSTS."""
        return [*LOOPBACK_HOSTS, *(host.lower() for host in self.ALLOWED_HOSTS)]


@lru_cache
def get_settings() -> Settings:
    return Settings()
