"""Schemathesis against the real server's own OpenAPI document: every check, every phase.

Every check runs by default; schemathesis.toml turns a check off, or widens what it expects, for
the one operation where it disagrees with the contract. (`--checks all` on the command line would
override those exceptions, so it is not given.)

The stateful phase follows the document's links (register -> exists, portfolio, collections ->
delete; create item -> read, change, delete). A fixed seed and a bounded number of examples
keep a run reproducible and short; anything it finds is a bug in the code or the document.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from settings import PROJECT_DIR
from tests.fixtures import Shared

SCHEMATHESIS = str(Path(sys.executable).parent / "st")
ALL_PHASES = "examples,coverage,fuzzing,stateful"
# The coverage phase tries each parameter's boundary and invalid values: refused by validation
# before any query, the same on both engines, and half of a run's time. On PostgreSQL the open
# mode runs the phases that store and read data.
STORAGE_PHASES = "examples,fuzzing,stateful"
MODES: dict[str, tuple[dict[str, str], list[str], int, str, int]] = {
    # mode: (server settings, extra arguments, examples per operation, phases, least cases)
    "open": ({}, [], 4, ALL_PHASES, 1000),
    "storage": ({}, [], 4, STORAGE_PHASES, 150),
}


# The open mode exercises storage, so it runs on both engines (on PostgreSQL without the
# coverage phase). The API key and read-only mode, which sit in front of every route alike and
# look at nothing but the method, the path and the key, are tests/test_access.py's: every
# operation with and without the key, and every write in read-only mode. (A run of them here,
# each operation's examples and a generated case with the key on a read-only server, found
# nothing those did not, and took 7-10 s, most of it Schemathesis's own start.)
ENGINE_MODES = [("sqlite", "open"), ("postgresql", "storage")]


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("backend", "mode"), ENGINE_MODES, indirect=["backend"])
def test_schemathesis_finds_nothing(
    backend: str, shared: Shared, tmp_path: Path, mode: str
) -> None:
    env, arguments, examples, phases, least_cases = MODES[mode]
    server = shared.server(backend, env)
    log_start = server.log_path.stat().st_size
    report = tmp_path / "schemathesis.json"
    run = subprocess.run(
        [
            SCHEMATHESIS, "--config-file", str(PROJECT_DIR / "schemathesis.toml"),
            "run", f"{server.base_url}/openapi.json",
            "--phases", phases,
            "--seed", "20261124",
            "--max-examples", str(examples),
            "--workers", "1",
            "--request-timeout", "10",
            "--report", "json", "--report-json-path", str(report),
            *arguments,
            # Each advance makes up to a year happen for every generated customer, and every
            # request after it reads and resets that much more: a third of a run's time. Its
            # body is one integer, whose bounds tests/test_clock.py tries; tests/test_access.py
            # takes it through the API key and read-only mode.
            "--exclude-operation-id", "advance_clock",
            # A fault profile fuzzed into place would strike the rest of the run with the
            # faults it names (500s, resets, minutes of latency). tests/test_faults.py tries
            # its body's bounds; tests/test_access.py takes it through the key and read-only.
            "--exclude-operation-id", "set_fault_profile",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=280,
    )  # fmt: skip
    assert report.exists(), run.stdout + run.stderr
    result = json.loads(report.read_text())
    cases = result["test_cases"]
    print(f"schemathesis {mode}: {cases['generated']} cases, {cases['unique_failures']} failures")
    assert run.returncode == 0, run.stdout[-20_000:]
    assert result["failures"] == [] and result["errors"] == []
    assert result["operations"]["total"] == 49
    assert result["operations"]["tested"] == 47  # all but advance_clock and set_fault_profile
    ran = {name: phase["status"] for name, phase in result["phases"].items()}
    assert all(ran[name] == "success" for name in phases.split(",")), ran
    assert cases["generated"] > least_cases and cases["unique_failures"] == 0
    # Nothing reached the 500 handler, which logs every unexpected error with its traceback.
    assert b"Unhandled error" not in server.log_path.read_bytes()[log_start:]
