"""The SDK's MCP client against the real server: Streamable HTTP at /mcp, and stdio."""

import sys
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from settings import PROJECT_DIR
from tests.fixtures import MCP_TOOLS, SAMPLE_OIDS, LiveServer, assert_agent_sees_rest

pytestmark = pytest.mark.anyio


async def assert_serves_the_rest_portfolios(mcp: Client, base_url: str) -> None:
    assert {tool.name for tool in (await mcp.list_tools()).tools} == MCP_TOOLS
    for oid in SAMPLE_OIDS:
        result = await mcp.call_tool("get_portfolio", {"customer_oid": oid})
        rest: dict[str, Any] = httpx.get(f"{base_url}/user-portfolio/{oid}").json()
        assert not result.is_error
        assert result.structured_content is not None
        assert_agent_sees_rest(result.structured_content, rest)


async def test_streamable_http_at_mcp(live_server: LiveServer) -> None:
    async with Client(f"{live_server.base_url}/mcp") as mcp:
        await assert_serves_the_rest_portfolios(mcp, live_server.base_url)


async def test_http_writes_are_visible_over_rest(live_server: LiveServer) -> None:
    async with Client(f"{live_server.base_url}/mcp") as mcp:
        result = await mcp.call_tool("register_customer", {"name": "Over MCP"})
    oid = result.structured_content["customer_oid"] if result.structured_content else None
    exists = httpx.get(f"{live_server.base_url}/customer/{oid}/exists").json()
    assert exists["name"] == "Over MCP"


async def test_stdio_server(live_server: LiveServer) -> None:
    # The stdio server opens the same database file the HTTP server uses.
    params = StdioServerParameters(
        command=sys.executable,
        args=["mcp_server.py"],
        cwd=PROJECT_DIR,
        env={"DATABASE_URL": live_server.database_url},
    )
    registered = httpx.post(f"{live_server.base_url}/register-customer", json={"name": "Via REST"})
    async with Client(params) as mcp:
        await assert_serves_the_rest_portfolios(mcp, live_server.base_url)
        customers = (await mcp.call_tool("list_customers", {})).structured_content
    # Only a server on DATABASE_URL, not on the default banking.db, sees this customer.
    assert customers is not None
    new_customer = {"customer_oid": registered.json()["customer_oid"], "name": "Via REST"}
    assert new_customer in customers["customers"]
