"""The ledger: a transaction may name one of its customer's bank accounts, and a merchant.

account_id is the account its amount is posted to (deleting the account keeps the transaction,
of no account); merchant and mcc (ISO 18245) describe card spending. All three are nullable:
existing transactions belong to no account.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 00:40:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0002's triggers on transactions, made again on SQLite's copy of the table.
SQLITE_TRANSACTIONS_TRIGGERS = [
    f"""CREATE TRIGGER transactions_{event.lower()}_version AFTER {event} ON transactions BEGIN
        UPDATE customer_versions SET version = random() WHERE customer_oid IN ({rows});
    END"""
    for event, rows in (
        ("INSERT", "NEW.customer_oid"),
        ("UPDATE", "OLD.customer_oid, NEW.customer_oid"),
        ("DELETE", "OLD.customer_oid"),
    )
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # SQLite: the table is copied with the new columns (its own ALTER TABLE would add the
    # reference inline, where the schema's reflection misses ON DELETE SET NULL), and the copy
    # gets the triggers and the highest id ever given that the old table had.
    highest_id = _highest_id_given() if sqlite else None
    with _transactions_altered(sqlite) as batch_op:
        batch_op.add_column(sa.Column("merchant", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("mcc", sa.String(length=4), nullable=True))
        batch_op.add_column(sa.Column("account_id", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            "transactions_account_id_fkey",
            "bank_accounts",
            ["account_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_index("ix_transactions_account_id", ["account_id"])
    if sqlite:
        _as_before_the_copy(highest_id)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    highest_id = _highest_id_given() if sqlite else None
    with _transactions_altered(sqlite) as batch_op:
        batch_op.drop_index("ix_transactions_account_id")
        batch_op.drop_constraint("transactions_account_id_fkey", type_="foreignkey")
        for column in ("account_id", "mcc", "merchant"):
            batch_op.drop_column(column)
    if sqlite:
        _as_before_the_copy(highest_id)


def _transactions_altered(sqlite: bool) -> Any:
    """Alembic's batch of changes to transactions: on SQLite a copy of the table, its ids still
    never reused (AUTOINCREMENT, as migration 0001 made it)."""
    return op.batch_alter_table(
        "transactions",
        recreate="always" if sqlite else "never",
        table_kwargs={"sqlite_autoincrement": True},
    )


def _highest_id_given() -> int | None:
    """SQLite: the highest transaction id ever given, deleted ones included."""
    found = op.get_bind().execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'transactions'")
    )
    row = found.first()
    return None if row is None else int(row[0])


def _as_before_the_copy(highest_id: int | None) -> None:
    """SQLite: the copy's triggers, and its highest id given, as the old table had them."""
    for trigger in SQLITE_TRANSACTIONS_TRIGGERS:
        op.execute(trigger)
    if highest_id is not None:
        op.execute(
            sa.text(
                "UPDATE sqlite_sequence SET seq = max(seq, :highest) WHERE name = 'transactions'"
            ).bindparams(highest=highest_id)
        )
