"""The sandbox itself: its date."""

from fastapi import APIRouter

from bank import clock
from db import DatabaseDep
from models import SandboxClockPublic
from openapi import error_responses

router = APIRouter(tags=["sandbox"])


@router.get(
    "/sandbox/clock",
    operation_id="get_sandbox_clock",
    summary="The sandbox's date",
    description=(
        "The sandbox's today: set on its first start (SANDBOX_START_DATE, or the real date in "
        "UTC) and kept in the database. Generated histories end on it, and default statement "
        "and price ranges and performance periods count back from it."
    ),
    responses=error_responses(),
)
async def get_sandbox_clock(db: DatabaseDep) -> SandboxClockPublic:
    return SandboxClockPublic(today=await db.read(clock.today))
