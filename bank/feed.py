"""The change feed: a customer's transactions as a sync cursor walks them (Plaid's
/transactions/sync).

Every change to a transaction is logged in transaction_changes, in commit order (migration
0009): triggers log them whatever the path (REST, MCP, an import, the clock, seed.py), and bulk
writers that leave SQLite's row triggers out log theirs with `log_added`. A cursor is a position
in that log. The first call, without one, walks it from the start: every current transaction
comes as added. Each later call returns what changed after its cursor: a transaction added
since (as it is now), changed since, or removed since, each once a page however often it
changed; `count` changes at most, `has_more` while more wait, and `next_cursor` where the page
ends. A transaction added and removed after the cursor comes as removed only.

On PostgreSQL the log's order is the commit order because every transaction that changes
transactions holds one advisory lock from before its first change (`hold_feed_order`, and the
trigger) to its commit: a reader never sees a change while an earlier one is still to commit,
so a page never skips one.
"""

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Connection, text
from sqlmodel import Session, col, select

from bank import webhooks
from db import connection_of
from errors import CustomerNotFound, InvalidSyncCursor
from models import (
    RemovedTransaction,
    SyncQuery,
    Transaction,
    TransactionChange,
    TransactionPublic,
    TransactionSync,
    User,
)

# The advisory lock's key on PostgreSQL, with the schema's (a database's advisory locks are
# shared by its schemas): "feed" in ASCII, as migration 0009's trigger has it.
FEED_LOCK = 0x66656564


def hold_feed_order(session_or_connection: Session | Connection) -> None:
    """Take the feed's turn (PostgreSQL), first thing in a transaction that changes
    transactions: before any row lock, so that holding it never waits on one held by a writer
    who waits for it."""
    connection = connection_of(session_or_connection)
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(f"SELECT pg_advisory_xact_lock({FEED_LOCK}, hashtext(current_schema()))")
        )
    if isinstance(session_or_connection, Session):
        # Its changes are announced to webhooks at its commit (transactions.updated).
        webhooks.watch_transaction_changes(session_or_connection)


def first_new_transaction_id(connection: Connection) -> int:
    """The id every transaction inserted after this point has at least."""
    last = connection.exec_driver_sql("SELECT coalesce(max(id), 0) FROM transactions").scalar()
    return int(last or 0) + 1


def log_added(connection: Connection, first_id: int) -> None:
    """Log as added the transactions from `first_id` on: for a bulk insert on SQLite that left
    the row triggers out (PostgreSQL's statement triggers have logged them)."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql(
            "INSERT INTO transaction_changes (customer_oid, transaction_id, change) "
            "SELECT customer_oid, id, 'added' FROM transactions WHERE id >= ? ORDER BY id",
            (first_id,),
        )


def sync_transactions(
    session: Session, /, *, customer_oid: str, query: SyncQuery
) -> TransactionSync:
    if session.get(User, customer_oid) is None:
        raise CustomerNotFound(customer_oid)
    after = _position(session, query.cursor)
    changes: Sequence[Any] = session.exec(
        select(TransactionChange.seq, TransactionChange.transaction_id, TransactionChange.change)
        .where(col(TransactionChange.customer_oid) == customer_oid)
        .where(col(TransactionChange.seq) > after)
        .order_by(col(TransactionChange.seq))
        .limit(query.count + 1)
    ).all()
    has_more = len(changes) > query.count
    changes = changes[: query.count]
    ids = {transaction_id for _, transaction_id, _ in changes}
    current = {
        row.id: row
        for row in session.exec(
            select(Transaction)
            .where(col(Transaction.customer_oid) == customer_oid)
            .where(col(Transaction.id).in_(ids))
        ).all()
    }
    # Each transaction once: its kind from its changes in the page, in the order of its last.
    kinds: dict[int, Literal["added", "modified", "removed"]] = {}
    for _, transaction_id, change in changes:
        seen = kinds.pop(transaction_id, None)
        if change == "removed":
            kinds[transaction_id] = "removed"
        elif seen == "added" or change == "added":
            kinds[transaction_id] = "added"
        else:
            kinds[transaction_id] = "modified"
    page = TransactionSync(
        added=[], modified=[], removed=[], next_cursor=str(after), has_more=has_more
    )
    for transaction_id, kind in kinds.items():
        if kind == "removed":
            if transaction_id not in current:
                page.removed.append(RemovedTransaction(id=transaction_id))
            continue
        row = current.get(transaction_id)
        if row is None:
            continue  # removed after the page: that change comes in a later one
        listed = page.added if kind == "added" else page.modified
        listed.append(TransactionPublic.model_validate(row))
    if changes:
        page.next_cursor = str(changes[-1][0])
    return page


def _position(session: Session, cursor: str | None) -> int:
    """The log position a cursor names: 0 for none; InvalidSyncCursor (400) for anything that is
    not a position this feed has reached."""
    if not cursor:
        return 0
    if not cursor.isascii() or not cursor.isdigit() or len(cursor) > 19:
        raise InvalidSyncCursor()
    position = int(cursor)
    if position == 0:
        return 0
    reached = session.exec(
        select(col(TransactionChange.seq)).order_by(col(TransactionChange.seq).desc()).limit(1)
    ).first()
    if reached is None or position > reached:
        raise InvalidSyncCursor()
    return position
