"""A customer's investment performance over a period."""

from typing import Annotated

from fastapi import APIRouter, Query

from bank import performance as bank_performance
from bank.performance import Period
from db import DatabaseDep
from models import Performance
from openapi import error_responses
from routers.params import CustomerOIDPath

router = APIRouter(tags=["portfolio"])


@router.get(
    "/customer/{customer_oid}/performance",
    operation_id="get_performance",
    summary="How a customer's holdings did over a period",
    description=(
        "Today's holdings valued on every business day of the period (1M, 3M, 6M, YTD or 1Y, up"
        " to the sandbox's today) at that day's close (GET /securities/{symbol}/prices), "
        "converted into the reporting currency: the start and end values, the return, the "
        "annualized volatility of the daily returns, the maximum drawdown, the benchmark's "
        "return over the same days, each holding's own, and the daily values. It shows how "
        "today's holdings would have done, not the trades made during the period. A holding "
        "without prices is listed with priced false and counts in no value. Another period is "
        "400."
    ),
    responses=error_responses(400, 404),
)
async def get_performance(
    customer_oid: CustomerOIDPath,
    db: DatabaseDep,
    period: Annotated[Period, Query(description="1M, 3M, 6M, YTD or 1Y")] = "1M",
) -> Performance:
    return await db.read(bank_performance.performance, customer_oid=customer_oid, period=period)
