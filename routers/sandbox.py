"""The sandbox itself: its date, the days it makes pass, and the faults it strikes with."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from bank import clock, days
from bank.faults import FaultInjector
from db import DatabaseDep
from models import (
    ClockAdvance,
    ClockAdvanced,
    FaultProfile,
    FaultProfileReport,
    SandboxClockPublic,
)
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


def get_fault_injector(request: Request) -> FaultInjector:
    injector: FaultInjector = request.app.state.faults
    return injector


FaultInjectorDep = Annotated[FaultInjector, Depends(get_fault_injector)]


@router.get(
    "/sandbox/faults",
    operation_id="get_fault_profile",
    summary="The fault profile, and the faults each rule injected",
    responses=error_responses(),
)
async def get_fault_profile(faults: FaultInjectorDep) -> FaultProfileReport:
    """The server's fault profile: its seed and rules, and for each rule how many requests it
    was tried on (matched) and struck (injected) since the profile was set. No rules: no faults
    but those a request asks for with Sandbox-Fault or Prefer: code=."""
    return faults.report()


@router.put(
    "/sandbox/faults",
    operation_id="set_fault_profile",
    summary="Set the fault profile",
    responses=error_responses(400, 413),
)
async def set_fault_profile(profile: FaultProfile, faults: FaultInjectorDep) -> FaultProfileReport:
    """Strike requests with faults from now on: each rule matches HTTP requests (method, and
    path as a glob) or MCP tool calls (tool), and strikes each match with probability `rate`;
    the first rule that strikes wins. A fault is a status (with retry_after), a latency in ms
    (then the real answer), reset, truncate, or ack_lost (a write runs, its answer is lost: 502).
    Each rule draws from a generator seeded from `seed` and its place: the same seed and the
    same sequence of requests give the same faults. /sandbox/faults and the docs are never
    struck. The profile lives in the server process; the counts start at zero."""
    return faults.set(profile)


@router.delete(
    "/sandbox/faults",
    operation_id="delete_fault_profile",
    summary="Remove the fault profile",
    status_code=204,
    responses=error_responses(),
)
async def delete_fault_profile(faults: FaultInjectorDep) -> None:
    """No more faults but those a request asks for itself."""
    faults.clear()
