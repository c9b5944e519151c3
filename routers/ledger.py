"""The ledger's own route: a bank account's statement."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from bank import ledger
from db import DatabaseDep
from fields import MAX_ID
from models import AccountStatement, DayRange
from openapi import error_responses
from routers.params import CustomerOIDPath

router = APIRouter(tags=["bank-accounts"])

AccountId = Annotated[int, Path(ge=1, le=MAX_ID, description="The bank account's id")]


@router.get(
    "/customer/{customer_oid}/bank-accounts/{account_id}/statement",
    operation_id="get_account_statement",
    summary="A bank account's statement",
    description=(
        "The account's transactions dated from `from` to `to` (inclusive; by default the 30 "
        "days up to the sandbox's today), oldest first, each with the balance after it. "
        "`opening_balance` plus the amounts is `closing_balance`, to the cent; the closing "
        "balance is the account's balance less what is dated after `to`. 400 when `from` is "
        "after `to`; 404 for an account that is not the customer's."
    ),
    responses=error_responses(400, 404),
)
async def get_account_statement(
    customer_oid: CustomerOIDPath,
    account_id: AccountId,
    days: Annotated[DayRange, Query()],
    db: DatabaseDep,
) -> AccountStatement:
    return await db.read(
        ledger.statement, customer_oid=customer_oid, account_id=account_id, days=days
    )
