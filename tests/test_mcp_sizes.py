"""Every MCP tool result fits an agent's context, whatever the customer; REST stays complete."""

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from mcp import Client
from mcp_types import TextContent

from mcp_server import build_mcp_server
from mcp_views import TOOL_RESULT_BYTES
from tests.fixtures import NEW_OID, VALID, app_database, on_sqlite_only

# What an agent is shown is cut from the same bytes on either engine (tests/test_documents.py
# holds the two to the same answers): the sizes are measured on SQLite.
pytestmark = [pytest.mark.anyio, on_sqlite_only]

TRANSACTIONS = 3_000
# Long enough text that a page of 1,000 transactions is several times the budget.
DESCRIPTION = "Card payment at a store with a long name, reference " + "x" * 90


def large_portfolio() -> dict[str, Any]:
    """3,000 transactions on one account, 400 spending entries, 300 holdings."""
    account = {**VALID["bank-accounts"], "id": 1, "currency": "USD"}
    transactions = [
        {
            **VALID["transactions"],
            "date": f"20{20 + n % 6}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "amount": -(n % 500) - 0.25,
            "description": f"{DESCRIPTION} {n}",
            "account_id": 1,
            "merchant": f"Merchant {n % 97}",
            "mcc": "5411",
        }
        for n in range(TRANSACTIONS)
    ]
    spending = [
        {"category": f"category {n % 40}", "amount": 10 + n, "month": f"20{20 + n // 12 % 6}-01"}
        for n in range(400)
    ]
    assets = [{**VALID["assets"], "symbol": f"S{n}"} for n in range(300)]
    return {
        "user": {"name": "Heavy Trader"},
        "bank_accounts": [account],
        "transactions": transactions,
        "spending": spending,
        "assets": assets,
    }


@pytest.fixture
def large(app_client: Callable[..., TestClient]) -> TestClient:
    client = app_client(MAX_BODY_BYTES=8_000_000)
    stored = client.put(f"/user-portfolio/{NEW_OID}", json=large_portfolio())
    assert stored.status_code == 201, stored.text
    return client


@pytest.fixture
async def mcp(large: TestClient) -> AsyncIterator[Client]:
    async with Client(build_mcp_server(lambda: app_database(large))) as mcp_client:
        yield mcp_client


async def fitted(mcp: Client, tool: str, **arguments: Any) -> dict[str, Any]:
    """The tool's structured result, after checking that neither form is over the budget."""
    result = await mcp.call_tool(tool, arguments)
    assert not result.is_error, result.content
    content = result.content[0]
    assert isinstance(content, TextContent)
    structured = result.structured_content
    assert structured is not None
    assert len(content.text.encode()) <= TOOL_RESULT_BYTES, (tool, len(content.text))
    compact = json.dumps(structured, separators=(",", ":"), ensure_ascii=False).encode()
    assert len(compact) <= TOOL_RESULT_BYTES, (tool, len(compact))
    found: dict[str, Any] = structured
    return found


async def test_every_tool_result_fits_and_says_how_to_read_the_rest(
    mcp: Client, large: TestClient
) -> None:
    rest = large.get(f"/user-portfolio/{NEW_OID}").json()
    assert len(rest["transactions"]) == TRANSACTIONS  # REST stays complete
    portfolio = await fitted(mcp, "get_portfolio", customer_oid=NEW_OID)
    assert portfolio["transactions_shown"] == 50
    assert portfolio["transactions_total"] == TRANSACTIONS
    assert portfolio["transactions"] == rest["transactions"][: len(portfolio["transactions"])]
    assert len(portfolio["transactions"]) <= 50
    assert portfolio["portfolio_summary"]["total_transactions"] == TRANSACTIONS
    # Every list cut is named with what is shown of it, and the hint gives the next page. The
    # 300 holdings and 400 spending entries do not all fit beside the 50 transactions.
    assert "transactions" in portfolio["partly_shown"] and len(portfolio["partly_shown"]) > 1
    for part, shown in portfolio["partly_shown"].items():
        if not part.startswith("portfolio_summary."):
            assert len(portfolio[part]) == shown["shown"] < shown["total"] == len(rest[part])
    hint = portfolio["hint"]
    assert "get_transactions" in hint
    cursor = hint.split('cursor="')[1].split('"')[0]
    after = await fitted(mcp, "get_transactions", customer_oid=NEW_OID, cursor=cursor, limit=5)
    shown = len(portfolio["transactions"])
    assert after["transactions"] == rest["transactions"][shown : shown + 5]
    # A long statement fits too.
    await assert_a_long_statement_lists_the_oldest_and_says_where_to_go_on(mcp, large)
    # Pages of up to 1,000 asked for: each fits, and walking them gives every item once, in
    # the REST order. (All in one test: the customer is imported once.)
    for tool, arguments, listed, rest_path in LIST_TOOLS:
        await walk_pages(mcp, large, tool, arguments, listed, rest_path)
    # import_portfolio answers as get_portfolio does.
    stored = await fitted(mcp, "import_portfolio", customer_oid=NEW_OID, portfolio=rest)
    assert stored["transactions_total"] == TRANSACTIONS


# Each list tool, what it lists under, and the REST list it pages through.
LIST_TOOLS = [
    ("get_transactions", {}, "transactions", "transactions"),
    ("get_items", {"collection": "transactions"}, "items", "transactions"),
    ("get_items", {"collection": "spending"}, "items", "spending"),
    ("get_items", {"collection": "assets"}, "items", "assets"),
]


async def walk_pages(
    mcp: Client,
    large: TestClient,
    tool: str,
    arguments: dict[str, Any],
    listed: str,
    rest_path: str,
) -> None:
    seen: list[dict[str, Any]] = []
    cursor = None
    pages = 0
    while True:
        page = await fitted(mcp, tool, customer_oid=NEW_OID, limit=1000, cursor=cursor, **arguments)
        seen += page[listed]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    rest = large.get(f"/customer/{NEW_OID}/{rest_path}", params={"limit": 1000})
    everything = rest.json()
    while "link" in rest.headers:
        rest = large.get(rest.headers["link"].split(">")[0][1:])
        everything += rest.json()
    assert seen == everything
    if rest_path == "transactions":
        assert pages > TRANSACTIONS // 1000  # cut to fit: more pages than REST's


async def assert_a_long_statement_lists_the_oldest_and_says_where_to_go_on(
    mcp: Client, large: TestClient
) -> None:
    days = {"from_date": "2019-01-01", "to_date": "2030-12-31"}
    statement = await fitted(
        mcp, "get_account_statement", customer_oid=NEW_OID, account_id=large_account(large),
        **days,
    )  # fmt: skip
    assert statement["transactions_total"] == TRANSACTIONS
    shown = statement["transactions_shown"]
    assert 0 < shown < TRANSACTIONS and len(statement["transactions"]) == shown
    rest = large.get(
        f"/customer/{NEW_OID}/bank-accounts/{large_account(large)}/statement",
        params={"from": days["from_date"], "to": days["to_date"]},
    ).json()
    assert statement["transactions"] == rest["transactions"][:shown]
    assert statement["opening_balance"] == rest["opening_balance"]
    assert statement["closing_balance"] == rest["closing_balance"]
    assert f"from_date={rest['transactions'][shown]['date']}" in statement["hint"]


def large_account(client: TestClient) -> int:
    account_id: int = client.get(f"/customer/{NEW_OID}/bank-accounts").json()[0]["id"]
    return account_id
