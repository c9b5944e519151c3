"""One structured log line per request, and an X-Request-ID on every response."""

import logging
import re

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import NEW_OID, SAMPLE_OIDS, on_sqlite_only

LINE = re.compile(
    r'method=(?P<method>\w+) path="(?P<path>[^"]*)" status=(?P<status>\d+) '
    r"duration_ms=(?P<duration>\d+\.\d\d) request_id=(?P<request_id>\S+)"
)


def request_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    lines = [r.getMessage() for r in caplog.records if r.name == "bank.requests"]
    return [match.groupdict() for line in lines if (match := LINE.fullmatch(line))]


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
