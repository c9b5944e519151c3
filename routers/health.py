"""The health check for monitors and load balancers."""

from fastapi import APIRouter, Response

from constants import SERVICE_NAME
from db import DatabaseDep
from models import Health
from openapi import error_responses

router = APIRouter(tags=["system"])


@router.get(
    "/health",
    operation_id="health_check",
    summary="Check the service and its database",
    responses={
        503: {"model": Health, "description": "The database cannot be reached"},
        **error_responses(),
    },
)
async def health(db: DatabaseDep, response: Response) -> Health:
    """Healthy when the database answers a query; 503 and unhealthy when it does not."""
    if await db.is_reachable():
        return Health(status="healthy", service=SERVICE_NAME, database="ok")
    response.status_code = 503
    return Health(status="unhealthy", service=SERVICE_NAME, database="unreachable")
