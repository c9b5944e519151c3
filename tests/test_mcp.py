"""The MCP server through the SDK's in-memory client: every tool, the resource and the prompt.

On SQLite only: the tools are a thin face over the domain functions the REST tests run on both
engines, and tests/test_mcp_e2e.py runs the real server's tools on both.
"""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp.shared.exceptions import MCPError
from mcp_types import TextContent, TextResourceContents

from mcp_server import build_mcp_server
from mcp_views import AgentPortfolio
from tests.fixtures import (
    MCP_TOOLS,
    NEW_OID,
    SAMPLE_OIDS,
    VALID,
    app_database,
    assert_agent_sees_rest,
    on_sqlite_only,
    rename_users_away,
)

pytestmark = [pytest.mark.anyio, on_sqlite_only]


async def call(mcp: Client, tool: str, **arguments: Any) -> Any:
    result = await mcp.call_tool(tool, arguments)
    assert not result.is_error, result.content
    return result.structured_content


async def call_error(mcp: Client, tool: str, **arguments: Any) -> str:
    result = await mcp.call_tool(tool, arguments)
    assert result.is_error
    assert result.structured_content is None
    content = result.content[0]
    assert isinstance(content, TextContent)
    return content.text


async def test_lists_every_tool_with_a_description(mcp: Client) -> None:
    tools = {tool.name: tool for tool in (await mcp.list_tools()).tools}
    assert set(tools) == MCP_TOOLS
    for tool in tools.values():
        assert tool.description and not tool.description.startswith(" ")
        assert "\n    " not in tool.description


async def test_tool_annotations(mcp: Client) -> None:
    tools = {tool.name: tool.annotations for tool in (await mcp.list_tools()).tools}
    readers = ("list_customers", "get_portfolio", "customer_exists", "get_transactions")
    for reader in (*readers, "get_account_statement"):
        annotations = tools[reader]
        assert annotations is not None and annotations.read_only_hint is True
    register, delete = tools["register_customer"], tools["delete_customer"]
    assert register is not None and delete is not None
    assert register.read_only_hint is False and register.destructive_hint is False
    assert delete.read_only_hint is False and delete.destructive_hint is True
    # Importing replaces everything the customer held.
    import_tool = tools["import_portfolio"]
    assert import_tool is not None and import_tool.destructive_hint is True


async def test_get_portfolio_output_schema_is_the_agent_portfolio_model(mcp: Client) -> None:
    tool = next(t for t in (await mcp.list_tools()).tools if t.name == "get_portfolio")
    assert tool.output_schema is not None
    expected = AgentPortfolio.model_json_schema(mode="serialization")
    assert tool.output_schema["properties"] == expected["properties"]
    assert set(tool.output_schema["required"]) == set(expected["required"])


async def test_oid_arguments_show_the_format(mcp: Client) -> None:
    tool = next(t for t in (await mcp.list_tools()).tools if t.name == "get_portfolio")
    assert "pattern" in tool.input_schema["properties"]["customer_oid"]
    assert tool.input_schema["required"] == ["customer_oid"]


async def test_list_customers_matches_rest(mcp: Client, client: TestClient) -> None:
    assert await call(mcp, "list_customers") == {
        "customers": client.get("/customers").json(),
        "next_cursor": None,
    }


@pytest.mark.parametrize("oid", SAMPLE_OIDS)
async def test_get_portfolio_matches_rest(mcp: Client, client: TestClient, oid: str) -> None:
    agent = await call(mcp, "get_portfolio", customer_oid=oid)
    rest = client.get(f"/user-portfolio/{oid}").json()
    assert_agent_sees_rest(agent, rest)
    # A sample customer has a year of transactions: the newest 50 are shown.
    assert agent["transactions_total"] > 50 and "get_transactions" in agent["hint"]


async def test_get_portfolio_text_is_the_rest_body(mcp: Client, client: TestClient) -> None:
    result = await mcp.call_tool("get_portfolio", {"customer_oid": SAMPLE_OIDS[3]})
    content = result.content[0]
    assert isinstance(content, TextContent)
    # The REST body's bytes up to the transactions, of which the newest 50 follow.
    rest = client.get(f"/user-portfolio/{SAMPLE_OIDS[3]}").text
    assert content.text.startswith(rest[: rest.index('"transactions":[')])
    assert json.loads(content.text) == result.structured_content


async def test_customer_exists_matches_rest_for_any_spelling(
    mcp: Client, client: TestClient
) -> None:
    spelling = SAMPLE_OIDS[2].upper().replace("-", "")
    expected = client.get(f"/customer/{spelling}/exists").json()
    assert await call(mcp, "customer_exists", customer_oid=spelling) == expected
    assert expected["exists"] is True and expected["customer_oid"] == SAMPLE_OIDS[2]


async def test_customer_exists_for_unknown_customer(mcp: Client, client: TestClient) -> None:
    answer = await call(mcp, "customer_exists", customer_oid=NEW_OID)
    assert answer == {"customer_oid": NEW_OID, "exists": False, "name": None}
    assert answer == client.get(f"/customer/{NEW_OID}/exists").json()


async def test_register_customer_creates_it(mcp: Client, client: TestClient) -> None:
    answer = await call(mcp, "register_customer", name="  Agent Made ", customer_oid=NEW_OID)
    assert answer == {
        "customer_oid": NEW_OID,
        "name": "Agent Made",
        "message": "Customer registered successfully",
    }
    assert client.get(f"/customer/{NEW_OID}/exists").json()["name"] == "Agent Made"


async def test_register_customer_generates_an_oid(mcp: Client, client: TestClient) -> None:
    answer = await call(mcp, "register_customer", name="Agent Made")
    assert client.get(f"/customer/{answer['customer_oid']}/exists").json()["exists"] is True


async def test_register_duplicate_is_tool_error_with_rest_message(
    mcp: Client, client: TestClient
) -> None:
    rest = client.post("/register-customer", json={"name": "Copy", "customer_oid": SAMPLE_OIDS[0]})
    message = await call_error(mcp, "register_customer", name="Copy", customer_oid=SAMPLE_OIDS[0])
    assert rest.status_code == 409
    assert message == rest.json()["detail"]


async def test_register_short_name_is_tool_error_with_rest_message(
    mcp: Client, client: TestClient
) -> None:
    rest = client.post("/register-customer", json={"name": "A"})
    assert rest.status_code == 400
    assert await call_error(mcp, "register_customer", name="A") == rest.json()["detail"]
    assert len(client.get("/customers").json()) == 5


async def test_register_invisible_name_is_tool_error_with_rest_message(
    mcp: Client, client: TestClient
) -> None:
    rest = client.post("/register-customer", json={"name": "Eve \u202eveL"})
    assert rest.status_code == 400
    assert await call_error(mcp, "register_customer", name="Eve \u202eveL") == rest.json()["detail"]
    assert len(client.get("/customers").json()) == 5


@pytest.mark.parametrize(
    "tool, arguments, rest_path",
    [
        ("list_customers", {"limit": "many"}, "/customers?limit=many"),
        ("list_customers", {"limit": 0}, "/customers?limit=0"),
        (
            "get_transactions",
            {"customer_oid": SAMPLE_OIDS[0], "limit": 5000},
            f"/customer/{SAMPLE_OIDS[0]}/transactions?limit=5000",
        ),
    ],
)
async def test_invalid_argument_is_tool_error_with_rest_message(
    mcp: Client, client: TestClient, tool: str, arguments: dict[str, Any], rest_path: str
) -> None:
    rest = client.get(rest_path)
    assert rest.status_code == 400
    message = await call_error(mcp, tool, **arguments)
    assert message == rest.json()["detail"]
    assert "pydantic.dev" not in message


async def test_register_invalid_oid_is_tool_error_with_rest_message(
    mcp: Client, client: TestClient
) -> None:
    rest = client.post("/register-customer", json={"name": "Valid", "customer_oid": "oops"})
    message = await call_error(mcp, "register_customer", name="Valid", customer_oid="oops")
    assert message == rest.json()["detail"]


@pytest.mark.parametrize("tool", ["get_portfolio", "customer_exists", "delete_customer"])
async def test_invalid_oid_is_tool_error_with_rest_message(
    mcp: Client, client: TestClient, tool: str
) -> None:
    rest = client.get("/user-portfolio/not-an-oid")
    assert rest.status_code == 400
    assert await call_error(mcp, tool, customer_oid="not-an-oid") == rest.json()["detail"]


@pytest.mark.parametrize("tool", ["get_portfolio", "delete_customer"])
async def test_unknown_customer_is_tool_error_with_rest_message(
    mcp: Client, client: TestClient, tool: str
) -> None:
    rest = client.get(f"/user-portfolio/{NEW_OID}")
    assert rest.status_code == 404
    assert await call_error(mcp, tool, customer_oid=NEW_OID) == rest.json()["detail"]


async def test_delete_customer_deletes_it(mcp: Client, client: TestClient) -> None:
    answer = await call(mcp, "delete_customer", customer_oid=SAMPLE_OIDS[1])
    assert answer == {
        "customer_oid": SAMPLE_OIDS[1],
        "message": "Customer and all associated data deleted successfully",
    }
    assert client.get(f"/user-portfolio/{SAMPLE_OIDS[1]}").status_code == 404


async def test_missing_argument_is_a_tool_error(mcp: Client) -> None:
    result = await mcp.call_tool("get_portfolio", {})
    assert result.is_error


async def test_unexpected_error_is_a_generic_tool_error(own_client: TestClient) -> None:
    rename_users_away(own_client)
    async with Client(build_mcp_server(lambda: app_database(own_client))) as mcp:
        message = await call_error(mcp, "list_customers")
    assert message == "Error executing tool list_customers"


async def test_portfolio_resource_matches_rest(mcp: Client, client: TestClient) -> None:
    templates = (await mcp.list_resource_templates()).resource_templates
    assert [t.uri_template for t in templates] == ["bank://customers/{customer_oid}/portfolio"]
    result = await mcp.read_resource(f"bank://customers/{SAMPLE_OIDS[4]}/portfolio")
    contents = result.contents[0]
    assert isinstance(contents, TextResourceContents)
    assert contents.mime_type == "application/json"
    assert contents.text == client.get(f"/user-portfolio/{SAMPLE_OIDS[4]}").text


async def test_portfolio_resource_of_unknown_customer_is_an_error(
    mcp: Client, client: TestClient
) -> None:
    with pytest.raises(MCPError) as error:
        await mcp.read_resource(f"bank://customers/{NEW_OID}/portfolio")
    assert str(error.value) == client.get(f"/user-portfolio/{NEW_OID}").json()["detail"]


async def test_portfolio_review_prompt_asks_for_the_four_areas(mcp: Client) -> None:
    prompts = (await mcp.list_prompts()).prompts
    assert [p.name for p in prompts] == ["portfolio_review"]
    result = await mcp.get_prompt("portfolio_review", {"customer_oid": SAMPLE_OIDS[0]})
    content = result.messages[0].content
    assert isinstance(content, TextContent)
    prompt = content.text.lower()
    assert SAMPLE_OIDS[0] in prompt and "get_portfolio" in prompt
    for area in ("allocation", "cash", "spending", "derivative"):
        assert area in prompt


# --- Scenario tools -------------------------------------------------------------------------


async def test_list_customers_pages_with_next_cursor(mcp: Client, client: TestClient) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = await call(mcp, "list_customers", limit=2, cursor=cursor)
        seen += page["customers"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == client.get("/customers").json()


async def test_get_transactions_matches_rest(mcp: Client, client: TestClient) -> None:
    oid = SAMPLE_OIDS[0]
    rest = client.get(f"/customer/{oid}/transactions?from=2026-09-01&to=2026-10-31&limit=3")
    page = await call(
        mcp,
        "get_transactions",
        customer_oid=oid,
        from_date="2026-09-01",
        to_date="2026-10-31",
        limit=3,
    )
    assert page["transactions"] == rest.json()
    assert page["next_cursor"] is not None and page["next_cursor"] in rest.headers["link"]
    second = await call(
        mcp, "get_transactions", customer_oid=oid, from_date="2026-09-01", to_date="2026-10-31",
        limit=3, cursor=page["next_cursor"],
    )  # fmt: skip
    rest_second = client.get(rest.headers["link"].split(">")[0][1:])
    assert second["transactions"] == rest_second.json()


async def test_get_account_statement_matches_rest(mcp: Client, client: TestClient) -> None:
    oid = SAMPLE_OIDS[0]
    account = {**VALID["bank-accounts"], "currency": "EUR", "balance": 100}
    account_id = client.post(f"/customer/{oid}/bank-accounts", json=account).json()["id"]
    posting = {**VALID["transactions"], "date": "2026-11-03", "account_id": account_id}
    assert client.post(f"/customer/{oid}/transactions", json=posting).status_code == 201
    days = {"from": "2026-11-01", "to": "2026-11-30"}
    rest = client.get(f"/customer/{oid}/bank-accounts/{account_id}/statement", params=days)
    assert rest.status_code == 200, rest.text
    statement = await call(
        mcp, "get_account_statement", customer_oid=oid, account_id=account_id,
        from_date="2026-11-01", to_date="2026-11-30",
    )  # fmt: skip
    shown = {"transactions_shown": 1, "transactions_total": 1, "hint": None}
    assert statement == rest.json() | shown
    assert [t["running_balance"] for t in statement["transactions"]] == [87.5]
    other = await call_error(
        mcp, "get_account_statement", customer_oid=SAMPLE_OIDS[1], account_id=account_id
    )
    assert (
        other
        == client.get(f"/customer/{SAMPLE_OIDS[1]}/bank-accounts/{account_id}/statement").json()[
            "detail"
        ]
    )


async def test_get_transactions_filters_by_type_and_category(
    mcp: Client, client: TestClient
) -> None:
    oid = SAMPLE_OIDS[0]
    page = await call(mcp, "get_transactions", customer_oid=oid, type="payment", category="housing")
    rest = client.get(f"/customer/{oid}/transactions?type=payment&category=housing").json()
    assert page == {"transactions": rest, "next_cursor": None}


@pytest.mark.parametrize(
    "arguments, query",
    [
        ({"from_date": "2026-02-30"}, "from=2026-02-30"),
        ({"to_date": "yesterday"}, "to=yesterday"),
        ({"type": "gift"}, "type=gift"),
        ({"limit": 0}, "limit=0"),
        ({"cursor": "garbage"}, "cursor=garbage"),
    ],
)
async def test_get_transactions_errors_match_rest(
    mcp: Client, client: TestClient, arguments: dict[str, Any], query: str
) -> None:
    oid = SAMPLE_OIDS[0]
    rest = client.get(f"/customer/{oid}/transactions?{query}")
    assert rest.status_code == 400
    assert (
        await call_error(mcp, "get_transactions", customer_oid=oid, **arguments)
        == rest.json()["detail"]
    )


async def test_list_institutions_matches_rest(mcp: Client, client: TestClient) -> None:
    assert await call(mcp, "list_institutions") == {"result": client.get("/institutions").json()}


async def test_import_portfolio_copies_a_portfolio(mcp: Client, client: TestClient) -> None:
    source = client.get(f"/user-portfolio/{SAMPLE_OIDS[1]}").json()
    stored = await call(mcp, "import_portfolio", customer_oid=NEW_OID, portfolio=source)
    assert_agent_sees_rest(stored, client.get(f"/user-portfolio/{NEW_OID}").json())
    assert stored["user"] == {"customer_oid": NEW_OID, "name": "Jane Smith"}
    assert len(stored["derivative_transactions"]) == len(source["derivative_transactions"])


async def test_import_portfolio_error_matches_rest_and_changes_nothing(
    mcp: Client, client: TestClient
) -> None:
    oid = SAMPLE_OIDS[1]
    before = client.get(f"/user-portfolio/{oid}").json()
    document = {**before, "assets": [{**before["assets"][0], "quantity": -1}]}
    rest = client.put(f"/user-portfolio/{oid}", json=document)
    assert rest.status_code == 400
    message = await call_error(mcp, "import_portfolio", customer_oid=oid, portfolio=document)
    assert message == rest.json()["detail"]
    assert client.get(f"/user-portfolio/{oid}").json() == before


async def test_import_portfolio_shows_the_document_schema(mcp: Client) -> None:
    tool = next(t for t in (await mcp.list_tools()).tools if t.name == "import_portfolio")
    schema = tool.input_schema
    portfolio = schema["properties"]["portfolio"]
    assert portfolio == {"$ref": "#/$defs/PortfolioImport"} or "properties" in portfolio
    assert "AssetImport" in schema["$defs"]


async def test_advance_clock_makes_days_happen_as_rest_does(
    mcp: Client, client: TestClient
) -> None:
    advanced = await call(mcp, "advance_clock", days=3)
    assert (advanced["from"], advanced["to"], advanced["days"]) == ("2026-11-03", "2026-11-05", 3)
    assert advanced["customers"] == 5 and advanced["transactions_added"] > 0
    assert client.get("/sandbox/clock").json() == {"today": "2026-11-05"}
    assert "days" in await call_error(mcp, "advance_clock", days=400)
    assert client.get("/sandbox/clock").json() == {"today": "2026-11-05"}


async def test_sync_transactions_walks_the_feed_as_rest_does(
    mcp: Client, client: TestClient
) -> None:
    oid = SAMPLE_OIDS[0]
    rest = client.get(f"/customer/{oid}/transactions/sync", params={"count": 150}).json()
    first = await call(mcp, "sync_transactions", customer_oid=oid, count=150)
    assert first == rest and first["has_more"] is True
    later = await call(mcp, "sync_transactions", customer_oid=oid, cursor=first["next_cursor"])
    assert later["added"] and later["next_cursor"] != first["next_cursor"]
    assert "count" in await call_error(mcp, "sync_transactions", customer_oid=oid, count=151)
    assert "cursor" in await call_error(mcp, "sync_transactions", customer_oid=oid, cursor="x")
