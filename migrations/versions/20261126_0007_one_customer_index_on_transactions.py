"""Drop ix_transactions_customer_oid: ix_transactions_customer_date_id leads with the column.

Every lookup by customer (a portfolio, a page, ON DELETE CASCADE) is served by the composite
index as well, while each index costs every insert: generating histories (seed.py) ran a fifth
faster without this one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 03:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_transactions_customer_oid", table_name="transactions")


def downgrade() -> None:
    op.create_index("ix_transactions_customer_oid", "transactions", ["customer_oid"])
