"""The sandbox itself: its date, and the days it makes pass."""

from fastapi import APIRouter

from bank import clock, days
from db import DatabaseDep
from models import ClockAdvance, ClockAdvanced, SandboxClockPublic
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


@router.post(
    "/sandbox/clock/advance",
    operation_id="advance_clock",
    summary="Advance the sandbox's clock, making the days happen",
    description=(
        "Moves the sandbox's today forward 1-366 days and makes those days happen, in one "
        "transaction. Each sample and synthetic customer lives them as their history did: "
        "salary or pension, rent or mortgage, utilities and subscriptions on their days, card "
        "spending, transfers to savings, dividends and coupons (a company: invoices, payroll, "
        "suppliers), their accounts' balances moving by what is posted. Every security gets a "
        "close on each new trading day and the generated holdings are valued at the new last "
        "close; open derivatives past their expiry are marked expired, or exercised when an "
        "option is in the money at its expiry's close; spending rows of the days' months are "
        "summed again from the transactions. Customers registered through the API get no "
        "invented activity. The same start and the same advances give the same data."
    ),
    responses=error_responses(400, 413),
)
async def advance_clock(advance: ClockAdvance, db: DatabaseDep) -> ClockAdvanced:
    return await db.write(days.advance_clock, days=advance.days)
