"""`make bench`: the bank against FastAPI's own ceiling, and how it holds up at 100,000 customers.

Each target is driven with wrk in alternating rounds against the bank and against the reference
app (bench_reference.py: the same bytes from memory, same uvicorn settings). Then, with 100,000
synthetic customers loaded, the scale measurements. Results go to stdout as a Markdown table.
"""

import argparse
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

PROJECT_DIR = Path(__file__).resolve().parent
SAMPLE = "550e8400-e29b-41d4-a716-446655440002"
LARGE_CUSTOMERS = 100_000
CONNECTIONS = 16
# With two CPUs or more, the server under test runs on the first and wrk on the others, for the
# bank and the reference alike: neither then loses its CPU to the load generator mid-request,
# which otherwise dominates the p99 of a two-core machine. One wrk thread per CPU it has: two
# threads on one CPU would add their own waits for each other to the latencies they measure.
CPUS = sorted(os.sched_getaffinity(0))
SERVER_CPUS, WRK_CPUS = ({CPUS[0]}, set(CPUS[1:])) if len(CPUS) > 1 else (set(CPUS), set(CPUS))


def on_cpus(cpus: set[int]) -> Callable[[], None]:
    """A preexec_fn that pins the child process to `cpus`."""
    return lambda: os.sched_setaffinity(0, cpus)


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    tail: float  # p99 / p50; for a median result, the median of the rounds' own ratios


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def serve(app: str, *, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """Run `uvicorn app` (one worker, no access log) until the block ends; yields (url, pid)."""
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(
        command,
        cwd=PROJECT_DIR,
        env={**os.environ, "LOG_LEVEL": "warning", **env},
        stdout=subprocess.DEVNULL,
        preexec_fn=on_cpus(SERVER_CPUS),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/health", timeout=2).status_code < 500:
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{app} did not start")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def wrk(url: str, seconds: int) -> WrkResult:
    output = subprocess.run(
        ["wrk", "-t", str(len(WRK_CPUS)), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
         "--latency", url],
        capture_output=True, text=True, check=True, preexec_fn=on_cpus(WRK_CPUS),
    ).stdout  # fmt: skip

    def latency(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        assert match, output
        value, unit = float(match[1]), match[2]
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    assert rate, output
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    p50, p99 = latency("50"), latency("99")
    return WrkResult(float(rate[1]), p50, p99, int(errors[1]) if errors else 0, p99 / p50)


def compare(bank_url: str, path: str, rounds: int, seconds: int) -> tuple[WrkResult, WrkResult]:
    """Alternate rounds of the bank and the reference serving the bank's own bytes for `path`."""
    body = httpx.get(bank_url + path).content
    with tempfile.NamedTemporaryFile(suffix=".json") as file:
        file.write(body)
        file.flush()
        env = {"BENCH_REFERENCE_BODY": file.name}
        with serve("bench_reference:app", env=env) as (reference_url, _):
            wrk(bank_url + path, 3)  # warm-up, both sides
            wrk(reference_url + path, 3)
            bank_runs, reference_runs = [], []
            for _ in range(rounds):
                bank_runs.append(wrk(bank_url + path, seconds))
                reference_runs.append(wrk(reference_url + path, seconds))
    return median_result(bank_runs), median_result(reference_runs)


def median_result(runs: list[WrkResult]) -> WrkResult:
    return WrkResult(
        statistics.median(r.requests_per_second for r in runs),
        statistics.median(r.p50_ms for r in runs),
        statistics.median(r.p99_ms for r in runs),
        sum(r.errors for r in runs),
        statistics.median(r.tail for r in runs),
    )


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match[1]) / 1024 if match else float("nan")


def page_url(bank_url: str, page: int, *, limit: int = 100) -> str:
    """The URL of /customers page `page` (1-based), found by following Link headers."""
    url = f"{bank_url}/customers?limit={limit}"
    with httpx.Client() as http:
        for _ in range(page - 1):
            link = http.get(url).headers["link"]
            url = link[1 : link.index(">")]
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--large-customers", type=int, default=LARGE_CUSTOMERS)
    parser.add_argument("--workdir", type=Path, default=PROJECT_DIR / ".bench")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("make bench needs wrk: install it with `apt-get install wrk` (Debian/Ubuntu).")
    args.workdir.mkdir(exist_ok=True)
    small_db = args.workdir / "small.db"
    large_db = args.workdir / f"large-{args.large_customers}.db"
    for path in args.workdir.glob("small.db*"):
        path.unlink()
    if not large_db.exists():
        print(
            f"Generating {args.large_customers:,} customers into {large_db} (once) ...", flush=True
        )
        subprocess.run(
            [sys.executable, "seed.py", "--customers", str(args.large_customers), "--seed", "42",
             "--as-of", "2026-11-01"],
            cwd=PROJECT_DIR, env={**os.environ, "DATABASE_URL": f"sqlite:///{large_db}"},
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip

    rows = []
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
            bank, reference = compare(bank_url, path, args.rounds, args.seconds)
            rows.append((name, bank, reference))
            print(f"  measured {name}", file=sys.stderr, flush=True)

    print(
        "\n"
        + markdown_row(
            "Endpoint (5 customers)",
            "bank req/s",
            "reference req/s",
            "ratio",
            "bank p50 ms",
            "bank p99 ms",
            "bank p99/p50",
            "reference p99/p50",
            "errors",
        )
    )
    print(markdown_row("---", *["---:"] * 8))
    for name, bank, reference in rows:
        print(
            markdown_row(
                name,
                f"{bank.requests_per_second:,.0f}",
                f"{reference.requests_per_second:,.0f}",
                f"{bank.requests_per_second / reference.requests_per_second:.2f}",
                f"{bank.p50_ms:.2f}",
                f"{bank.p99_ms:.2f}",
                f"{bank.tail:.1f}",
                f"{reference.tail:.1f}",
                str(bank.errors),
            )
        )

    # A copy per run: the delete measurement removes customers.
    run_db = args.workdir / "large-run.db"
    shutil.copyfile(large_db, run_db)
    small_rate = rows[0][1].requests_per_second
    with serve("main:app", env={"DATABASE_URL": f"sqlite:///{run_db}"}) as (bank_url, pid):

        def measure(url: str) -> WrkResult:
            return median_result([wrk(url, args.seconds) for _ in range(args.rounds)])

        portfolio = measure(f"{bank_url}/user-portfolio/{SAMPLE}")
        first = measure(f"{bank_url}/customers")
        page_500 = measure(page_url(bank_url, 500))
        listed = httpx.get(f"{bank_url}/customers?limit=30").json()
        deletes = []
        with httpx.Client(base_url=bank_url) as http:
            for victim in [c["customer_oid"] for c in listed if c["customer_oid"] != SAMPLE][:25]:
                started = time.perf_counter()
                assert http.delete(f"/customer/{victim}").status_code == 200
                deletes.append((time.perf_counter() - started) * 1000)
        memory = rss_mb(pid)
    run_db.unlink()
    first_rate, deep_rate = first.requests_per_second, page_500.requests_per_second
    print("\n" + markdown_row(f"At {args.large_customers:,} customers", "measured", "target"))
    print(markdown_row("---", "---:", "---"))
    print(
        markdown_row(
            f"sample portfolio, req/s (5 customers: {small_rate:,.0f})",
            f"{portfolio.requests_per_second:,.0f} "
            f"({small_rate / portfolio.requests_per_second:.2f}x slower)",
            "at most 1.3x slower",
        )
    )
    print(
        markdown_row(
            "/customers page 500 vs page 1, req/s",
            f"{deep_rate:,.0f} vs {first_rate:,.0f} ({first_rate / deep_rate:.2f}x slower)",
            "at most 1.5x slower",
        )
    )
    print(
        markdown_row(
            "delete a customer, median / max ms",
            f"{statistics.median(deletes):.1f} / {max(deletes):.1f}",
            "under 50 ms",
        )
    )
    print(markdown_row("server memory (RSS) after the run", f"{memory:.0f} MB", "under 300 MB"))


def markdown_row(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


if __name__ == "__main__":
    main()
