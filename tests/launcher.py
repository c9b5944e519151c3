"""The processes the tests start (servers, seed.py, Alembic's command line), forked from one that
has already imported what they import.

Each server and script still runs in a process of its own, with its own environment, arguments,
working directory and output, its file run as `__main__` as `python <file>` runs it; but a new
interpreter spends about 2 s of CPU importing FastAPI, SQLAlchemy, Pydantic, the MCP SDK and
Alembic before it does anything, and the suite starts some fifty of them on two cores. Here
multiprocessing's forkserver imports them once per test worker and forks each process from it:
it starts in a tenth of that. What only a new interpreter shows (`python main.py` as typed, the
`uvicorn` command with worker processes, the stdio MCP server an MCP client spawns, the scripts
in tests/test_scripts.py) is still started with subprocess.

Nothing of the service is imported into the forkserver that reads a setting or opens a database
at import: main.py (which makes its app at import) is only run in the child.
"""

import ast
import multiprocessing
import os
import runpy
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from settings import PROJECT_DIR, get_settings

# The entry points whose imports the forkserver makes (their own code runs only in a child), and
# the database drivers SQLAlchemy imports when it first connects.
ENTRY_POINTS = ("main.py", "seed.py", "reset_database.py", "mcp_server.py")
DRIVERS = ("alembic.config", "psycopg", "sqlalchemy.dialects.postgresql.psycopg")


def preload() -> None:
    """Run every import statement at the top level of the entry points, and import the drivers."""
    for name in ENTRY_POINTS:
        path = PROJECT_DIR / name
        tree = ast.parse(path.read_text(), str(path))
        imports: list[ast.stmt] = [
            node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
        ]
        exec(compile(ast.Module(body=imports, type_ignores=[]), str(path), "exec"), {})
    for module in DRIVERS:
        __import__(module)


def _context() -> multiprocessing.context.ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["tests.preload"])
    return context


def _run(args: Sequence[str], env: Mapping[str, str], stdout: str, stderr: str) -> None:
    """In the child: become `python <args>` with this environment, writing to these files."""
    os.chdir(PROJECT_DIR)
    os.environ.clear()
    os.environ.update(env)
    get_settings.cache_clear()
    for fd, path in ((1, stdout), (2, stderr)):
        os.dup2(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644), fd)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 (lives as the process)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.argv = list(args)
    try:
        if args[0] == "-c":
            exec(compile(args[1], "<string>", "exec"), {"__name__": "__main__"})
        else:
            runpy.run_path(str(PROJECT_DIR / args[0]), run_name="__main__")
    finally:
        # A forked process leaves with os._exit, which flushes nothing.
        sys.stdout.flush()
        sys.stderr.flush()


class Launched:
    """A launched process, with the part of subprocess.Popen's interface the tests use."""

    def __init__(self, process: multiprocessing.process.BaseProcess, args: Sequence[str]) -> None:
        self._process = process
        self.args = list(args)

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        """As Popen's: the exit status, or minus the signal that ended it; None while it runs."""
        return self._process.exitcode

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        self._process.join(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def launch(
    args: Sequence[str], env: Mapping[str, str], stdout: Path, stderr: Path | None = None
) -> Launched:
    """Start `python <args>` (a file in the project, or `-c <code>`), its output appended to
    `stdout` and `stderr` (by default the same file)."""
    process = _context().Process(
        target=_run, args=(list(args), dict(env), str(stdout), str(stderr or stdout))
    )
    process.start()
    return Launched(process, args)


def run(
    args: Sequence[str], env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """Run `python <args>` to its end, as subprocess.run(..., capture_output=True, text=True)."""
    with tempfile.TemporaryDirectory(prefix="launched-") as directory:
        out, err = Path(directory, "stdout"), Path(directory, "stderr")
        out.touch()
        err.touch()
        process = launch(args, env, out, err)
        try:
            returncode = process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
        return subprocess.CompletedProcess(list(args), returncode, out.read_text(), err.read_text())
