"""The HTTP protocol the bank is served with: uvicorn's httptools protocol, with a limit on the
request header section, and an app-facing `send` that raises once the client has gone.

uvicorn reads a header section of any size: five connections each sending an unfinished 100 MB
header took a server from 129 to 679 MB. Here a request whose request line and headers pass
MAX_HEADER_BYTES, or that has more than MAX_HEADER_COUNT header lines, is answered 431 and its
connection closed while the bytes are still arriving: a connection holds at most the limit and one
read (up to 256 KiB) of header.

uvicorn signals a closed connection to the request it believes current, the last one parsed; with
pipelined requests the one running can be an older one, which then writes to a closed transport
and fails with a RuntimeError. Here every request in flight learns it, and `send` raises
ClientDisconnected (an OSError, as ASGI 2.4 specifies) instead of dropping the response silently:
the request log can then say that the client left, not that it was answered.

It also offers the app a way to break a connection on purpose (fault_injection.py): the ASGI
extension ABORT in the request's scope, and the message {"type": ABORT, "reset": bool}, which
ends the connection whatever the response has sent so far: with a TCP reset, unsent bytes
dropped; or else closed once what was sent so far is written.

Started by `python main.py`, or `uvicorn main:app --http server:BankHttpProtocol`. Written
against uvicorn 0.54 (requirements.txt pins it): it uses the protocol's parser callbacks and
`_start_asgi_task`. uvicorn's h11 protocol has a header limit of its own
(h11_max_incomplete_event_size), but h11 parses in pure Python; httptools is the parser uvicorn
picks by default, and the one the benchmark figures were measured with.
"""

import asyncio
import http
import json
import logging
import socket
import struct
from asyncio import Transport
from typing import Any, cast

import httptools
from uvicorn._types import (
    ASGI3Application,
    ASGIReceiveCallable,
    ASGISendCallable,
    ASGISendEvent,
    Scope,
)
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.server import ServerState

from constants import HEADERS_TOO_LARGE, TOO_MANY_HEADERS
from settings import get_settings

logger = logging.getLogger("bank")

# After a 431 the server reads and drops what the client still sends for this long before it
# closes: closing on unread bytes sends a reset, which can destroy the 431 before the client
# reads it (nginx does the same, its lingering_timeout is 5 s).
LINGER_SECONDS = 1.0
# What a header section holds besides the parts the parser hands over (method, target, names
# and values): the two spaces and version of the request line, its CRLF and the closing blank
# line; and ": " and CRLF on each header line.
REQUEST_LINE_FRAMING = len(b"  HTTP/1.1\r\n\r\n")
HEADER_LINE_FRAMING = len(b": \r\n")


# The ASGI extension, and the message type, that break the connection (see above).
ABORT = "dummy_bank.abort"


def reset_connection(transport: Transport) -> None:
    """Close the connection now, unsent bytes dropped, with a TCP reset (SO_LINGER of 0)."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class ClientDisconnected(OSError):
    """The client closed the connection before the response was sent."""


class HeadersRefused(Exception):
    """Raised from a parser callback to stop parsing a request that is over a header limit."""


def header_refusal(detail: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    """A whole 431 response in the API's {"detail"} shape, closing the connection."""
    body = json.dumps({"detail": detail}).encode()
    status = http.HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE
    lines = [f"HTTP/1.1 {status.value} {status.phrase}".encode()]
    lines += [name + b": " + value for name, value in default_headers]
    lines += [
        b"content-type: application/json",
        b"content-length: " + str(len(body)).encode(),
        b"connection: close",
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class BankHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header limits and disconnects every request learns of.

    Bytes of a header section are counted per read: a read that lies wholly inside one (the
    request began in an earlier read, or at this one's start) counts in full. A read in which
    a pipelined request began after another ended counts what the parser handed over (request
    target and complete header lines): a lower bound, so a request within the limits is never
    refused. Once the headers are complete, their size is checked again from those parts.
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        settings = get_settings()
        self.max_header_bytes = settings.MAX_HEADER_BYTES
        self.max_header_count = settings.MAX_HEADER_COUNT
        self.in_message = False  # from a request's first byte to its body's last
        self.headers_pending = False  # from a request's first byte to its headers' end
        self.header_bytes = 0  # of the pending header section, counted by whole reads
        self.header_parts = 0  # of the pending header section, counted from the parser's parts
        self.messages_begun = 0  # requests begun in the current read
        self.running: RequestResponseCycle | None = None
        self.refusal: str | None = None  # why the request was refused
        self.refused = False
        self.linger: asyncio.TimerHandle | None = None

    # --- Header limits ---------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.refused:
            return  # lingering after a 431: read and drop
        self._unset_keepalive_if_required()
        began_inside = self.in_message
        self.messages_begun = 0
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
            return
        except httptools.HttpParserError:
            if self.refusal is not None:  # a callback below stopped the parser
                self.refuse(self.refusal)
                return
            message = "Invalid HTTP request received."
            self.logger.warning(message)
            self.send_400_response(message)
            return
        if not self.headers_pending:
            return
        if self.messages_begun == 0 or (self.messages_begun == 1 and not began_inside):
            self.header_bytes += len(data)  # this read lies wholly inside the header section
        else:
            self.header_bytes = self.header_parts + len(self.url)  # began after another ended
        if self.header_bytes > self.max_header_bytes:
            self.refuse(HEADERS_TOO_LARGE.format(limit=self.max_header_bytes))

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.in_message = self.headers_pending = True
        self.header_bytes = self.header_parts = 0
        self.messages_begun += 1

    def on_header(self, name: bytes, value: bytes) -> None:
        # uvicorn's own on_header, inlined (a call per header line costs), after the checks.
        headers = self.headers
        if len(headers) >= self.max_header_count:
            self.refusal = TOO_MANY_HEADERS.format(limit=self.max_header_count)
            raise HeadersRefused
        self.header_parts += len(name) + len(value)
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100_continue = True
        headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.headers_pending = False
        self.header_parts += (  # then the size is exact for a well-formed request
            len(self.parser.get_method())
            + len(self.url)
            + REQUEST_LINE_FRAMING
            + HEADER_LINE_FRAMING * len(self.headers)
        )
        if self.header_parts > self.max_header_bytes:
            self.refusal = HEADERS_TOO_LARGE.format(limit=self.max_header_bytes)
            raise HeadersRefused
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self.in_message = False
        super().on_message_complete()

    def refuse(self, detail: str) -> None:
        """Stop reading the request, and answer 431 once the requests pipelined before it are
        answered."""
        self.refused = True
        host, port = self.client or ("unknown", 0)
        logger.warning("Refused a request from %s:%d with 431: %s", host, port, detail)
        self.refusal = detail
        if self.cycle is None or self.cycle.response_complete:
            self.answer_refusal()

    def answer_refusal(self) -> None:
        """Send the 431 and close the connection at the latest LINGER_SECONDS from now (not
        from the refusal: a request pipelined before it may still be answering)."""
        assert self.refusal is not None
        self.linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)
        self.transport.write(header_refusal(self.refusal, self.server_state.default_headers))
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the client reads the 431, then the end

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.refused and self.cycle.response_complete and not self.transport.is_closing():
            self._unset_keepalive_if_required()
            self.answer_refusal()  # the last request before the refused one is answered

    # --- Disconnects -----------------------------------------------------------------------

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: ASGI3Application) -> None:
        transport = self.transport

        async def send(message: ASGISendEvent) -> None:
            if message["type"] == ABORT:
                cycle.disconnected = True  # uvicorn then reports no error of its own
                if message.get("reset", True):
                    reset_connection(transport)
                else:
                    transport.close()
                return
            if not cycle.disconnected and not transport.is_closing():
                await cycle.send(message)
                if not cycle.disconnected:  # it was not dropped while waiting to write
                    return
            cycle.disconnected = True  # uvicorn then reports no error of its own
            raise ClientDisconnected("the client closed the connection")

        async def run_app(
            scope: Scope, receive: ASGIReceiveCallable, _send: ASGISendCallable
        ) -> None:
            extensible = cast(dict[str, Any], scope)
            extensible["extensions"] = {**(extensible.get("extensions") or {}), ABORT: {}}
            await app(scope, receive, send)

        self.running = cycle
        super()._start_asgi_task(cycle, run_app)

    def connection_lost(self, exc: Exception | None) -> None:
        # uvicorn tells only self.cycle, the last request parsed; the one running may be older.
        running = self.running
        if running is not None and not running.response_complete:
            running.disconnected = True
            running.message_event.set()
        if self.linger is not None:
            self.linger.cancel()
        super().connection_lost(exc)
