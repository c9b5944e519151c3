"""What MCP tools answer: the bank's data cut to fit an agent's context.

A tool result travels twice, as text and as structured content, and an agent takes in both.
Claude Code refuses a tool result over 25,000 tokens; a portfolio of 3,000 transactions was
about 150,000. So no tool result is over TOOL_RESULT_BYTES in either form, whatever the
customer: get_portfolio shows the newest transactions and says how many there are, and every
list is a page that ends where the budget does, its next_cursor continuing from there. REST
stays complete.
"""

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, TypeAdapter

from bank.pagination import Page, encode_cursor
from models import AccountStatement, Portfolio, PricePoint

# About 25,000 tokens of JSON.
TOOL_RESULT_BYTES = 100_000
# The transactions get_portfolio shows, newest first.
PORTFOLIO_TRANSACTIONS = 50
# The portfolio's lists, and the summary's maps, that may be shown in part.
PORTFOLIO_LISTS = ("transactions", "spending", "assets", "derivative_transactions", "bank_accounts")
SUMMARY_MAPS = ("spending_by_month", "spending_by_category", "asset_allocation")

_json = TypeAdapter[Any](Any)


def json_size(value: Any) -> int:
    """The bytes of `value` as the tool's text: compact JSON, as mcp_server.answer writes it."""
    return len(_json.dump_json(value))


class ItemPage(BaseModel):
    """One page of a customer's list, for clients that cannot read a Link header (MCP)."""

    items: list[dict[str, Any]] = Field(description="The items, each in its portfolio shape")
    next_cursor: str | None = Field(
        description="Pass as cursor to get the next page; null on the last page"
    )


class Shown(BaseModel):
    shown: int
    total: int


class AgentPortfolio(Portfolio):
    """get_portfolio's answer: the portfolio, its transactions the newest only."""

    transactions_shown: int = Field(description="How many transactions are listed: the newest")
    transactions_total: int = Field(description="How many transactions the customer has")
    partly_shown: dict[str, Shown] = Field(
        description="Every list (or summary map) shown in part to fit the result's size, "
        "with how much of it is shown; transactions are listed here when cut too"
    )
    hint: str | None = Field(description="How to read what is not shown; null when all is")


def agent_portfolio(document: dict[str, Any]) -> AgentPortfolio:
    """The portfolio document (bank.documents.portfolio's shape) as get_portfolio shows it: at
    most the newest PORTFOLIO_TRANSACTIONS transactions, and then, while the whole is over the
    budget, the largest part shown in half."""
    totals = {name: len(document[name]) for name in PORTFOLIO_LISTS}
    summary = document["portfolio_summary"]
    totals |= {f"portfolio_summary.{name}": len(summary[name]) for name in SUMMARY_MAPS}
    shown = dict(totals, transactions=min(totals["transactions"], PORTFOLIO_TRANSACTIONS))
    while True:
        view = _portfolio_view(document, shown, totals)
        if json_size(view) <= TOOL_RESULT_BYTES:
            return AgentPortfolio.model_validate(view)
        largest = max(shown, key=lambda part: (_part_size(view, part), part))
        if not shown[largest]:
            raise AssertionError("a portfolio with every part empty fits the budget")
        shown[largest] //= 2


def _portfolio_view(
    document: dict[str, Any], shown: dict[str, int], totals: dict[str, int]
) -> dict[str, Any]:
    summary = document["portfolio_summary"]
    maps = {
        name: _first(summary[name], shown[f"portfolio_summary.{name}"]) for name in SUMMARY_MAPS
    }
    view = {
        **document,
        **{name: document[name][: shown[name]] for name in PORTFOLIO_LISTS},
        "portfolio_summary": {**summary, **maps},
    }
    partly = {
        part: {"shown": shown[part], "total": totals[part]}
        for part in totals
        if shown[part] < totals[part]
    }
    hint = None
    if partly:
        hint = _hint(view, partly)
    return {
        **view,
        "transactions_shown": shown["transactions"],
        "transactions_total": totals["transactions"],
        "partly_shown": partly,
        "hint": hint,
    }


def _hint(view: dict[str, Any], partly: dict[str, dict[str, int]]) -> str:
    sentences = []
    if "transactions" in partly:
        listed = view["transactions"]
        cursor = encode_cursor([listed[-1]["date"], listed[-1]["id"]]) if listed else None
        after = f', cursor="{cursor}"' if cursor else ""
        sentences.append(
            f"Showing the newest {partly['transactions']['shown']} of "
            f"{partly['transactions']['total']} transactions: page through the rest with "
            f"get_transactions(customer_oid{after})."
        )
    others = [part for part in partly if part != "transactions"]
    if others:
        sentences.append(
            f"Also shown in part to fit the result's size: {', '.join(others)}; "
            "page through the lists with get_items."
        )
    return " ".join(sentences)


def _first(mapping: dict[str, Any], count: int) -> dict[str, Any]:
    return dict(list(mapping.items())[:count])


def _part_size(view: dict[str, Any], part: str) -> int:
    if part.startswith("portfolio_summary."):
        return json_size(view["portfolio_summary"][part.split(".", 1)[1]])
    return json_size(view[part])


class AgentStatement(AccountStatement):
    """get_account_statement's answer: the statement, its transactions the oldest that fit."""

    transactions_shown: int = Field(description="How many transactions are listed: the oldest")
    transactions_total: int = Field(description="How many transactions the days hold")
    hint: str | None = Field(description="How to read what is not shown; null when all is")


def agent_statement(statement: AccountStatement) -> AgentStatement:
    """The statement, its transactions cut from the newest end while it is over the budget, to
    whole days where it can be: asking again from the first day not shown then goes on."""
    document = statement.model_dump(mode="json")
    listed = document["transactions"]
    total = shown = len(listed)
    while True:
        view = _statement_view(document, listed, shown, total)
        if shown <= 1 or json_size(view) <= TOOL_RESULT_BYTES:
            break
        shown //= 2
    if shown < total:
        day = listed[shown]["date"]
        whole_days = next(n for n in range(shown + 1) if listed[n]["date"] == day)
        if whole_days:
            view = _statement_view(document, listed, whole_days, total)
    return AgentStatement.model_validate(view)


def _statement_view(
    document: dict[str, Any], listed: list[dict[str, Any]], shown: int, total: int
) -> dict[str, Any]:
    view = {**document, "transactions": listed[:shown]}
    view |= {"transactions_shown": shown, "transactions_total": total, "hint": None}
    if shown < total:
        day = listed[shown]["date"]
        if shown and listed[shown - 1]["date"] != day:
            more = f"ask again with from_date={day}"
        else:  # one day holds more than fits: page through it instead
            more = (
                f"page through {day} with get_transactions(customer_oid, from_date={day}, "
                f"to_date={day}), keeping those of account {document['account_id']}, and go on "
                "from the next day here"
            )
        view["hint"] = (
            f"Showing the oldest {shown} of {total} transactions; the balances are the whole "
            f"range's. For the rest, {more}."
        )
    return view


class AgentPrices(BaseModel):
    """get_prices' answer: the closes, the newest that fit."""

    prices: list[PricePoint]
    prices_shown: int
    prices_total: int
    hint: str | None = Field(description="How to read what is not shown; null when all is")


def agent_prices(points: list[PricePoint]) -> AgentPrices:
    """The closes, the oldest dropped while they are over the budget."""
    listed = [point.model_dump(mode="json") for point in points]
    shown = total = len(listed)
    while True:
        view: dict[str, Any] = {"prices": listed[total - shown :], "prices_shown": shown}
        view |= {"prices_total": total, "hint": None}
        if shown < total:
            view["hint"] = (
                f"Showing the newest {shown} of {total} closes; for older ones, ask again with "
                f"to_date before {listed[total - shown]['date']}."
            )
        if shown <= 1 or json_size(view) <= TOOL_RESULT_BYTES:
            return AgentPrices.model_validate(view)
        shown //= 2


def fit_page(page: Page[Any], key: Sequence[str], wrap: str) -> Page[Any]:
    """The page, its items cut from the end while the result ({wrap: items, next_cursor}) is
    over the budget; the next cursor then continues after the last item kept."""
    items, next_cursor = page.items, page.next_cursor
    # One item always fits: its fields have bounded lengths.
    while (
        len(items) > 1 and json_size({wrap: items, "next_cursor": next_cursor}) > TOOL_RESULT_BYTES
    ):
        items = items[: len(items) // 2]
        next_cursor = encode_cursor([items[-1][name] for name in key])
    return Page(items, next_cursor)
