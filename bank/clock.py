"""The sandbox's clock: the date the bank lives on, kept in the database.

Set on the first start (SANDBOX_START_DATE, or the real date in UTC) and read by whatever
counts days back from today: default statement and price ranges, performance periods, and the
generated histories, which end on it.
"""

import datetime as dt

from sqlmodel import Session

from models import SandboxClock


def utcnow() -> dt.datetime:
    """Now in UTC, real time: what webhooks and idempotency keys count by, not the sandbox's
    days."""
    return dt.datetime.now(dt.UTC)


def real_today() -> dt.date:
    return utcnow().date()


def today(session: Session) -> dt.date:
    """The sandbox's today."""
    clock = session.get(SandboxClock, 1)
    return clock.today if clock is not None else real_today()


def start_clock(session: Session, start: dt.date | None) -> dt.date:
    """The sandbox's today, set to `start` (or the real date) when it has none yet."""
    found = session.get(SandboxClock, 1)
    if found is not None:
        return found.today
    clock = SandboxClock(id=1, today=start or real_today())
    session.add(clock)
    session.flush()
    return clock.today
