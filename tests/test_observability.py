"""One structured log line per request, and an X-Request-ID on every response."""

import logging
import re
import socket
import struct
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fixtures import NEW_OID, SAMPLE_OIDS, LiveServer, Shared, on_sqlite_only

LINE = re.compile(
    r'method=(?P<method>\w+) path="(?P<path>[^"]*)" status=(?P<status>\d+) '
    r"duration_ms=(?P<duration>\d+\.\d\d) request_id=(?P<request_id>\S+)"
)


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    lines = [r.getMessage() for r in caplog.records if r.name == "bank.requests"]
    return [match.groupdict() for line in lines if (match := LINE.fullmatch(line))]


@pytest.fixture
def logging_server(backend: str, shared: Shared) -> LiveServer:
    """A real server that logs every request (LOG_LEVEL=info), on freshly seeded data."""
    return shared.server(backend, {"LOG_LEVEL": "info"})


def hang_up(sock: socket.socket) -> None:
    """Close as a client that crashed or gave up does: at once, with a reset."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def server_log_after(server: LiveServer, start: int, *, until: str) -> str:
    """The server's log from byte `start`, once it holds `until` (or after 5 s)."""
    deadline = time.monotonic() + 5
    while until not in (log := server.log_path.read_bytes()[start:].decode()):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return log


def lines_of(log: str, request_id_prefix: str) -> list[dict[str, str]]:
    """The request lines of the requests whose id starts with the prefix, with their level."""
    found = []
    for line in log.splitlines():
        level, _, message = line.partition(" bank.requests ")
        match = LINE.fullmatch(message)
        if match and match["request_id"].startswith(request_id_prefix):
            found.append({**match.groupdict(), "level": level.rsplit(" ", 1)[-1]})
    return found


@on_sqlite_only
def test_a_given_request_id_is_echoed(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "agent-7:run.42"})
    assert response.headers["x-request-id"] == "agent-7:run.42"


def test_a_request_id_is_made_when_none_is_given(client: TestClient) -> None:
    first = client.get(f"/user-portfolio/{SAMPLE_OIDS[0]}").headers["x-request-id"]
    second = client.get(f"/user-portfolio/{SAMPLE_OIDS[0]}").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


@on_sqlite_only
@pytest.mark.parametrize("given", ["x" * 129, "has space", "new\\nline", "<script>"])
def test_an_unfit_request_id_is_replaced(client: TestClient, given: str) -> None:
    answered = client.get("/health", headers={"X-Request-ID": given}).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", answered)


def test_errors_carry_the_request_id_too(client: TestClient) -> None:
    response = client.get(f"/user-portfolio/{NEW_OID}", headers={"X-Request-ID": "lost-1"})
    assert response.status_code == 404
    assert response.headers["x-request-id"] == "lost-1"


def test_every_request_logs_one_line(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bank.requests")
    url = f"/user-portfolio/{SAMPLE_OIDS[1]}"
    client.get(url, headers={"X-Request-ID": "first"})
    client.get(url, headers={"X-Request-ID": "from-memory"})  # answered by AnswersMiddleware
    client.get(f"/user-portfolio/{NEW_OID}", headers={"X-Request-ID": "missing"})
    client.post("/register-customer", json={"name": "x"}, headers={"X-Request-ID": "bad"})
    lines = request_lines(caplog)
    assert [
        (line["method"], line["path"], line["status"], line["request_id"]) for line in lines
    ] == [
        ("GET", url, "200", "first"),
        ("GET", url, "200", "from-memory"),
        ("GET", f"/user-portfolio/{NEW_OID}", "404", "missing"),
        ("POST", "/register-customer", "400", "bad"),
    ]
    assert all(float(line["duration"]) >= 0 for line in lines)


@on_sqlite_only
def test_a_hang_up_amid_pipelined_requests_is_one_info_line(logging_server: LiveServer) -> None:
    start = logging_server.log_path.stat().st_size
    requests = b"".join(
        b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Request-ID: hang-up-%d\r\n\r\n" % n
        for n in range(100)
    )
    sock = socket.create_connection(("127.0.0.1", logging_server.port))
    sock.sendall(requests)
    time.sleep(0.3)  # the answers, never read, fill the socket buffers; one is half written
    hang_up(sock)
    log = server_log_after(logging_server, start, until="status=499")
    lines = lines_of(log, "hang-up-")
    # Those answered before the hang-up, then the one it interrupted; the rest never ran.
    assert [line["status"] for line in lines] == ["200"] * (len(lines) - 1) + ["499"]
    assert [line["request_id"] for line in lines] == [f"hang-up-{n}" for n in range(len(lines))]
    assert {(line["level"], line["method"], line["path"]) for line in lines} == {
        ("INFO", "GET", "/openapi.json")
    }
    assert "ERROR" not in log and "Traceback" not in log


@on_sqlite_only
def test_a_hang_up_amid_a_request_body_is_one_info_line(logging_server: LiveServer) -> None:
    start = logging_server.log_path.stat().st_size
    sock = socket.create_connection(("127.0.0.1", logging_server.port))
    sock.sendall(
        f"PUT /user-portfolio/{SAMPLE_OIDS[0]} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n"
        'X-Request-ID: half-sent\r\n\r\n{"user": {"name": "Half Sent"}, "assets": ['.encode()
    )
    time.sleep(0.2)
    hang_up(sock)
    log = server_log_after(logging_server, start, until="request_id=half-sent")
    assert [
        (line["level"], line["method"], line["path"], line["status"])
        for line in lines_of(log, "half-sent")
    ] == [("INFO", "PUT", f"/user-portfolio/{SAMPLE_OIDS[0]}", "499")]
    assert "ERROR" not in log and "Traceback" not in log


@on_sqlite_only
def test_a_connection_a_fault_resets_is_one_info_line_444(logging_server: LiveServer) -> None:
    start = logging_server.log_path.stat().st_size
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        httpx.get(
            f"{logging_server.base_url}/customers",
            headers={"Sandbox-Fault": "reset", "X-Request-ID": "reset-1"},
        )
    log = server_log_after(logging_server, start, until="status=444")
    # As nginx logs a connection it closed without an answer; the fault itself on its own line.
    assert [line["status"] for line in lines_of(log, "reset-")] == ["444"]
    assert "Injected {'reset': True} on GET /customers (request_id=reset-1)" in log
    assert "ERROR" not in log and "Traceback" not in log
