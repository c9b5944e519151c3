"""The institutions a bank account can name."""

from fastapi import APIRouter

from bank import customers
from db import DatabaseDep
from models import InstitutionPublic
from openapi import error_responses

router = APIRouter(tags=["institutions"])


@router.get(
    "/institutions",
    operation_id="list_institutions",
    summary="List institutions",
    responses=error_responses(),
)
async def list_institutions(db: DatabaseDep) -> list[InstitutionPublic]:
    """The banks, brokers and exchanges a bank account can name as its institution_id."""
    return await db.read(customers.list_institutions)
