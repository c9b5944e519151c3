"""Market data: the securities customers hold, the benchmark index, and their daily closes."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from bank import market
from db import DatabaseDep
from models import DayRange, PricePoint, SecurityPublic
from openapi import error_responses

router = APIRouter(tags=["market"])

Symbol = Annotated[str, Path(max_length=20, description="The security's symbol (any case)")]


@router.get(
    "/securities",
    operation_id="list_securities",
    summary="The securities customers hold, and the benchmark index",
    responses=error_responses(),
)
async def list_securities() -> list[SecurityPublic]:
    return market.list_securities()


@router.get(
    "/securities/{symbol}/prices",
    operation_id="get_prices",
    summary="A security's daily closes",
    description=(
        "One close per trading day (business days; every day for crypto) from `from` to `to` "
        "(inclusive; by default the 30 days up to the sandbox's today), oldest first, none "
        "after it. From a seeded random walk: the same request gives the same answer. "
        "400 when `from` is "
        "after `to`; 404 for an unknown symbol."
    ),
    responses=error_responses(400, 404),
)
async def get_prices(
    symbol: Symbol, days: Annotated[DayRange, Query()], db: DatabaseDep
) -> list[PricePoint]:
    return await db.read(market.prices, symbol=symbol, query=days)
