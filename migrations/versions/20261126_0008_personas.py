"""Personas: where each generated customer's life comes from.

Advancing the sandbox's clock makes the days happen for the sample and synthetic customers: it
draws each one's recurring life (salary, rent, subscriptions, favourite merchants) again from
its source, a sample's number or a synthetic customer's seed and number. Customers registered
through the API have no row, and get no invented activity. A database made before this has
none either: its customers' days pass without activity until it is reset or seeded again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 07:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "personas",
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("seed", sa.BigInteger(), nullable=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_oid"], ["users.customer_oid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_oid"),
    )


def downgrade() -> None:
    op.drop_table("personas")
