"""A customer's whole portfolio: read it, or replace it with an imported document."""

from fastapi import APIRouter, Request, Response

from bank import documents, portfolio
from db import DatabaseDep
from models import Portfolio, PortfolioImport
from openapi import NAMES_INSTITUTIONS, error_responses
from read_lane import in_read_lane
from response_cache import cached_read
from routers.params import CustomerOIDPath

router = APIRouter(tags=["portfolio"])


@router.get(
    "/user-portfolio/{customer_oid}",
    operation_id="get_user_portfolio",
    summary="Get a customer's complete portfolio",
    response_model=Portfolio,
    responses=error_responses(400, 404),
)
@in_read_lane
async def get_user_portfolio(customer_oid: CustomerOIDPath, request: Request) -> Response:
    """Assets, accounts, transactions, spending, derivatives and a summary in one document."""
    return await cached_read(request, customer_oid, documents.portfolio(customer_oid=customer_oid))


@router.put(
    "/user-portfolio/{customer_oid}",
    operation_id="import_user_portfolio",
    summary="Replace a customer's whole portfolio",
    responses={
        201: {"model": Portfolio, "description": "The customer was created"},
        **error_responses(400, 413, descriptions=NAMES_INSTITUTIONS),
    },
)
async def import_user_portfolio(
    customer_oid: CustomerOIDPath,
    document: PortfolioImport,
    response: Response,
    db: DatabaseDep,
) -> Portfolio:
    """Store a document shaped like GET's answer as the customer's whole portfolio."""
    stored, created = await db.write(
        portfolio.import_portfolio, customer_oid=customer_oid, portfolio=document
    )
    if created:
        response.status_code = 201
    return stored
