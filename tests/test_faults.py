"""Faults on purpose: the Sandbox-Fault and Prefer headers, the seeded fault profile, and faults
on MCP tool calls. A fault strikes before the operation (nothing changes), except ack-lost."""

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from fastapi.testclient import TestClient
from mcp import Client

from settings import PROJECT_DIR
from tests.fixtures import (
    NEW_OID,
    SAMPLE_OIDS,
    LiveServer,
    app_mcp_server,
    customer_count,
    on_sqlite_only,
)

OWNER = SAMPLE_OIDS[0]
STATUS_PROFILE = {
    "seed": 42,
    "rules": [{"match": {"path": "/customers"}, "rate": 0.3, "fault": {"status": 503}}],
}


def register(client: TestClient, name: str, **headers: str) -> httpx2.Response:
    return client.post("/register-customer", json={"name": name}, headers=headers)


# --- The Sandbox-Fault header ---------------------------------------------------------------


@on_sqlite_only  # faults strike in front of any query; ack-lost, which lets one run, on both
@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_a_status_fault_is_answered_instead_and_changes_nothing(
    client: TestClient, status: int
) -> None:
    response = register(client, "Never Made", **{"Sandbox-Fault": f"status={status}"})
    assert response.status_code == status
    assert response.json()["detail"].startswith(f"Sandbox fault: {status} ")
    assert "retry-after" not in response.headers
    assert customer_count(client, "Never Made") == 0


@on_sqlite_only
def test_retry_after_comes_with_the_status(client: TestClient) -> None:
    response = client.get("/customers", headers={"Sandbox-Fault": "status=503; retry_after=2"})
    assert (response.status_code, response.headers["retry-after"]) == (503, "2")
    assert response.json() == {
        "detail": "Sandbox fault: 503 Service Unavailable, injected by the Sandbox-Fault "
        "header; nothing was changed; retry after 2 seconds"
    }


@on_sqlite_only
def test_latency_delays_the_real_answer(client: TestClient) -> None:
    plain = client.get(f"/user-portfolio/{OWNER}")
    started = time.perf_counter()
    slow = client.get(f"/user-portfolio/{OWNER}", headers={"Sandbox-Fault": "latency=300"})
    assert time.perf_counter() - started >= 0.3
    assert (slow.status_code, slow.content) == (200, plain.content)


@on_sqlite_only
def test_latency_then_a_status(client: TestClient) -> None:
    started = time.perf_counter()
    response = register(client, "Never Made", **{"Sandbox-Fault": "latency=200; status=504"})
    assert time.perf_counter() - started >= 0.2 and response.status_code == 504
    assert customer_count(client, "Never Made") == 0


def test_ack_lost_runs_the_write_and_loses_its_answer(client: TestClient) -> None:
    response = register(client, "Made Anyway", **{"Sandbox-Fault": "ack-lost"})
    assert response.status_code == 502
    assert "Idempotency-Key" in response.json()["detail"]
    assert customer_count(client, "Made Anyway") == 1


@on_sqlite_only
def test_ack_lost_is_for_writes(client: TestClient) -> None:
    response = client.get("/customers", headers={"Sandbox-Fault": "ack-lost"})
    assert response.status_code == 400
    assert "writes" in response.json()["detail"]


@on_sqlite_only
@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("bogus", "'bogus' is not a fault"),
        ("status=200", "status: Input should be greater than or equal to 400"),
        ("status=abc", "status: Input should be an integer"),
        ("status=503; reset", "one fault at a time: status and reset"),
        ("retry_after=2", "retry_after goes with status"),
        ("latency=999999", "latency: Input should be less than or equal to 60000"),
        ("status=503; status=500", "'status' is given twice"),
        ("reset=1", "'reset=1' is not a fault"),
        ("", "name a fault"),
        ("latency=" + "1" * 5000, "latency: Input should be an integer"),
        ("status=\u00b2", "status: Input should be an integer"),
    ],
)
def test_an_invalid_fault_header_is_400_and_changes_nothing(
    client: TestClient, header: str, problem: str
) -> None:
    response = client.post(
        "/register-customer",
        json={"name": "Never Made"},
        headers=[(b"sandbox-fault", header.encode("latin-1"))],  # as bytes: \xb2 among them
    )
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert detail.startswith("Sandbox-Fault: ") and problem in detail, detail
    assert customer_count(client, "Never Made") == 0


# --- Prism's Prefer: code= ------------------------------------------------------------------


@on_sqlite_only
def test_prefer_code_answers_that_status(client: TestClient) -> None:
    response = client.get("/customers", headers={"Prefer": "dynamic=true, code=404"})
    assert response.status_code == 404
    assert response.json()["detail"].startswith("Sandbox fault: 404 Not Found, injected by the")


@on_sqlite_only
def test_prefer_a_success_code_is_the_real_answer(client: TestClient) -> None:
    assert client.get("/customers", headers={"Prefer": "code=200"}).status_code == 200
    assert client.get("/customers", headers={"Prefer": "return=minimal"}).status_code == 200


@on_sqlite_only
def test_prefer_a_code_that_is_no_status_is_400(client: TestClient) -> None:
    response = client.get("/customers", headers={"Prefer": "code=abc"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Prefer: code=abc is not an HTTP status code (100-599)"}


# --- Breaking the connection, on a real server ----------------------------------------------


@on_sqlite_only
@pytest.mark.parametrize(
    ("kind", "broken"),
    [
        ("reset", (httpx.RemoteProtocolError, httpx.ReadError)),  # the reset may come first
        ("truncate", (httpx.RemoteProtocolError,)),  # half of a 503, then the end
    ],
)
def test_a_broken_write_gets_no_answer_and_changes_nothing(
    live_server: LiveServer, kind: str, broken: tuple[type[Exception], ...]
) -> None:
    url = live_server.base_url
    with pytest.raises(broken):
        httpx.post(
            f"{url}/register-customer", json={"name": "Never Made"}, headers={"Sandbox-Fault": kind}
        )
    customers = httpx.get(f"{url}/customers", params={"limit": 1000}).json()
    assert "Never Made" not in {customer["name"] for customer in customers}


@on_sqlite_only
def test_truncate_sends_half_the_answer_then_closes(live_server: LiveServer) -> None:
    url = f"{live_server.base_url}/user-portfolio/{OWNER}"
    whole = httpx.get(url).content
    with httpx.stream("GET", url, headers={"Sandbox-Fault": "truncate"}) as response:
        assert response.status_code == 200
        assert int(response.headers["content-length"]) == len(whole)
        received = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received += chunk
    assert received == whole[: len(whole) // 2]
    assert httpx.get(url).content == whole  # and the server serves on


@on_sqlite_only
@pytest.mark.parametrize("kind", ["reset", "truncate"])
def test_without_the_banks_server_a_broken_connection_is_told_instead(
    client: TestClient, kind: str
) -> None:
    """In process, as under another ASGI server, the connection cannot be broken."""
    response = register(client, "Never Made", **{"Sandbox-Fault": kind})
    assert response.status_code == 502
    assert response.json()["detail"].startswith(f"Sandbox fault: {kind} breaks the connection")
    assert customer_count(client, "Never Made") == 0


# --- The fault profile ----------------------------------------------------------------------


def statuses(client: TestClient, count: int) -> list[int]:
    return [client.get("/customers").status_code for _ in range(count)]


@on_sqlite_only
def test_the_same_seed_and_requests_give_the_same_faults(client: TestClient) -> None:
    assert client.put("/sandbox/faults", json=STATUS_PROFILE).status_code == 200
    first = statuses(client, 40)
    client.put("/sandbox/faults", json=STATUS_PROFILE)
    assert statuses(client, 40) == first
    client.put("/sandbox/faults", json={**STATUS_PROFILE, "seed": 43})
    assert statuses(client, 40) != first
    assert 0 < first.count(503) < 40 and set(first) == {200, 503}


@on_sqlite_only
def test_the_profile_counts_what_each_rule_did(client: TestClient) -> None:
    profile = {
        "seed": 7,
        "rules": [
            {"match": {"method": "GET", "path": "/customer/*/exists"}, "rate": 1,
             "fault": {"status": 429, "retry_after": 1}},
            {"match": {"path": "/customers"}, "rate": 0.5, "fault": {"status": 500}},
            {"match": {"tool": "get_*"}, "rate": 1, "fault": {"status": 503}},
        ],
    }  # fmt: skip
    stored = client.put("/sandbox/faults", json=profile).json()
    assert [rule["injected"] for rule in stored["rules"]] == [0, 0, 0]
    exists = client.get(f"/customer/{OWNER}/exists")
    assert (exists.status_code, exists.headers["retry-after"]) == (429, "1")
    listed = statuses(client, 20)
    client.get(f"/user-portfolio/{OWNER}")  # matches no rule
    report = client.get("/sandbox/faults").json()
    assert report["seed"] == 7
    assert [(r["matched"], r["injected"]) for r in report["rules"]] == [
        (1, 1),
        (20, listed.count(500)),
        (0, 0),
    ]
    assert report["rules"][0]["fault"] == {
        "status": 429, "retry_after": 1, "latency": None, "reset": False, "truncate": False,
        "ack_lost": False,
    }  # fmt: skip


@on_sqlite_only
def test_a_rule_for_every_path_leaves_the_control_and_the_docs(client: TestClient) -> None:
    everything = {"rules": [{"rate": 1, "fault": {"status": 500}}]}
    assert client.put("/sandbox/faults", json=everything).status_code == 200
    assert client.get("/customers").status_code == 500
    assert client.get("/health").status_code == 500  # a probe sees the bad day too
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/sandbox/faults").status_code == 200
    assert client.delete("/sandbox/faults").status_code == 204
    assert client.get("/customers").status_code == 200
    assert client.get("/sandbox/faults").json() == {"seed": 0, "rules": []}


def test_a_profile_ack_lost_strikes_writes_only(client: TestClient) -> None:
    lose_all = {"rules": [{"rate": 1, "fault": {"ack_lost": True}}]}
    client.put("/sandbox/faults", json=lose_all)
    assert client.get("/customers").status_code == 200
    assert register(client, "Made Anyway").status_code == 502
    client.delete("/sandbox/faults")
    assert customer_count(client, "Made Anyway") == 1


@on_sqlite_only
@pytest.mark.parametrize(
    ("profile", "problem"),
    [
        ({"rules": [{"rate": 1.5, "fault": {"status": 503}}]}, "less than or equal to 1"),
        ({"rules": [{"rate": 1, "fault": {}}]}, "name a fault"),
        ({"rules": [{"rate": 1, "fault": {"explode": True}}]}, "Extra inputs"),
        ({"rules": [{"rate": 1, "fault": {"reset": 1}}]}, "valid boolean"),
        ({"seed": "1", "rules": []}, "integer"),
        ({"seed": -1, "rules": []}, "greater than or equal to 0"),
        (
            {"rules": [{"match": {"tool": "x", "path": "/a"}, "rate": 1, "fault": {"latency": 1}}]},
            "not both",
        ),
        (
            {"rules": [{"match": {"tool": "get_*"}, "rate": 1, "fault": {"truncate": True}}]},
            "a tool rule takes status, latency or ack_lost",
        ),
        ({"rules": [{"match": {"method": "BREW"}, "rate": 1, "fault": {"status": 500}}]}, "GET"),
        (
            {"rules": [{"match": {"path": "customers"}, "rate": 1, "fault": {"status": 500}}]},
            "path",
        ),
    ],
)
def test_an_invalid_profile_is_400_and_keeps_the_old_one(
    client: TestClient, profile: dict[str, Any], problem: str
) -> None:
    client.put("/sandbox/faults", json=STATUS_PROFILE)
    response = client.put("/sandbox/faults", json=profile)
    assert response.status_code == 400
    assert problem in response.json()["detail"], response.json()
    assert client.get("/sandbox/faults").json()["seed"] == STATUS_PROFILE["seed"]


@on_sqlite_only
def test_a_profile_set_at_start(app_client: Callable[..., TestClient], tmp_path: Path) -> None:
    text = json.dumps(STATUS_PROFILE)
    assert app_client(SANDBOX_FAULT_PROFILE=text).get("/sandbox/faults").json()["seed"] == 42
    path = tmp_path / "faults.json"
    path.write_text(json.dumps({**STATUS_PROFILE, "seed": 5}))
    assert app_client(SANDBOX_FAULT_PROFILE=str(path)).get("/sandbox/faults").json()["seed"] == 5


# --- Faults on MCP tool calls ---------------------------------------------------------------


def fault_of(result: Any) -> dict[str, Any]:
    assert result.is_error
    error: dict[str, Any] = json.loads(result.content[0].text)
    assert result.meta is not None and result.meta["sandbox_fault"] == error
    return error


@on_sqlite_only
@pytest.mark.anyio
async def test_a_status_fault_on_a_tool_is_a_tool_error_with_its_status(
    client: TestClient,
) -> None:
    rule = {"match": {"tool": "get_*"}, "rate": 1, "fault": {"status": 503, "retry_after": 2}}
    client.put("/sandbox/faults", json={"rules": [rule]})
    async with Client(app_mcp_server(client)) as mcp:
        error = fault_of(await mcp.call_tool("get_portfolio", {"customer_oid": OWNER}))
        assert (error["status"], error["retry_after"]) == (503, 2)
        assert error["detail"].startswith("Sandbox fault: 503 Service Unavailable")
        listed = await mcp.call_tool("list_customers", {})  # not a get_ tool
        assert not listed.is_error
    assert client.get(f"/user-portfolio/{OWNER}").status_code == 200  # a tool rule: tools only


@on_sqlite_only
@pytest.mark.anyio
async def test_latency_delays_a_tools_result(client: TestClient) -> None:
    rule = {"match": {"tool": "customer_exists"}, "rate": 1, "fault": {"latency": 300}}
    client.put("/sandbox/faults", json={"rules": [rule]})
    async with Client(app_mcp_server(client)) as mcp:
        started = time.perf_counter()
        result = await mcp.call_tool("customer_exists", {"customer_oid": OWNER})
        assert time.perf_counter() - started >= 0.3
        assert result.structured_content == {
            "customer_oid": OWNER, "exists": True, "name": "John Doe"
        }  # fmt: skip


@pytest.mark.anyio
async def test_ack_lost_on_a_write_tool_runs_it(client: TestClient) -> None:
    rule = {"match": {"tool": "*"}, "rate": 1, "fault": {"ack_lost": True}}
    client.put("/sandbox/faults", json={"rules": [rule]})
    async with Client(app_mcp_server(client)) as mcp:
        read = await mcp.call_tool("customer_exists", {"customer_oid": OWNER})
        assert not read.is_error  # ack-lost strikes writes only
        made = await mcp.call_tool(
            "register_customer", {"name": "Made Anyway", "customer_oid": NEW_OID}
        )
        assert fault_of(made)["status"] == 502
    client.delete("/sandbox/faults")
    assert client.get(f"/customer/{NEW_OID}/exists").json()["exists"] is True


# --- The README's agent on a bad day --------------------------------------------------------


@on_sqlite_only  # tests/test_idempotency.py takes every step of it on both engines
def test_the_readmes_agent_finishes_its_task_through_the_faults(
    live_server: LiveServer, tmp_path: Path
) -> None:
    readme = (PROJECT_DIR / "README.md").read_text()
    code = readme.split("<!-- agent.py")[1].split("```python\n")[1].split("```")[0]
    script = tmp_path / "agent.py"
    script.write_text(code)
    run = subprocess.run(
        [sys.executable, str(script), live_server.base_url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    # It met every fault of the profile (the seed makes them the same each run), and got
    # through: its own checks of the end state passed.
    (faults,) = [line for line in run.stdout.splitlines() if line.startswith("faults: ")]
    assert all(count >= 1 for count in json.loads(faults.removeprefix("faults: ")))
    assert "done: one customer, one account, five payments" in run.stdout
