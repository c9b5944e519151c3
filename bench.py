"""`make bench`: the bank against FastAPI's ceiling, at 100,000 customers, under writes and races.

Read loads are driven with wrk in alternating rounds against the bank and against the reference
app (bench_reference.py: the same bytes from memory, same uvicorn settings). Repeated reads ask
for the same customer on every request, so the response cache answers them; first reads ask for
a random one of the 100,005 customers, one not asked for before, so it cannot. Writes, a storm
of imports, deletes and reads, and a PUT/DELETE race are driven by an asyncio + httpx client.
The parts with 100,000 customers run on SQLite and, when it answers, on PostgreSQL, each on a
fresh copy of a database generated once. Results go to stdout as Markdown tables.

`--only` runs some parts: repeated, scale, reads, writes, storm, race, webhooks (repeatable).
"""

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import re
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import uvloop
from psycopg import sql

PROJECT_DIR = Path(__file__).resolve().parent
SAMPLE = "550e8400-e29b-41d4-a716-446655440002"
LARGE_CUSTOMERS = 100_000
# A month of history each (about 60 transactions a retail customer) on a fixed sandbox date.
SEED_OPTIONS = ["--seed", "42", "--months", "1"]
SANDBOX_START_DATE = "2026-11-02"
CONNECTIONS = 16
PARTS = ("repeated", "scale", "reads", "writes", "storm", "race", "webhooks")
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432"
RUN_DATABASE = "bench_bank_run"  # the PostgreSQL copy each run works on, dropped afterwards
# With two CPUs or more, the server under test runs on the first and wrk on the others, for the
# bank and the reference alike: neither then loses its CPU to the load generator mid-request,
# which otherwise dominates the p99 of a two-core machine. One wrk thread per CPU it has: two
# threads on one CPU would add their own waits for each other to the latencies they measure.
# The httpx client of the write parts runs on wrk's CPUs too. PostgreSQL's own processes are
# not pinned: they run wherever the kernel puts them.
CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPUS, WRK_CPUS = ({CPUS[0]}, set(CPUS[1:])) if len(CPUS) > 1 else (set(CPUS), set(CPUS))

# First reads: every request asks for a random customer of BENCH_OIDS (one CustomerOID a line)
# in the path BENCH_PATH ("%s" for the oid), one that this wrk run has not asked for yet: each of
# the BENCH_THREADS threads draws without replacement from its own share of the file (every
# BENCH_THREADS-th line), with its own generator, seeded from BENCH_SEED and its number. Only
# once a thread has asked for its whole share does it start over. With BENCH_PICKS set, done()
# writes every customer asked for there, so that bench.py can leave them out of the next run's
# file and count any customer asked for twice.
RANDOM_CUSTOMER_LUA = """\
local threads, started = {}, 0
local oids, left = {}, 0
local path = os.getenv("BENCH_PATH")
picks = {}  -- a global: done() reads each thread's with thread:get

function setup(thread)
  started = started + 1
  thread:set("number", started)
  table.insert(threads, thread)
end

function init(args)
  local count, line_number = tonumber(os.getenv("BENCH_THREADS")), 0
  for line in io.lines(os.getenv("BENCH_OIDS")) do
    if line_number % count == number - 1 then
      oids[#oids + 1] = line
    end
    line_number = line_number + 1
  end
  math.randomseed(tonumber(os.getenv("BENCH_SEED")) + 7919 * number)
end

function request()
  if left == 0 then
    left = #oids
  end
  local pick = math.random(left)
  local oid = oids[pick]
  oids[pick], oids[left] = oids[left], oid
  left = left - 1
  picks[#picks + 1] = oid
  return wrk.format(nil, string.format(path, oid))
end

function done(summary, latency, requests)
  local name = os.getenv("BENCH_PICKS")
  if name == nil or name == "" then
    return
  end
  local file = io.open(name, "w")
  for _, thread in ipairs(threads) do
    for _, oid in ipairs(thread:get("picks")) do
      file:write(oid, "\\n")
    end
  end
  file:close()
end
"""
FIRST_READ_TARGETS = {
    "GET /user-portfolio/{random oid}": "/user-portfolio/%s",
    "GET /customer/{random oid}/transactions (first page)": "/customer/%s/transactions",
    "GET /customer/{random oid}/assets": "/customer/%s/assets",
}
WRITE_TRANSACTIONS = 500
STORM_TRANSACTIONS = 2_000
JSON_HEADERS = {"Content-Type": "application/json"}


def on_cpus(cpus: set[int]) -> Callable[[], None]:
    """A preexec_fn that pins the child process to `cpus`."""
    return lambda: os.sched_setaffinity(0, cpus)


@contextlib.contextmanager
def pinned(cpus: set[int]) -> Iterator[None]:
    """Run the block with this process pinned to `cpus`, then as before."""
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    """One wrk round, or the median of several."""

    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  # non-2xx/3xx answers, and socket errors (timeouts included)
    tail: float  # p99 / p50; for a median result, the median of the rounds' own ratios


def free_port() -> int:
    """A TCP port nothing listens on at the moment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(
    app: str, *, env: dict[str, str], unset: tuple[str, ...] = ()
) -> Iterator[tuple[str, int]]:
    """Run `uvicorn app` (one worker, the bank's HTTP protocol, no access log) until the block
    ends; yields (url, pid).

    `unset` names variables of this environment the server must not see (it takes its default).
    """
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--http", "server:BankHttpProtocol", "--no-access-log",
        "--log-level", "warning",
    ]  # fmt: skip
    inherited = {name: value for name, value in os.environ.items() if name not in unset}
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env={**inherited, "LOG_LEVEL": "warning", **env},
        stdout=subprocess.DEVNULL,
        preexec_fn=on_cpus(SERVER_CPUS),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=2).status_code < 500:
                    break
            if process.poll() is not None:
                raise RuntimeError(f"{app} exited with status {process.returncode}")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{app} did not start")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(
    url: str, seconds: int, *, script: Path | None = None, env: dict[str, str] | None = None
) -> WrkResult:
    """One wrk round of `seconds` against `url`, with the Lua `script` if given."""
    options = ["-s", str(script)] if script is not None else []
    run = subprocess.run(
        ["wrk", "-t", str(len(WRK_CPUS)), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
         "--latency", *options, url],
        capture_output=True, text=True, preexec_fn=on_cpus(WRK_CPUS),
        env={**os.environ, **(env or {})},
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"wrk failed ({run.returncode}): {run.stderr.strip()}")
    output = run.stdout

    def latency(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        assert match, output
        value, unit = float(match[1]), match[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert rate, output
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = (int(errors[1]) if errors else 0) + (sum(map(int, sockets.groups())) if sockets else 0)
    p50, p99 = latency("50"), latency("99")
    return WrkResult(float(rate[1]), p50, p99, failed, p99 / p50)


def alternate(
    bank: Callable[[int], WrkResult],
    reference: Callable[[int], WrkResult],
    rounds: int,
    seconds: int,
) -> tuple[WrkResult, WrkResult]:
    """A 3 s warm-up of each side, then `rounds` alternating rounds; each side's median round."""
    bank(3)
    reference(3)
    bank_runs, reference_runs = [], []
    for _ in range(rounds):
        bank_runs.append(bank(seconds))
        reference_runs.append(reference(seconds))
    return median_result(bank_runs), median_result(reference_runs)


@contextlib.contextmanager
def reference_serving(body: bytes) -> Iterator[str]:
    """The reference app answering `body` to every GET, until the block ends; yields its URL."""
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        with serve("bench_reference:app", env={"BENCH_REFERENCE_BODY": file.name}) as (url, _):
            yield url


def compare(bank_url: str, path: str, rounds: int, seconds: int) -> tuple[WrkResult, WrkResult]:
    """Alternate rounds of the bank and the reference serving the bank's own bytes for `path`."""
    with reference_serving(httpx.get(bank_url + path).content) as reference_url:
        return alternate(
            lambda s: wrk(bank_url + path, s),
            lambda s: wrk(reference_url + path, s),
            rounds,
            seconds,
        )


@dataclass
class FirstReads:
    """A first-read comparison, and how many of the bank's requests asked for a customer
    already asked for (an upper bound on the requests its response cache could answer)."""

    bank: WrkResult
    reference: WrkResult
    picks: int
    repeated_picks: int
    servers: int  # bank servers started, each with an empty cache


def compare_first_reads(
    serve_bank: Callable[[], contextlib.AbstractContextManager[tuple[str, int]]],
    path: str,
    oids_file: Path,
    rounds: int,
    seconds: int,
    workdir: Path,
) -> FirstReads:
    """Alternate rounds of the bank, each request for a random customer of `oids_file` not
    asked for before (in `path`, at "%s"), and the reference serving one random customer's
    answer.

    The bank is a server of `serve_bank`'s. Before a round could run out of customers not yet
    asked for (fewer left than twice the last round asked for), it is replaced by a new one,
    warmed up for a second, whose response cache is empty: every customer is new to it."""
    script = workdir / "random_customer.lua"
    script.write_text(RANDOM_CUSTOMER_LUA)
    picks_file, left_file = workdir / "picks.txt", workdir / "not-asked.oids"
    every = oids_file.read_text().split()
    counts = Counter[str]()
    asked: set[str] = set()
    last_round = 0
    with contextlib.ExitStack() as servers:
        bank_url = ""

        def new_bank() -> None:
            nonlocal bank_url
            servers.close()
            asked.clear()
            bank_url, _ = servers.enter_context(serve_bank())
            counts["servers"] += 1

        def run(seconds: int, *, record: bool, url: str = "") -> WrkResult:
            nonlocal last_round
            if record:
                left = [oid for oid in every if oid not in asked]
                if len(left) < 2 * last_round:
                    new_bank()
                    run(1, record=True)  # its warm-up, on customers then counted as asked
                    left = [oid for oid in every if oid not in asked]
                left_file.write_text("".join(f"{oid}\n" for oid in left or every))
            env = {
                "BENCH_OIDS": str(left_file if record else oids_file),
                "BENCH_PATH": path,
                "BENCH_THREADS": str(len(WRK_CPUS)),
                "BENCH_SEED": str(random.randrange(1, 2**31)),
                "BENCH_PICKS": str(picks_file) if record else "",
            }
            result = wrk(url or bank_url, seconds, script=script, env=env)
            if record:
                picks = picks_file.read_text().split()
                last_round = len(picks)
                for oid in picks:
                    counts["picks"] += 1
                    counts["repeated"] += oid in asked
                    asked.add(oid)
                picks_file.unlink()
            return result

        new_bank()
        sample = random.choice(every)
        one = httpx.get(bank_url + path % sample)
        one.raise_for_status()
        asked.add(sample)  # its answer is kept now
        with reference_serving(one.content) as reference_url:
            bank, reference = alternate(
                lambda s: run(s, record=True),
                lambda s: run(s, record=False, url=reference_url),
                rounds,
                seconds,
            )
    left_file.unlink()
    return FirstReads(bank, reference, counts["picks"], counts["repeated"], counts["servers"])


def median_result(runs: list[WrkResult]) -> WrkResult:
    """The median of each figure over the rounds; errors are summed."""
    return WrkResult(
        statistics.median(r.requests_per_second for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
        statistics.median(r.tail for r in runs),
    )


def rss_mb(pid: int) -> tuple[float, float]:
    """The resident memory of process `pid`, in MB: all of it, and the part that is mapped files
    (the interpreter, its libraries and the SQLite file read through its memory map), which is
    the page cache's, shared, not the process's own."""
    status = Path(f"/proc/{pid}/status").read_text()

    def field(name: str) -> float:
        match = re.search(rf"{name}:\s+(\d+) kB", status)
        return int(match[1]) / 1024 if match else float("nan")

    return field("VmRSS"), field("RssFile")


def page_url(bank_url: str, page: int, *, limit: int = 100) -> str:
    """The URL of /customers page `page` (1-based), found by following Link headers."""
    url = f"{bank_url}/customers?limit={limit}"
    with httpx.Client() as http:
        for _ in range(page - 1):
            link = http.get(url).headers["link"]
            url = link[1 : link.index(">")]
    return url


# --- The large databases --------------------------------------------------------------------


def seed_customers(database_url: str, customers: int) -> None:
    """Load the samples and `customers` synthetic customers into `database_url` with seed.py."""
    subprocess.run(
        [sys.executable, "seed.py", "--customers", str(customers), *SEED_OPTIONS],
        cwd=PROJECT_DIR,
        env={**os.environ, "DATABASE_URL": database_url, "SANDBOX_START_DATE": SANDBOX_START_DATE},
        check=True, stdout=subprocess.DEVNULL,
    )  # fmt: skip


def migrate_to_head(database_url: str) -> None:
    """Bring a database generated by an earlier version up to this one's schema, once, rather
    than on every copy a server starts on (a copy of a large table takes a while)."""
    subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=PROJECT_DIR, env={**os.environ, "DATABASE_URL": database_url},
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def sqlite_large_database(workdir: Path, customers: int) -> Path:
    """The SQLite database of the samples and `customers` synthetic customers, generated once.

    It is generated under another name and renamed when complete, so an interrupted generation
    is never taken for a finished one.
    """
    path = workdir / f"large-{customers}-{'-'.join(SEED_OPTIONS[2:])}.db"
    if path.exists():
        migrate_to_head(f"sqlite:///{path}")
        return path
    partial = path.with_name(path.name + ".partial")
    for stale in [*workdir.glob(partial.name + "*"), path.with_suffix(".oids")]:
        stale.unlink(missing_ok=True)
    print(f"Generating {customers:,} customers into {path} (once) ...", file=sys.stderr, flush=True)
    seed_customers(f"sqlite:///{partial}", customers)
    with contextlib.closing(sqlite3.connect(partial)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # all in the one file
    partial.rename(path)
    return path


def admin_connection(server_url: str) -> psycopg.Connection[tuple[Any, ...]]:
    """An autocommit connection to the PostgreSQL server's `postgres` database."""
    return psycopg.connect(f"{server_url}/postgres", autocommit=True, connect_timeout=5)


def postgres_version(server_url: str) -> str | None:
    """The PostgreSQL server's version, or None (and a line saying so) when it is unreachable."""
    try:
        with admin_connection(server_url) as connection:
            row = connection.execute("SHOW server_version").fetchone()
    except psycopg.OperationalError as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(
            f"PostgreSQL at {server_url} is unreachable ({reason}): its measurements are skipped."
        )
        return None
    return str(row[0]) if row else "unknown"


def postgres_large_database(server_url: str, workdir: Path, customers: int) -> str:
    """The name of the PostgreSQL database of the samples and `customers` synthetic customers,
    generated once: a comment on the database marks it complete."""
    name = f"bench_bank_large_{customers}"
    marker = f"make bench: {customers} synthetic customers, {' '.join(SEED_OPTIONS)}, complete"
    database = sql.Identifier(name)
    with admin_connection(server_url) as connection:
        row = connection.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [name],
        ).fetchone()
        if row is not None and row[0] == marker:
            migrate_to_head(f"{server_url}/{name}")
            return name
        print(
            f"Generating {customers:,} customers into PostgreSQL database {name} (once; a few"
            " minutes at 100,000) ...",
            file=sys.stderr,
            flush=True,
        )
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(database))
        connection.execute(sql.SQL("CREATE DATABASE {}").format(database))
    (workdir / f"{name}.oids").unlink(missing_ok=True)
    seed_customers(f"{server_url}/{name}", customers)
    with psycopg.connect(f"{server_url}/{name}", autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")  # statistics and visibility maps, as in production
    with admin_connection(server_url) as connection:
        comment = sql.SQL("COMMENT ON DATABASE {} IS {}").format(database, sql.Literal(marker))
        connection.execute(comment)
    return name


@contextlib.contextmanager
def sqlite_copy(large_db: Path) -> Iterator[str]:
    """A copy of `large_db` for one run, removed when the block ends; yields its URL."""
    run_db = large_db.with_name("large-run.db")
    shutil.copyfile(large_db, run_db)
    try:
        yield f"sqlite:///{run_db}"
    finally:
        for path in run_db.parent.glob(run_db.name + "*"):
            path.unlink()


@contextlib.contextmanager
def postgres_copy(server_url: str, template: str) -> Iterator[str]:
    """A copy of the database `template` for one run, dropped when the block ends; yields its
    URL."""
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(RUN_DATABASE))
    with admin_connection(server_url) as connection:
        # A file copy: much faster than WAL-logging every block of a large database (PG 15+).
        strategy = " STRATEGY FILE_COPY" if connection.info.server_version >= 150000 else ""
        connection.execute(drop)
        connection.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}" + strategy).format(
                sql.Identifier(RUN_DATABASE), sql.Identifier(template)
            )
        )
    try:
        yield f"{server_url}/{RUN_DATABASE}"
    finally:
        with admin_connection(server_url) as connection:
            connection.execute(drop)


def oids_file(path: Path, database_url: str) -> Path:
    """`path`, holding every CustomerOID of `database_url` one a line, written once."""
    if path.exists():
        return path
    query = "SELECT customer_oid FROM users ORDER BY customer_oid"
    if database_url.startswith("sqlite:///"):
        with contextlib.closing(
            sqlite3.connect(database_url.removeprefix("sqlite:///"))
        ) as connection:
            oids = [oid for (oid,) in connection.execute(query)]
    else:
        with psycopg.connect(database_url) as connection:
            oids = [oid for (oid,) in connection.execute(query)]
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(f"{oid}\n" for oid in oids))
    partial.rename(path)
    return path


@dataclass(frozen=True)
class Engine:
    """One database engine the bank runs on, and its large database."""

    name: str
    copy: Callable[[], contextlib.AbstractContextManager[str]]  # yields a run copy's URL
    oids: Path  # every customer of the large database, one a line


# --- The asyncio + httpx client -------------------------------------------------------------


@dataclass
class Tally:
    """The answers to one kind of request: how many of each status, and how long they took."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)

    def add(self, status: str, started: float) -> None:
        """Count one answer (a status code, or the exception that replaced it)."""
        self.statuses[status] += 1
        self.latencies_ms.append((time.perf_counter() - started) * 1000)

    @property
    def total(self) -> int:
        """Every request, answered or not."""
        return sum(self.statuses.values())

    def starting_with(self, digit: str) -> int:
        """The answers whose status starts with `digit`: "2" for successes, "5" for 5xx."""
        return sum(n for status, n in self.statuses.items() if status.startswith(digit))

    @property
    def unanswered(self) -> int:
        """Requests that got no status at all (timeouts, dropped connections)."""
        return sum(n for status, n in self.statuses.items() if not status.isdigit())

    def by_status(self) -> str:
        """Each status with its count, in order: `200: 12, 404: 3`."""
        return ", ".join(f"{status}: {n:,}" for status, n in sorted(self.statuses.items()))

    def percentile_ms(self, fraction: float) -> float:
        """The latency under which `fraction` of the requests were answered."""
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


async def send(
    http: httpx.AsyncClient, tally: Tally, method: str, path: str, *, body: bytes | None = None
) -> httpx.Response | None:
    """Send one request and count its answer in `tally`; None when no answer came."""
    started = time.perf_counter()
    try:
        response = await http.request(
            method, path, content=body, headers=JSON_HEADERS if body is not None else None
        )
    except httpx.TransportError as error:
        tally.add(type(error).__name__, started)
        return None
    tally.add(str(response.status_code), started)
    return response


def client(bank_url: str) -> httpx.AsyncClient:
    """A client for many concurrent requests, patient enough for a queue of large imports."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    return httpx.AsyncClient(base_url=bank_url, timeout=120, limits=limits)


def cpu_seconds(pid: int) -> float:
    """The CPU time process `pid` has used so far (user and system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_client(load: Awaitable[None]) -> tuple[float, float]:
    """Run `load` on uvloop, pinned to the load generator's CPUs; (seconds, CPU share)."""
    started, cpu_started = time.perf_counter(), time.process_time()

    async def measured() -> None:
        await load

    with pinned(WRK_CPUS), asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(measured())
    seconds = time.perf_counter() - started
    return seconds, (time.process_time() - cpu_started) / seconds


def portfolio_document(portfolio: dict[str, Any], transactions: int) -> bytes:
    """A PUT /user-portfolio body: `portfolio` (a GET answer) with `transactions` transactions,
    its own repeated a day earlier each time round."""
    own = [
        {key: value for key, value in item.items() if key not in ("id", "customer_oid")}
        for item in portfolio["transactions"]
    ]
    items = []
    for n in range(transactions):
        item = dict(own[n % len(own)])
        date = dt.date.fromisoformat(item["date"]) - dt.timedelta(days=n // len(own))
        items.append({**item, "date": date.isoformat()})
    document = {key: value for key, value in portfolio.items() if key != "portfolio_summary"}
    return json.dumps({**document, "transactions": items}).encode()


def random_name(rng: random.Random) -> str:
    """A customer name nobody registered yet, most likely."""
    first, last = ("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=k)) for k in (6, 9))
    return f"{first.title()} {last.title()}"


@dataclass
class Throughput:
    """A closed-loop write load: its answers, how long it ran, and the client's and the
    server's CPU shares (of one CPU)."""

    tally: Tally
    seconds: float
    client_cpu: float
    server_cpu: float

    @property
    def per_second(self) -> float:
        """Successful (2xx) requests per second."""
        return self.tally.starting_with("2") / self.seconds


def throughput(
    bank_url: str,
    server_pid: int,
    request: Callable[[random.Random], tuple[str, str, bytes]],
    *,
    clients: int,
    seconds: float,
) -> Throughput:
    """`clients` clients sending `request(rng)` (method, path, body) one after the other for
    `seconds`, to the server `server_pid` at `bank_url`."""
    tally = Tally()
    server_started = cpu_seconds(server_pid)

    async def load() -> None:
        deadline = time.perf_counter() + seconds
        async with client(bank_url) as http:

            async def one_client(number: int) -> None:
                rng = random.Random(number)
                while time.perf_counter() < deadline:
                    method, path, body = request(rng)
                    await send(http, tally, method, path, body=body)

            await asyncio.gather(*(one_client(n) for n in range(clients)))

    elapsed, cpu = run_client(load())
    return Throughput(tally, elapsed, cpu, (cpu_seconds(server_pid) - server_started) / elapsed)


@dataclass
class Storm:
    """What each kind of storm client got, and the half-imported portfolios it read."""

    puts_shared: Tally = field(default_factory=Tally)
    puts_own: Tally = field(default_factory=Tally)
    deletes: Tally = field(default_factory=Tally)
    reads_shared: Tally = field(default_factory=Tally)
    reads_own: Tally = field(default_factory=Tally)
    half_imported: Counter[int] = field(default_factory=Counter)  # transaction count: reads


def storm(bank_url: str, document: bytes, *, seconds: float) -> Storm:
    """16 clients PUT `document` (8 on 3 shared customers, 8 on one customer each), 2 DELETE
    the shared customers over and over, 6 GET portfolios of both kinds, for `seconds`."""
    shared = [str(uuid.uuid4()) for _ in range(3)]
    own = [str(uuid.uuid4()) for _ in range(8)]
    result = Storm()

    async def load() -> None:
        async with client(bank_url) as http:
            # Every customer exists when the storm begins.
            await asyncio.gather(
                *(
                    send(http, Tally(), "PUT", f"/user-portfolio/{oid}", body=document)
                    for oid in shared + own
                )
            )
            deadline = time.perf_counter() + seconds

            async def put_shared(number: int) -> None:
                rng = random.Random(number)
                while time.perf_counter() < deadline:
                    oid = rng.choice(shared)
                    await send(
                        http, result.puts_shared, "PUT", f"/user-portfolio/{oid}", body=document
                    )

            async def put_own(oid: str) -> None:
                while time.perf_counter() < deadline:
                    await send(
                        http, result.puts_own, "PUT", f"/user-portfolio/{oid}", body=document
                    )

            async def delete(number: int) -> None:
                while time.perf_counter() < deadline:
                    oid = shared[number % len(shared)]
                    await send(http, result.deletes, "DELETE", f"/customer/{oid}")
                    number += 1

            async def read(number: int) -> None:
                rng = random.Random(100 + number)
                while time.perf_counter() < deadline:
                    is_shared = rng.random() < 0.5
                    oid = rng.choice(shared if is_shared else own)
                    tally = result.reads_shared if is_shared else result.reads_own
                    response = await send(http, tally, "GET", f"/user-portfolio/{oid}")
                    if response is not None and response.status_code == 200:
                        count = len(response.json()["transactions"])
                        if count not in (0, STORM_TRANSACTIONS):
                            result.half_imported[count] += 1

            await asyncio.gather(
                *(put_shared(n) for n in range(8)),
                *(put_own(oid) for oid in own),
                *(delete(n) for n in range(2)),
                *(read(n) for n in range(6)),
            )

    run_client(load())
    return result


def race(bank_url: str, document: bytes, *, rounds: int, customers: int) -> tuple[Tally, Tally]:
    """`rounds` rounds over `customers` customers, each round a PUT of `document` and a DELETE
    of the same customer sent at the same moment; (PUT answers, DELETE answers)."""
    oids = [str(uuid.uuid4()) for _ in range(customers)]
    puts, deletes = Tally(), Tally()

    async def load() -> None:
        async with client(bank_url) as http:
            # Open every connection the rounds need, and let each customer exist to begin with.
            await asyncio.gather(*(http.get("/health") for _ in range(2 * customers)))
            await asyncio.gather(
                *(
                    send(http, Tally(), "PUT", f"/user-portfolio/{oid}", body=document)
                    for oid in oids
                )
            )
            for number in range(rounds):
                pairs = [
                    (
                        send(http, puts, "PUT", f"/user-portfolio/{oid}", body=document),
                        send(http, deletes, "DELETE", f"/customer/{oid}"),
                    )
                    for oid in oids
                ]
                # Which of the two leaves first alternates from round to round.
                await asyncio.gather(*(r for pair in pairs for r in pair[:: 1 - 2 * (number % 2)]))

    run_client(load())
    return puts, deletes


# --- The parts ------------------------------------------------------------------------------


def markdown_row(*cells: str) -> str:
    """One row of a Markdown table."""
    return "| " + " | ".join(cells) + " |"


def print_table(header: list[str], rows: list[list[str]], *, align: str = "") -> None:
    """A Markdown table; `align` has an l or r per column, by default l for the first column
    and r for the others."""
    align = align or "l" + "r" * (len(header) - 1)
    print("\n" + markdown_row(*header))
    print(markdown_row(*("---" if side == "l" else "---:" for side in align)))
    for row in rows:
        print(markdown_row(*row))
    sys.stdout.flush()


def comparison_row(name: str, bank: WrkResult, reference: WrkResult) -> list[str]:
    """The cells of one bank-against-reference row."""
    return [
        name,
        f"{bank.requests_per_second:,.0f}",
        f"{reference.requests_per_second:,.0f}",
        f"{bank.requests_per_second / reference.requests_per_second:.2f}",
        f"{bank.p50_ms:.2f}",
        f"{bank.p99_ms:.2f}",
        f"{bank.tail:.1f}",
        f"{reference.tail:.1f}",
        str(bank.errors),
    ]


COMPARISON_COLUMNS = [
    "bank req/s",
    "reference req/s",
    "ratio",
    "bank p50 ms",
    "bank p99 ms",
    "bank p99/p50",
    "reference p99/p50",
    "errors",
]


def tally_row(name: str, tally: Tally) -> list[str]:
    """The cells of one client-measured row: requests, statuses, 5xx, no answer, latencies."""
    return [
        name,
        f"{tally.total:,}",
        tally.by_status(),
        str(tally.starting_with("5")),
        str(tally.unanswered),
        f"{tally.percentile_ms(0.5):,.0f}",
        f"{tally.percentile_ms(0.99):,.0f}",
    ]


TALLY_COLUMNS = ["requests", "by status", "5xx", "no answer", "p50 ms", "p99 ms"]


def run_repeated(small_db: Path, rounds: int, seconds: int) -> float:
    """The five-customer table: the same customer on every request, against the reference.
    Returns the portfolio's req/s."""
    for stale in small_db.parent.glob(small_db.name + "*"):
        stale.unlink()
    rows = []
    portfolio_rate = 0.0
    with serve("main:app", env={"DATABASE_URL": f"sqlite:///{small_db}"}) as (bank_url, _):
        oid = SAMPLE
        targets = {
            "GET /user-portfolio/{oid}": f"/user-portfolio/{oid}",
            "GET /customers (first page)": "/customers",
            "GET /customers?limit=2 (second page)": page_url(bank_url, 2, limit=2)[len(bank_url) :],
            "GET /customer/{oid}/transactions": f"/customer/{oid}/transactions",
            "GET /customer/{oid}/assets": f"/customer/{oid}/assets",
        }
        for name, path in targets.items():
            bank, reference = compare(bank_url, path, rounds, seconds)
            portfolio_rate = portfolio_rate or bank.requests_per_second
            rows.append(comparison_row(name, bank, reference))
            print(f"  measured {name}", file=sys.stderr, flush=True)
    print("\nRepeated reads: the same customer on every request (SQLite).")
    print_table(["Endpoint (5 customers)", *COMPARISON_COLUMNS], rows)
    return portfolio_rate


class Arrivals:
    """A webhook receiver on loopback, in a process of its own (in this one it would wait on
    the load's client for the interpreter): when each customer.created event arrived, by
    customer, on the monotonic clock every process shares."""

    def __init__(self, log: Path) -> None:
        self.log = log
        log.write_text("")
        port = free_port()
        self.url = f"http://127.0.0.1:{port}/hooks"
        self.process = multiprocessing.get_context("fork").Process(
            target=Arrivals.serve, args=(port, log), daemon=True
        )
        self.process.start()
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port)):
                break
            time.sleep(0.05)
        self.at: dict[str, float] = {}

    @staticmethod
    def serve(port: int, log: Path) -> None:
        with log.open("a") as out:

            class Handler(BaseHTTPRequestHandler):
                protocol_version = "HTTP/1.1"  # keep-alive, as receivers serve

                def do_POST(self) -> None:  # noqa: N802  (the standard library's name)
                    body = self.rfile.read(int(self.headers.get("content-length", 0)))
                    arrived = time.perf_counter()
                    out.write(f"{json.loads(body)['data']['customer_oid']} {arrived}\n")
                    out.flush()
                    self.send_response(204)
                    self.send_header("content-length", "0")
                    self.end_headers()

                def log_message(self, *_args: Any) -> None:
                    pass

            # A backlog for a burst: the default 5 drops connections, retried a second later.
            ThreadingHTTPServer.request_queue_size = 1024
            ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

    def wait_for(self, oids: list[str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not all(oid in self.at for oid in oids):
            if time.monotonic() > deadline:
                raise RuntimeError("webhook deliveries did not all arrive")
            for line in self.log.read_text().splitlines():
                oid, arrived = line.split()
                self.at.setdefault(oid, float(arrived))
            time.sleep(0.0005)

    def stop(self) -> None:
        self.process.kill()


def latency_row(name: str, latencies: list[float], *extra: str) -> list[str]:
    quantiles = statistics.quantiles(latencies, n=100)
    return [
        name,
        str(len(latencies)),
        *(f"{value * 1000:.1f}" for value in (quantiles[49], quantiles[94], quantiles[98])),
        f"{max(latencies) * 1000:.1f}",
        *extra,
    ]


def write_burst(bank_url: str, burst: int, writers: int) -> tuple[float, dict[str, float]]:
    """`burst` registrations by `writers` concurrent clients: when the first was sent, and when
    each customer's answer came."""

    async def run() -> dict[str, float]:
        answers: dict[str, float] = {}
        oids = [str(uuid.uuid4()) for _ in range(burst)]

        async def writer(share: list[str]) -> None:
            async with client(bank_url) as http:
                for oid in share:
                    body = {"name": "Burst", "customer_oid": oid}
                    (await http.post("/register-customer", json=body)).raise_for_status()
                    answers[oid] = time.perf_counter()

        await asyncio.gather(*(writer(oids[n::writers]) for n in range(writers)))
        return answers

    started = time.perf_counter()
    return started, asyncio.run(run())


def run_webhooks(small_db: Path, events: int = 300, burst: int = 2000, writers: int = 8) -> None:
    """Webhook delivery latency: from a write's answer to its event's arrival at a receiver on
    loopback, one write at a time and in a burst of concurrent writers, beside the same burst
    with no endpoint subscribed (SQLite)."""
    for stale in small_db.parent.glob(small_db.name + "*"):
        stale.unlink()
    arrivals = Arrivals(small_db.with_suffix(".arrivals"))
    rows = []
    with serve("main:app", env={"DATABASE_URL": f"sqlite:///{small_db}"}) as (bank_url, _):
        started, answered = write_burst(bank_url, burst, writers)
        unsubscribed = burst / (max(answered.values()) - started)
        subscribed = {"url": arrivals.url, "events": ["customer.created"]}
        httpx.post(f"{bank_url}/webhooks", json=subscribed).raise_for_status()
        answered = {}
        with httpx.Client(base_url=bank_url) as http:
            for number in range(events):
                oid = str(uuid.uuid4())
                body = {"name": f"Hook {number}", "customer_oid": oid}
                http.post("/register-customer", json=body).raise_for_status()
                answered[oid] = time.perf_counter()
                arrivals.wait_for([oid])
        latencies = [arrivals.at[oid] - at for oid, at in answered.items()]
        rows.append(latency_row("One write at a time", latencies, "-", "-"))

        started, answered = write_burst(bank_url, burst, writers)
        writes = burst / (max(answered.values()) - started)
        arrivals.wait_for(list(answered))
        drained = max(arrivals.at[oid] for oid in answered) - started
        latencies = [arrivals.at[oid] - at for oid, at in answered.items()]
        rows.append(
            latency_row(
                f"Burst: {writers} writers",
                latencies,
                f"{writes:,.0f} (no endpoint: {unsubscribed:,.0f})",
                f"all {burst:,} {drained:.1f} s after the first write",
            )
        )
    arrivals.stop()
    print("\nWebhooks: from a write's answer to its event at a receiver on loopback (SQLite).")
    print_table(
        ["Writes", "Events", "p50 ms", "p95 ms", "p99 ms", "max ms", "Writes/s", "Delivered"],
        rows,
    )


def run_scale(
    large_db: Path, customers: int, rounds: int, seconds: int, small_rate: float | None
) -> None:
    """The at-scale table (SQLite): the sample portfolio, a deep page, deletes and memory."""
    # A copy per run: the delete measurement removes customers.
    with (
        sqlite_copy(large_db) as database_url,
        serve("main:app", env={"DATABASE_URL": database_url}) as (bank_url, pid),
    ):

        def measure(url: str) -> WrkResult:
            return median_result([wrk(url, seconds) for _ in range(rounds)])

        portfolio = measure(f"{bank_url}/user-portfolio/{SAMPLE}")
        first = measure(f"{bank_url}/customers")
        deep_page = min(500, customers // 100)  # a smaller --large-customers has fewer pages
        deep = measure(page_url(bank_url, deep_page))
        listed = httpx.get(f"{bank_url}/customers?limit=30").json()
        deletes = []
        with httpx.Client(base_url=bank_url) as http:
            for victim in [c["customer_oid"] for c in listed if c["customer_oid"] != SAMPLE][:25]:
                started = time.perf_counter()
                assert http.delete(f"/customer/{victim}").status_code == 200
                deletes.append((time.perf_counter() - started) * 1000)
        memory = rss_mb(pid)
    rate, first_rate = portfolio.requests_per_second, first.requests_per_second
    deep_rate = deep.requests_per_second
    if small_rate:
        sample = [
            f"sample portfolio, req/s (5 customers: {small_rate:,.0f})",
            f"{rate:,.0f} ({small_rate / rate:.2f}x slower)",
        ]
    else:
        sample = ["sample portfolio, req/s (5 customers: not measured)", f"{rate:,.0f}"]
    print_table(
        [f"At {customers:,} customers", "measured", "target"],
        [
            [*sample, "at most 1.3x slower"],
            [
                f"/customers page {deep_page} vs page 1, req/s",
                f"{deep_rate:,.0f} vs {first_rate:,.0f} ({first_rate / deep_rate:.2f}x slower)",
                "at most 1.5x slower",
            ],
            [
                "delete a customer, median / max ms",
                f"{statistics.median(deletes):.1f} / {max(deletes):.1f}",
                "under 50 ms",
            ],
            [
                "server memory (RSS) after the run",
                f"{memory[0]:.0f} MB, {memory[1]:.0f} MB of it mapped files",
                "under 300 MB",
            ],
        ],
        align="lrl",
    )


def run_first_reads(engine: Engine, database_url: str, args: argparse.Namespace) -> None:
    """First reads: every request for a random customer, against the reference, with the
    response cache at its default size."""
    customers = len(engine.oids.read_text().split())
    rows = []
    env = {"DATABASE_URL": database_url}
    for name, path in FIRST_READ_TARGETS.items():
        reads = compare_first_reads(
            lambda: serve("main:app", env=env, unset=("RESPONSE_CACHE_MB",)),
            path,
            engine.oids,
            args.rounds,
            args.seconds,
            args.workdir,
        )
        share = reads.repeated_picks / max(reads.picks, 1)
        repeats = f"{reads.repeated_picks:,} of {reads.picks:,} ({share:.1%})"
        row = comparison_row(name, reads.bank, reads.reference)
        rows.append([*row, f"{reads.servers}", repeats])
        print(f"  measured {name} on {engine.name}", file=sys.stderr, flush=True)
    print(
        f"\nFirst reads ({engine.name}): every request asks for a random customer, one of the"
        f" {customers:,} its server was not asked for before, so no cache can answer it (the"
        " response cache is at its default size). Before a server could run out of such"
        " customers, a new one takes its place, its cache empty: the servers column counts"
        " them, and the last column the requests for a customer its server was asked for"
        " before, the most a cache could answer."
    )
    print_table(
        [
            f"Endpoint, random customer ({engine.name}, {customers:,} customers)",
            *COMPARISON_COLUMNS,
            "servers",
            "customers asked for again",
        ],
        rows,
    )


def run_writes(
    engine: Engine, bank_url: str, pid: int, document: bytes, args: argparse.Namespace
) -> None:
    """Write throughput: registrations, then imports of 500 transactions to new customers."""

    def registration(rng: random.Random) -> tuple[str, str, bytes]:
        body = {"name": random_name(rng), "customer_oid": str(uuid.uuid4())}
        return "POST", "/register-customer", json.dumps(body).encode()

    def portfolio_import(rng: random.Random) -> tuple[str, str, bytes]:
        return "PUT", f"/user-portfolio/{uuid.uuid4()}", document

    rows = []
    for name, request in {
        "POST /register-customer (new random oid and name)": registration,
        f"PUT /user-portfolio/{{new random oid}} ({WRITE_TRANSACTIONS} transactions)": (
            portfolio_import
        ),
    }.items():
        load = throughput(
            bank_url, pid, request, clients=args.write_clients, seconds=args.write_seconds
        )
        rows.append(
            [
                name,
                f"{load.per_second:,.0f}",
                *tally_row(name, load.tally)[1:],
                f"{load.server_cpu:.0%}",
                f"{load.client_cpu:.0%}",
            ]
        )
        print(f"  measured {name} on {engine.name}", file=sys.stderr, flush=True)
    print_table(
        [
            f"Writes ({engine.name}, {args.write_clients} clients × {args.write_seconds:g} s)",
            "ops/s (2xx)",
            *TALLY_COLUMNS,
            "server CPU",
            "client CPU",
        ],
        rows,
    )
    print(
        "\nEach client sends its next request when the last is answered. Every PUT goes to a new"
        " random customer, so each one creates a customer (201). CPU: the share of one CPU used"
        " by the bank's process and by the client (near 100%: the load is bound by that side;"
        " PostgreSQL's own processes are not counted)."
    )


def run_storm(engine: Engine, bank_url: str, document: bytes, seconds: float) -> None:
    """The storm: imports of 2,000 transactions, deletes and reads of the same customers."""
    result = storm(bank_url, document, seconds=seconds)
    tallies = {
        f"PUT {STORM_TRANSACTIONS:,} transactions, 8 clients on 3 shared customers": (
            result.puts_shared
        ),
        f"PUT {STORM_TRANSACTIONS:,} transactions, 8 clients on their own customers": (
            result.puts_own
        ),
        "DELETE the shared customers, 2 clients": result.deletes,
        "GET /user-portfolio of a shared customer (6 clients, half the reads)": (
            result.reads_shared
        ),
        "GET /user-portfolio of an own customer (the other half)": result.reads_own,
    }
    print_table(
        [f"Storm ({engine.name}, 24 clients × {seconds:g} s)", *TALLY_COLUMNS],
        [tally_row(name, tally) for name, tally in tallies.items()],
    )
    errors = sum(tally.starting_with("5") for tally in tallies.values())
    whole = result.reads_shared.statuses["200"] + result.reads_own.statuses["200"]
    half = sum(result.half_imported.values())
    counts = ", ".join(f"{n:,}" for n in sorted(result.half_imported))
    print(
        f"\nStorm on {engine.name}: {errors} 5xx (target 0); {half} half-imported portfolios"
        f" read (target 0) of {whole:,} read"
        + (f" (transaction counts: {counts})" if half else "")
        + "."
    )


def run_race(engine: Engine, bank_url: str, document: bytes, args: argparse.Namespace) -> None:
    """The PUT/DELETE race: a PUT and a DELETE of one customer sent at the same moment."""
    puts, deletes = race(bank_url, document, rounds=args.race_rounds, customers=args.race_customers)
    print_table(
        [
            f"PUT/DELETE race ({engine.name}, {args.race_rounds} rounds ×"
            f" {args.race_customers} customers)",
            *TALLY_COLUMNS,
        ],
        [
            tally_row(f"PUT /user-portfolio/{{oid}} ({WRITE_TRANSACTIONS} transactions)", puts),
            tally_row("DELETE /customer/{oid}", deletes),
        ],
    )
    errors = puts.starting_with("5") + deletes.starting_with("5")
    print(f"\nRace on {engine.name}: {errors} 5xx (target 0).")


def run_engine(engine: Engine, parts: set[str], args: argparse.Namespace) -> None:
    """The parts at scale on one engine: one copy of its large database, a fresh server each."""
    with engine.copy() as database_url:
        if "reads" in parts:
            run_first_reads(engine, database_url, args)
        for part in ("writes", "storm", "race"):
            if part not in parts:
                continue
            with serve("main:app", env={"DATABASE_URL": database_url}) as (bank_url, pid):
                answer = httpx.get(f"{bank_url}/user-portfolio/{SAMPLE}")
                answer.raise_for_status()
                portfolio = answer.json()
                document = portfolio_document(portfolio, WRITE_TRANSACTIONS)
                if part == "writes":
                    run_writes(engine, bank_url, pid, document, args)
                elif part == "storm":
                    document = portfolio_document(portfolio, STORM_TRANSACTIONS)
                    run_storm(engine, bank_url, document, args.storm_seconds)
                else:
                    run_race(engine, bank_url, document, args)
            print(f"  measured {part} on {engine.name}", file=sys.stderr, flush=True)


def machine_line(postgres: str | None) -> str:
    """The machine and versions the figures come from, in one line."""
    model = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    memory = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    gib = int(memory[1]) / 1024**2 if memory else float("nan")
    server_cpus, load_cpus = (", ".join(map(str, sorted(cpus))) for cpus in (SERVER_CPUS, WRK_CPUS))
    return (
        f"Machine: {model[1] if model else platform.processor() or 'unknown CPU'},"
        f" {os.cpu_count()} cores, {gib:.0f} GiB RAM; Python {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, PostgreSQL {postgres or 'not measured'};"
        f" {dt.date.today().isoformat()}. Servers on CPU {server_cpus}, wrk and the client on"
        f" CPU {load_cpus}."
    )


def parse_args() -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="wrk rounds per target (5)")
    parser.add_argument("--seconds", type=int, default=5, help="seconds per wrk round (5)")
    parser.add_argument("--large-customers", type=int, default=LARGE_CUSTOMERS)
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / ".bench")
    parser.add_argument(
        "--only", action="append", choices=PARTS, help="run this part only (repeatable)"
    )
    parser.add_argument(
        "--engine",
        action="append",
        choices=["sqlite", "postgresql"],
        help="run the parts at scale on this engine only (repeatable; both by default)",
    )
    parser.add_argument(
        "--postgres-url",
        default=POSTGRES_URL,
        help=f"the PostgreSQL server, without a database ({POSTGRES_URL})",
    )
    parser.add_argument("--write-clients", type=int, default=8)
    parser.add_argument("--write-seconds", type=float, default=10)
    parser.add_argument("--storm-seconds", type=float, default=40)
    parser.add_argument("--race-rounds", type=int, default=25)
    parser.add_argument("--race-customers", type=int, default=8)
    return parser.parse_args()


def main() -> None:
    """Run the parts asked for and print their tables."""
    args = parse_args()
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk: install it with `apt-get install wrk` (Debian/Ubuntu).")
    args.workdir = args.workdir.resolve()
    args.workdir.mkdir(exist_ok=True)
    parts = set(args.only or PARTS)
    engines = set(args.engine or ["sqlite", "postgresql"])
    at_scale = parts & {"reads", "writes", "storm", "race"}
    postgres = None
    if "postgresql" in engines and at_scale:
        postgres = postgres_version(args.postgres_url)
    elif at_scale:
        print("PostgreSQL is not measured (--engine sqlite).")
    print(machine_line(postgres), flush=True)

    small_rate = None
    if "repeated" in parts:
        small_rate = run_repeated(args.workdir / "small.db", args.rounds, args.seconds)
    large_db = None
    if "scale" in parts or (at_scale and "sqlite" in engines):
        large_db = sqlite_large_database(args.workdir, args.large_customers)
    if "webhooks" in parts:
        run_webhooks(args.workdir / "webhooks.db")
    if "scale" in parts and large_db is not None:
        run_scale(large_db, args.large_customers, args.rounds, args.seconds, small_rate)
    if not at_scale:
        return
    if "sqlite" in engines and large_db is not None:
        large_url = f"sqlite:///{large_db}"
        oids = oids_file(large_db.with_suffix(".oids"), large_url)
        run_engine(Engine("SQLite", lambda: sqlite_copy(large_db), oids), at_scale, args)
    if postgres is not None:
        name = postgres_large_database(args.postgres_url, args.workdir, args.large_customers)
        large_url = f"{args.postgres_url}/{name}"
        oids = oids_file(args.workdir / f"{name}.oids", large_url)
        copy = lambda: postgres_copy(args.postgres_url, name)  # noqa: E731
        run_engine(Engine("PostgreSQL", copy, oids), at_scale, args)


if __name__ == "__main__":
    main()
