"""The change feed: a sync cursor over a customer's transactions."""

from typing import Annotated

from fastapi import APIRouter, Query

from bank import feed
from db import DatabaseDep
from models import SyncQuery, TransactionSync
from openapi import error_responses
from routers.params import CustomerOIDPath

router = APIRouter(tags=["transactions"])


@router.get(
    "/customer/{customer_oid}/transactions/sync",
    operation_id="sync_transactions",
    summary="What changed in a customer's transactions since a cursor",
    description=(
        "Plaid's /transactions/sync: without a cursor, every current transaction comes as "
        "`added`; with the `next_cursor` of the previous sync, what changed since: added, "
        "modified (as it is now) and removed (`{id}`), each transaction once. At most `count` "
        "changes a call; while `has_more`, sync again from `next_cursor`. Every change by any "
        "path (REST, MCP, an import, the clock, seed.py) comes exactly once, in the order it "
        "was committed. A cursor stays valid across restarts; one this feed never gave is 400."
    ),
    responses=error_responses(400, 404),
)
async def sync_transactions(
    customer_oid: CustomerOIDPath, query: Annotated[SyncQuery, Query()], db: DatabaseDep
) -> TransactionSync:
    return await db.read(feed.sync_transactions, customer_oid=customer_oid, query=query)
