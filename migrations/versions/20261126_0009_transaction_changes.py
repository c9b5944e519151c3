"""The change feed: every change to a transaction, logged in commit order.

GET /customer/{customer_oid}/transactions/sync reads it (bank/feed.py). Triggers write it, so
every path that changes transactions is in it; bulk writers that leave SQLite's row triggers out
log their rows themselves. seq is the order the changes committed in: SQLite has one writer at a
time; on PostgreSQL every transaction that changes transactions takes one advisory lock (the
trigger takes it, and writers take it first, before any row lock) and holds it to its commit, so
no change can be logged with a lower seq than one already committed. The transactions there are
get an "added" each, in id order.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 07:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The advisory lock's key, with the schema's: "feed" in ASCII (bank/feed.py has the same).
# Advisory locks belong to the database; databases that share one in schemas of their own
# (the tests') take turns only within their schema.
FEED_LOCK = 0x66656564
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER transactions_{event.lower()}_change AFTER {event} ON transactions BEGIN
        INSERT INTO transaction_changes (customer_oid, transaction_id, change)
        VALUES ({row}.customer_oid, {row}.id, '{change}');
    END"""
    for event, row, change in (
        ("INSERT", "NEW", "added"),
        ("UPDATE", "NEW", "modified"),
        ("DELETE", "OLD", "removed"),
    )
]
POSTGRESQL_FUNCTION = f"""CREATE OR REPLACE FUNCTION log_transaction_changes()
    RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({FEED_LOCK}, hashtext(current_schema()));
        IF TG_OP = 'DELETE' THEN
            INSERT INTO transaction_changes (customer_oid, transaction_id, change)
            SELECT customer_oid, id, 'removed' FROM old_rows ORDER BY id;
        ELSE
            INSERT INTO transaction_changes (customer_oid, transaction_id, change)
            SELECT customer_oid, id, CASE TG_OP WHEN 'INSERT' THEN 'added' ELSE 'modified' END
            FROM new_rows ORDER BY id;
        END IF;
        RETURN NULL;
    END $$"""
POSTGRESQL_TRIGGERS = [
    f"""CREATE TRIGGER transactions_{event.lower()}_change AFTER {event} ON transactions
        REFERENCING {rows} FOR EACH STATEMENT EXECUTE FUNCTION log_transaction_changes()"""
    for event, rows in (
        ("INSERT", "NEW TABLE AS new_rows"),
        ("UPDATE", "NEW TABLE AS new_rows"),
        ("DELETE", "OLD TABLE AS old_rows"),
    )
]


def upgrade() -> None:
    op.create_table(
        "transaction_changes",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("transaction_id", sa.BigInteger(), nullable=False),
        sa.Column("change", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_transaction_changes_customer_seq", "transaction_changes", ["customer_oid", "seq"]
    )
    op.execute(
        "INSERT INTO transaction_changes (customer_oid, transaction_id, change) "
        "SELECT customer_oid, id, 'added' FROM transactions ORDER BY id"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        triggers = POSTGRESQL_TRIGGERS
    else:
        triggers = SQLITE_TRIGGERS
    for trigger in triggers:
        op.execute(trigger)


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for event in ("insert", "update", "delete"):
        op.execute(
            f"DROP TRIGGER IF EXISTS transactions_{event}_change"
            + (" ON transactions" if postgresql else "")
        )
    op.drop_index("ix_transaction_changes_customer_seq", table_name="transaction_changes")
    op.drop_table("transaction_changes")
    if postgresql:
        op.execute("DROP FUNCTION IF EXISTS log_transaction_changes()")
