"""The sandbox's date, kept in the database.

Generated histories end on it and "the last 30 days" of statements and prices count back from
it, so it is set once, on the first start (SANDBOX_START_DATE, or the real date in UTC), and
stays until the sandbox is reset. A database made before it gets the real date on its next
start.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 03:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sandbox_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("today", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("sandbox_clock")
