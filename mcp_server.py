"""The bank's MCP server: tools, a resource and a prompt over the same domain functions as HTTP.

Mounted by main.py at /mcp (Streamable HTTP). `python mcp_server.py` serves it over stdio for
desktop clients, against the database at DATABASE_URL.
"""

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.context import Context
from mcp.server.mcpserver.exceptions import ResourceError, ToolError, UnexpectedToolError
from mcp_types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field, SkipValidation, TypeAdapter, ValidationError

import bank.collections
import bank.customers
import bank.days
import bank.documents
import bank.feed
import bank.ledger
import bank.performance
import bank.portfolio
from bank import idempotency, market
from bank.faults import FaultInjector
from bank.performance import Period
from constants import (
    API_TITLE,
    API_VERSION,
    FAULT_ACK_LOST,
    INVALID_IDEMPOTENCY_KEY,
    OID_EXAMPLE,
    SERVICE_NAME,
)
from db import Database, create_db_engine, migrate
from errors import BankError, SyncCountTooLarge, describe_validation_errors
from fields import CUSTOMER_OID_PATTERN, normalize_customer_oid
from idempotency import once
from mcp_views import (
    AgentPortfolio,
    AgentPrices,
    AgentStatement,
    ItemPage,
    agent_portfolio,
    agent_prices,
    agent_statement,
    fit_page,
)
from middleware import caller_of
from models import (
    ClockAdvance,
    ClockAdvanced,
    CustomerCreate,
    CustomerDeleted,
    CustomerExistence,
    CustomerPage,
    CustomerPageQuery,
    CustomerRegistered,
    DayRange,
    Fault,
    InstitutionPublic,
    Performance,
    Portfolio,
    PortfolioImport,
    SecurityPublic,
    SyncQuery,
    TransactionPage,
    TransactionQuery,
    TransactionSync,
    TransactionType,
)
from seed import seed_if_empty
from settings import Settings, get_settings

DatabaseProvider = Callable[[], Database]
ToolFn = TypeVar("ToolFn", bound=Callable[..., Awaitable[CallToolResult]])

INSTRUCTIONS = """\
A sandbox bank. Customers are identified by a CustomerOID (a UUID such as
550e8400-e29b-41d4-a716-446655440001). Start with list_customers to discover customers, then
get_portfolio for everything the bank holds on one: assets, bank accounts, transactions,
spending, derivatives and a summary whose totals are in the summary's reporting currency.
A transaction's account_id names the bank account it was posted to; get_account_statement
shows an account's transactions with the balance after each. Errors come back as tool errors
whose text says what was wrong."""

LOCAL_CALLER = "local"  # stdio, or in-process: one client
# A sync page over MCP: 150 transactions of the longest texts stay under 100 KB.
MCP_SYNC_COUNT = 150
READ_TOOL = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITE_TOOL = ToolAnnotations(read_only_hint=False, destructive_hint=False, open_world_hint=False)
DESTRUCTIVE_TOOL = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)

# Validated by the tools themselves (normalize_customer_oid), so an invalid OID is answered with
# the same message as over HTTP; the pattern is here so that models can see the format.
CustomerOIDArgument = Annotated[
    str,
    Field(
        description="The customer's CustomerOID: a UUID such as "
        f"{OID_EXAMPLE} (any case, hyphens optional) or a legacy ID like CUST-0001",
        json_schema_extra={"pattern": CUSTOMER_OID_PATTERN},
    ),
]

# The days of a statement or a price series (a tool argument cannot be called `from`).
FromDate = Annotated[
    str | None, Field(description="First day, YYYY-MM-DD; default: to_date - 29 days")
]
ToDate = Annotated[str | None, Field(description="Last day, YYYY-MM-DD; default: today")]

_any_json = TypeAdapter[Any](Any)


# Every write tool takes one; the server's call_tool answers for it (BankMCPServer).
IdempotencyKeyArgument = Annotated[
    str | None,
    Field(
        description="Optional: a key of yours (a UUID) for this call. Called again with the same "
        "key and arguments within 24 hours, the tool returns the first call's result instead of "
        "running again: retry with it when a call's result was lost"
    ),
]
WRITE_TOOL_NAMES = frozenset(
    {"register_customer", "import_portfolio", "advance_clock", "delete_customer"}
)


class BankMCPServer(MCPServer):
    """The SDK's server, telling a caller's invalid arguments in the words REST uses; striking
    tool calls with the fault profile's faults (bank/faults.py); and answering a write tool's
    `idempotency_key` as REST answers an Idempotency-Key (bank/idempotency.py)."""

    def __init__(self, database: DatabaseProvider, faults: FaultInjector, **settings: Any) -> None:
        super().__init__(**settings)
        self.database = database
        self.faults = faults

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None = None
    ) -> Any:
        writes = name in WRITE_TOOL_NAMES
        strike = self.faults.for_tool(name, writes=writes) if self.faults.active else None
        if strike is not None:
            if strike.fault.latency:
                await asyncio.sleep(strike.fault.latency / 1000)
            if strike.fault.status is not None:
                return fault_result(strike.status_detail(), strike.fault)
        key = arguments.get("idempotency_key") if writes else None
        if key is None:
            result = await self._call(name, arguments, context)
        else:
            result = await self._call_once(name, arguments, key, context)
        if strike is not None and strike.fault.ack_lost:
            return fault_result(FAULT_ACK_LOST.format(by=strike.by), strike.fault)
        return result

    async def _call_once(
        self, name: str, arguments: dict[str, Any], key: Any, context: Context[Any, Any] | None
    ) -> Any:
        """The call, run once under its idempotency key; again, the first call's result."""
        try:
            key = idempotency.check_key(key) if isinstance(key, str) else None
        except BankError as error:
            return tool_error(error.message)
        if key is None:
            return tool_error(INVALID_IDEMPOTENCY_KEY)
        request = idempotency.fingerprint(
            name.encode(),
            json.dumps(
                {k: v for k, v in arguments.items() if k != "idempotency_key"}, sort_keys=True
            ).encode(),
        )
        called: list[Any] = []  # the result as the tool gave it, when it ran now

        async def run() -> idempotency.KeptAnswer:
            result = await self._call(name, arguments, context)
            called.append(result)
            if isinstance(result, CallToolResult) and not result.is_error:
                body = result.model_dump_json(by_alias=True, exclude_none=True).encode()
                return idempotency.KeptAnswer(200, [], body)
            # A tool error changed nothing: the key is freed, and the call may be made again.
            return idempotency.KeptAnswer(400, [], b"")

        try:
            answer, replayed = await once(
                self.database(), owner=caller(context), key=key, request=request, run=run
            )
        except BankError as error:
            return tool_error(error.message)
        if not replayed:
            return called[0]
        result = CallToolResult.model_validate_json(answer.body)
        result.meta = {**(result.meta or {}), "idempotent_replayed": True}
        return result

    async def _call(
        self, name: str, arguments: dict[str, Any], context: Context[Any, Any] | None
    ) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as error:
            # The SDK's own text is pydantic's, with its documentation links.
            cause = error.__cause__
            if isinstance(error, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            raise ToolError(describe_validation_errors(cause.errors())) from cause


def tool_error(message: str) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def fault_result(detail: str, fault: Fault) -> CallToolResult:
    """A fault as a tool error: its text the {"detail", "status", "retry_after"} an HTTP
    client would read from the answer and its headers; the same in the result's _meta."""
    status = 502 if fault.ack_lost else fault.status
    error = {"detail": detail, "status": status, "retry_after": fault.retry_after}
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(error))],
        is_error=True,
        _meta={"sandbox_fault": error},
    )


def caller(context: Context[Any, Any] | None) -> str:
    """Whose idempotency keys a call's are: over HTTP, as for REST (the API key, or the
    client's address); over stdio or in-process, the one local client's."""
    try:
        request = context.request_context.request if context is not None else None
    except ValueError:  # no request: a call from within the process
        request = None
    scope = getattr(request, "scope", None)
    if scope is None:
        return LOCAL_CALLER
    return caller_of(scope["headers"], scope.get("client"))


async def answer(produce: Callable[[], Awaitable[BaseModel | list[Any]]]) -> CallToolResult:
    """Run a domain call for a tool: its JSON as structured content, or its error as tool error."""
    try:
        result = await produce()
    except BankError as error:
        return tool_error(error.message)
    except ValidationError as error:
        return tool_error(describe_validation_errors(error.errors()))
    data = _any_json.dump_python(result, mode="json")
    # Structured content must be an object, so a list travels as {"result": [...]}, the
    # wrapper the SDK derives from the declared return type.
    structured = data if isinstance(data, dict) else {"result": data}
    text = _any_json.dump_json(result).decode()
    return CallToolResult(
        content=[TextContent(type="text", text=text)], structured_content=structured
    )


def tool(mcp: MCPServer, annotations: ToolAnnotations) -> Callable[[ToolFn], ToolFn]:
    """Register a tool whose description is its docstring, without the source's indentation."""

    def register(fn: ToolFn) -> ToolFn:
        mcp.add_tool(fn, description=inspect.cleandoc(fn.__doc__ or ""), annotations=annotations)
        return fn

    return register


def build_mcp_server(
    database: DatabaseProvider, *, read_only: bool = False, faults: FaultInjector | None = None
) -> MCPServer:
    """The MCP server; `database` gives the Database that the running app or script owns, and
    `faults` the fault profile it shares (none: a profile of its own, empty).

    With `read_only`, the tools that change data are not offered at all.
    """
    mcp = BankMCPServer(
        database,
        faults if faults is not None else FaultInjector(),
        name=SERVICE_NAME,
        title=API_TITLE,
        version=API_VERSION,
        instructions=INSTRUCTIONS,
    )
    register_read_tools(mcp, database)
    if not read_only:
        register_write_tools(mcp, database)
    register_resources_and_prompts(mcp, database)
    return mcp


def register_read_tools(mcp: MCPServer, database: DatabaseProvider) -> None:
    """The tools that only read, each a thin call into the bank package."""

    @tool(mcp, READ_TOOL)
    async def list_customers(
        limit: Annotated[int, Field(description="Customers per page, 1-1000")] = 100,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> Annotated[CallToolResult, CustomerPage]:
        """List the bank's customers as {customer_oid, name}, by customer_oid, a page at a time.

        Use it first, to discover which CustomerOIDs exist. Returns {customers, next_cursor}: call
        again with cursor=next_cursor for the next page; next_cursor is null on the last page.
        """

        async def page() -> CustomerPage:
            query = CustomerPageQuery.model_validate({"limit": limit, "cursor": cursor})
            found = await database().read_rows(bank.documents.list_customers(page=query))
            customers = fit_page(found, ("customer_oid",), "customers")
            return CustomerPage(customers=customers.items, next_cursor=customers.next_cursor)

        return await answer(page)

    @tool(mcp, READ_TOOL)
    async def get_portfolio(
        customer_oid: CustomerOIDArgument,
    ) -> Annotated[CallToolResult, AgentPortfolio]:
        """Get what the bank holds on one customer, as GET /user-portfolio returns it, with only the
        newest 50 transactions.

        Returns the customer, their assets (with value, cost basis and unrealized gain), bank
        accounts (with their institution), the newest transactions, monthly spending per
        category, derivative transactions, and portfolio_summary: cash and spending totals
        converted to the reporting currency, counts, and has_data flags. transactions_shown and
        transactions_total say how many transactions are listed and how many there are; hint says
        how to page through the rest (get_transactions). A customer whose lists would not fit an
        agent's context has them shown in part (partly_shown). Use it for any analysis of
        allocation, cash, spending or derivative exposure. An unknown customer is a tool error.
        """
        return await answer(lambda: read_agent_portfolio(database(), customer_oid))

    @tool(mcp, READ_TOOL)
    async def customer_exists(
        customer_oid: CustomerOIDArgument,
    ) -> Annotated[CallToolResult, CustomerExistence]:
        """Check whether a CustomerOID is registered: {customer_oid, exists, name}.

        Cheaper than get_portfolio when only existence matters; name is null when it does not
        exist. The customer_oid in the answer is the canonical (lower-case, hyphenated) form.
        """
        return await answer(
            lambda: database().read(
                bank.customers.customer_exists, customer_oid=normalize_customer_oid(customer_oid)
            )
        )

    @tool(mcp, READ_TOOL)
    async def get_transactions(
        customer_oid: CustomerOIDArgument,
        from_date: Annotated[str | None, Field(description="Earliest date, YYYY-MM-DD")] = None,
        to_date: Annotated[str | None, Field(description="Latest date, YYYY-MM-DD")] = None,
        type: Annotated[
            str | None,
            Field(description="Only this type: " + ", ".join(t.value for t in TransactionType)),
        ] = None,
        category: Annotated[str | None, Field(description="Only this category")] = None,
        limit: Annotated[int, Field(description="Transactions per page, 1-1000")] = 100,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> Annotated[CallToolResult, TransactionPage]:
        """Read a customer's transactions newest first, filtered, a page at a time.

        Filters are optional and combine: from_date and to_date (inclusive, YYYY-MM-DD), type,
        category. Returns {transactions, next_cursor}: call again with the same filters and
        cursor=next_cursor for the next page; next_cursor is null on the last page. Use it for
        long histories instead of get_portfolio.
        """

        async def page() -> TransactionPage:
            oid = normalize_customer_oid(customer_oid)
            query = TransactionQuery.model_validate(
                {"from": from_date, "to": to_date, "type": type, "category": category}
                | {"limit": limit, "cursor": cursor}
            )
            found = await database().read_rows(
                bank.documents.list_transactions(customer_oid=oid, query=query)
            )
            fitted = fit_page(found, ("date", "id"), "transactions")
            return TransactionPage(transactions=fitted.items, next_cursor=fitted.next_cursor)

        return await answer(page)

    @tool(mcp, READ_TOOL)
    async def get_account_statement(
        customer_oid: CustomerOIDArgument,
        account_id: Annotated[int, Field(description="The bank account's id (its portfolio id)")],
        from_date: FromDate = None,
        to_date: ToDate = None,
    ) -> Annotated[CallToolResult, AgentStatement]:
        """Get a bank account's statement, as GET .../bank-accounts/{id}/statement returns it.

        The account's transactions dated from from_date to to_date (inclusive; by default the
        last 30 days), oldest first, each with running_balance, the balance after it; and
        opening_balance and closing_balance, which add up with the amounts to the cent. Use it to
        explain where an account's money went. When the days hold more transactions than fit an
        agent's context, the oldest are listed, and transactions_shown, transactions_total and
        hint say how to read the rest. An account that is not the customer's is a tool error.
        """

        async def statement() -> AgentStatement:
            days = DayRange.model_validate({"from": from_date, "to": to_date})
            found = await database().read(
                bank.ledger.statement,
                customer_oid=normalize_customer_oid(customer_oid),
                account_id=account_id,
                days=days,
            )
            return agent_statement(found)

        return await answer(statement)

    @tool(mcp, READ_TOOL)
    async def sync_transactions(
        customer_oid: CustomerOIDArgument,
        cursor: Annotated[
            str | None,
            Field(description="next_cursor of the previous sync; none to start from the beginning"),
        ] = None,
        count: Annotated[int, Field(description="Changes at most, 1-150")] = 100,
    ) -> Annotated[CallToolResult, TransactionSync]:
        """What changed in a customer's transactions since a cursor, as Plaid's
        /transactions/sync: {added, modified, removed, next_cursor, has_more}.

        Without a cursor every current transaction comes as added. Keep next_cursor and sync
        from it next time: you get each transaction added, modified (as it is now) or removed
        (its id) since, once. While has_more, call again at once with next_cursor.
        """

        async def page() -> TransactionSync:
            query = SyncQuery.model_validate({"cursor": cursor, "count": count})
            if query.count > MCP_SYNC_COUNT:
                raise SyncCountTooLarge(MCP_SYNC_COUNT)
            return await database().read(
                bank.feed.sync_transactions,
                customer_oid=normalize_customer_oid(customer_oid),
                query=query,
            )

        return await answer(page)

    @tool(mcp, READ_TOOL)
    async def get_items(
        customer_oid: CustomerOIDArgument,
        collection: Annotated[
            Literal[
                "assets", "bank-accounts", "transactions", "spending", "derivative-transactions"
            ],
            Field(description="Which of the customer's lists"),
        ],
        limit: Annotated[int, Field(description="Items per page, 1-1000")] = 100,
        cursor: Annotated[str | None, Field(description="next_cursor of the previous page")] = None,
    ) -> Annotated[CallToolResult, ItemPage]:
        """Read one of a customer's lists a page at a time, in the order the portfolio lists it.

        collection is assets, bank-accounts, transactions (newest first), spending or
        derivative-transactions; each item has the shape it has in get_portfolio. Returns {items,
        next_cursor}: call again with cursor=next_cursor for the next page; next_cursor is null on
        the last page. Use it for the lists get_portfolio shows in part (partly_shown).
        """

        async def page() -> ItemPage:
            oid = normalize_customer_oid(customer_oid)
            of = next(c for c in bank.collections.COLLECTIONS if c.name == collection)
            query = of.page_query.model_validate({"limit": limit, "cursor": cursor})
            found = await database().read_rows(
                bank.documents.list_page(collection=of, customer_oid=oid, page=query)
            )
            fitted = fit_page(found, of.order_by, "items")
            return ItemPage(items=fitted.items, next_cursor=fitted.next_cursor)

        return await answer(page)

    @tool(mcp, READ_TOOL)
    async def list_securities() -> Annotated[CallToolResult, list[SecurityPublic]]:
        """List the securities customers hold, and the benchmark index (SPX): {symbol, name,
        asset_type, currency}. get_prices gives their daily closes."""

        async def catalogue() -> list[SecurityPublic]:
            return market.list_securities()

        return await answer(catalogue)

    @tool(mcp, READ_TOOL)
    async def get_prices(
        symbol: Annotated[str, Field(description="The security's symbol, as list_securities")],
        from_date: FromDate = None,
        to_date: ToDate = None,
    ) -> Annotated[CallToolResult, AgentPrices]:
        """Get a security's daily closes, as GET /securities/{symbol}/prices returns them.

        One close per trading day (business days; every day for crypto), oldest first, in the
        security's currency. A long range lists its newest closes that fit an agent's context,
        with prices_shown, prices_total and a hint. An unknown symbol is a tool error.
        """

        async def closes() -> AgentPrices:
            days = DayRange.model_validate({"from": from_date, "to": to_date})
            return agent_prices(await database().read(market.prices, symbol=symbol, query=days))

        return await answer(closes)

    @tool(mcp, READ_TOOL)
    async def get_performance(
        customer_oid: CustomerOIDArgument,
        period: Annotated[Period, Field(description="1M, 3M, 6M, YTD or 1Y")] = "1M",
    ) -> Annotated[CallToolResult, Performance]:
        """Get how a customer's holdings did over a period, as GET .../performance returns it.

        Today's holdings valued on each business day of the period at that day's close, in the
        reporting currency: start and end values, return_pct, annualized volatility_pct,
        max_drawdown_pct, the benchmark's (SPX) return over the same days, each holding's own
        return, and the daily values. A holding without prices is listed with priced false.
        """
        return await answer(
            lambda: database().read(
                bank.performance.performance,
                customer_oid=normalize_customer_oid(customer_oid),
                period=period,
            )
        )

    @tool(mcp, READ_TOOL)
    async def list_institutions() -> Annotated[CallToolResult, list[InstitutionPublic]]:
        """List the banks, brokers and exchanges: {id, name, routing_number, type}.

        A bank account in import_portfolio names its institution by this id (institution_id).
        """
        return await answer(lambda: database().read(bank.customers.list_institutions))


def register_write_tools(mcp: MCPServer, database: DatabaseProvider) -> None:
    """The tools that change data, each a thin call into the bank package."""

    @tool(mcp, WRITE_TOOL)
    async def register_customer(
        name: Annotated[str, Field(description="The customer's name, 2-100 characters")],
        customer_oid: Annotated[
            str | None,
            Field(
                description="Optional CustomerOID (a UUID); a new UUID4 is generated when omitted",
                json_schema_extra={"pattern": CUSTOMER_OID_PATTERN},
            ),
        ] = None,
        idempotency_key: IdempotencyKeyArgument = None,
    ) -> Annotated[CallToolResult, CustomerRegistered]:
        """Register a new customer with an empty portfolio; returns {customer_oid, name, message}.

        Leave customer_oid out to have one generated. Registering an existing CustomerOID is a
        tool error saying it already exists.
        """
        return await answer(
            lambda: database().write(
                bank.customers.register_customer,
                customer=CustomerCreate.model_validate(
                    {"name": name, "customer_oid": customer_oid}
                ),
            )
        )

    @tool(mcp, DESTRUCTIVE_TOOL)
    async def import_portfolio(
        customer_oid: CustomerOIDArgument,
        # Validated in the tool, not by the SDK, so errors read as they do over HTTP.
        portfolio: Annotated[PortfolioImport, SkipValidation],
        idempotency_key: IdempotencyKeyArgument = None,
    ) -> Annotated[CallToolResult, AgentPortfolio]:
        """Replace a customer's whole portfolio, creating the customer if needed.

        `portfolio` has the shape get_portfolio returns: user.name, and the lists assets,
        bank_accounts, transactions, spending and derivative_transactions (a missing list means an
        empty one; ids, customer_oid and portfolio_summary are ignored). Everything the customer
        held before is replaced, in one transaction: any invalid item changes nothing. Returns the
        stored portfolio as get_portfolio shows it. Use it to set up a scenario, or copy one
        customer's portfolio to another. A transaction's account_id names an account of the
        document by that account's id.
        """

        async def stored() -> AgentPortfolio:
            oid = normalize_customer_oid(customer_oid)
            document = PortfolioImport.model_validate(portfolio)
            stored_portfolio, _created = await database().write(
                bank.portfolio.import_portfolio, customer_oid=oid, portfolio=document
            )
            return agent_portfolio(stored_portfolio.model_dump(mode="json"))

        return await answer(stored)

    @tool(mcp, WRITE_TOOL)
    async def advance_clock(
        days: Annotated[int, Field(description="Days to move the sandbox's today forward, 1-366")],
        idempotency_key: IdempotencyKeyArgument = None,
    ) -> Annotated[CallToolResult, ClockAdvanced]:
        """Move the sandbox's date forward and make the days happen: salaries, bills, card
        payments, dividends for the sample and synthetic customers, balances moving, a price for
        every security on each new trading day, holdings revalued, expired derivatives settled.

        Returns {from, to, days, customers, transactions_added, prices_added, ...}. Use it to
        test an agent that runs every morning: advance a day, then read what changed.
        """
        return await answer(
            lambda: database().write(
                bank.days.advance_clock, days=ClockAdvance.model_validate({"days": days}).days
            )
        )

    @tool(mcp, DESTRUCTIVE_TOOL)
    async def delete_customer(
        customer_oid: CustomerOIDArgument,
        idempotency_key: IdempotencyKeyArgument = None,
    ) -> Annotated[CallToolResult, CustomerDeleted]:
        """Permanently delete a customer and all of their portfolio data. This cannot be undone.

        Returns {customer_oid, message}. An unknown customer is a tool error.
        """
        return await answer(
            lambda: database().write(
                bank.customers.delete_customer, customer_oid=normalize_customer_oid(customer_oid)
            )
        )


async def read_agent_portfolio(database: Database, customer_oid: str) -> AgentPortfolio:
    """The customer's portfolio as get_portfolio shows it (mcp_views.agent_portfolio)."""
    oid = normalize_customer_oid(customer_oid)
    return agent_portfolio(await database.read_rows(bank.documents.portfolio(customer_oid=oid)))


async def read_portfolio(database: Database, customer_oid: str) -> Portfolio:
    """The customer's portfolio, read as GET /user-portfolio reads it (without its cache)."""
    oid = normalize_customer_oid(customer_oid)
    return Portfolio.model_validate(
        await database.read_rows(bank.documents.portfolio(customer_oid=oid))
    )


def register_resources_and_prompts(mcp: MCPServer, database: DatabaseProvider) -> None:
    @mcp.resource(
        "bank://customers/{customer_oid}/portfolio",
        name="customer_portfolio",
        title="Customer portfolio",
        mime_type="application/json",
    )
    async def customer_portfolio(customer_oid: str) -> str:
        """A customer's complete portfolio, the same JSON as GET /user-portfolio/{customer_oid}."""
        try:
            found = await read_portfolio(database(), customer_oid)
        except BankError as error:
            raise ResourceError(error.message) from None
        return found.model_dump_json()

    @mcp.prompt(title="Portfolio review")
    def portfolio_review(customer_oid: CustomerOIDArgument) -> str:
        """Ask for a review of one customer's allocation, cash, spending and derivative exposure."""
        return (
            f"Review the portfolio of the bank customer with CustomerOID {customer_oid}.\n"
            f"First call the get_portfolio tool with customer_oid={json.dumps(customer_oid)} "
            "(use customer_exists if you are unsure the customer exists).\n"
            "Then cover, with figures from the data:\n"
            "1. Asset allocation: value per asset type and currency, concentration in single "
            "holdings, unrealized gains and losses.\n"
            "2. Cash: balances per account and currency, and the total in the summary's reporting "
            "currency.\n"
            "3. Spending: totals per category and per month, and any trend between months.\n"
            "4. Derivative exposure: open positions by type, side, underlying and expiry, and the "
            "risk they add or hedge.\n"
            "Finish with the three most important observations and one suggested action each."
        )


def serve_stdio(settings: Settings) -> None:
    """Serve the MCP server over stdio against the database at DATABASE_URL."""
    engine = create_db_engine(settings)
    migrate(engine)
    seed_if_empty(engine, start=settings.SANDBOX_START_DATE)
    database = Database(
        engine,
        write_queue_timeout=settings.WRITE_QUEUE_TIMEOUT_SECONDS,
        read_connections=settings.DB_POOL_SIZE,
    )
    server = build_mcp_server(lambda: database, read_only=settings.BANK_READ_ONLY)

    async def serve() -> None:
        await database.open()
        try:
            await server.run_stdio_async()
        finally:
            await database.aclose()

    asyncio.run(serve())


if __name__ == "__main__":
    serve_stdio(get_settings())
