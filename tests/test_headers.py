"""Request headers over MAX_HEADER_BYTES or MAX_HEADER_COUNT are refused with 431 by the real
server while they arrive, before any route runs."""

import json
import select
import socket
from pathlib import Path

import httpx

from tests.fixtures import LiveServer, on_sqlite_only

MAX_HEADER_BYTES = 65_536  # the defaults
MAX_HEADER_COUNT = 100
TOO_LARGE = {"detail": "Request line and headers too large: the limit is 65,536 bytes"}
TOO_MANY = {"detail": "Too many request headers: the limit is 100"}


def request_of(*, size: int, lines: int) -> bytes:
    """A GET /health whose request line and headers are exactly `size` bytes in `lines` header
    lines, the last one padded."""
    head = [b"GET /health HTTP/1.1", b"Host: 127.0.0.1", b"Connection: close"]
    head += [b"X-Filler-%d: x" % n for n in range(lines - 3)]
    unpadded = len(b"\r\n".join([*head, b"X-Padding: ", b"", b""]))
    head.append(b"X-Padding: " + b"p" * (size - unpadded))
    request = b"\r\n".join([*head, b"", b""])
    assert len(request) == size
    return request


def status_of(server: LiveServer, request: bytes) -> int:
    """The status the server answers a raw request with."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        return int(sock.recv(64).split(b" ", 2)[1])


def resident_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


@on_sqlite_only
def test_a_header_over_the_byte_limit_is_431_and_the_server_serves_on(
    live_server: LiveServer,
) -> None:
    response = httpx.get(f"{live_server.base_url}/health", headers={"X-Big": "a" * 70_000})
    assert response.status_code == 431
    assert response.json() == TOO_LARGE
    assert httpx.get(f"{live_server.base_url}/health").status_code == 200


@on_sqlite_only
def test_a_megabyte_header_is_answered_431_not_reset(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.base_url}/health", headers={"X-Big": "a" * 2**20})
    assert response.status_code == 431
    assert response.json() == TOO_LARGE


@on_sqlite_only
def test_more_headers_than_the_count_limit_is_431(live_server: LiveServer) -> None:
    headers = {f"X-Header-{n}": "v" for n in range(MAX_HEADER_COUNT + 1)}
    response = httpx.get(f"{live_server.base_url}/health", headers=headers)
    assert response.status_code == 431
    assert response.json() == TOO_MANY


@on_sqlite_only
def test_twenty_thousand_headers_are_431(live_server: LiveServer) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Header: v\r\n" * 20_000
    assert status_of(live_server, request + b"\r\n") == 431


@on_sqlite_only
def test_a_request_at_both_limits_is_answered(live_server: LiveServer) -> None:
    request = request_of(size=MAX_HEADER_BYTES, lines=MAX_HEADER_COUNT)
    assert status_of(live_server, request) == 200


@on_sqlite_only
def test_one_byte_over_the_limit_is_431(live_server: LiveServer) -> None:
    request = request_of(size=MAX_HEADER_BYTES + 1, lines=MAX_HEADER_COUNT)
    assert status_of(live_server, request) == 431


@on_sqlite_only
def test_one_line_over_the_limit_is_431(live_server: LiveServer) -> None:
    request = request_of(size=4096, lines=MAX_HEADER_COUNT + 1)
    assert status_of(live_server, request) == 431


@on_sqlite_only
def test_an_endless_header_is_cut_off_without_being_held(live_server: LiveServer) -> None:
    assert live_server.process is not None
    pid = live_server.process.pid
    before = resident_kib(pid)
    piece, offered, sent = b"a" * 16_384, 20 * 2**20, 0
    answer = b""
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=5) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
        try:
            while sent < offered:
                sock.sendall(piece)
                sent += len(piece)
                if select.select([sock], [], [], 0)[0]:
                    answer += sock.recv(4096)
            while chunk := sock.recv(4096):  # then the server ends the connection
                answer += chunk
        except OSError:
            pass  # or resets it, after its 431
        grown = resident_kib(pid) - before
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == TOO_LARGE
    assert grown < 4 * 1024, f"the server grew by {grown} KiB while sent {sent:,} bytes of header"
