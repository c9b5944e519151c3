"""Initial schema: users, institutions and the five per-customer tables.

Money columns are BIGINT hundredths (see MoneyColumn in models.py); customer_oid and month
sort with the C collation on PostgreSQL, as SQLite compares; ids are never reused.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 06:32:28.049026
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "institutions",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("routing_number", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "users",
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("customer_oid"),
    )
    op.create_table(
        "assets",
        sa.Column("asset_type", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("current_value", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cost_basis", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["customer_oid"], ["users.customer_oid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_customer_oid"), ["customer_oid"], unique=False)

    op.create_table(
        "bank_accounts",
        sa.Column("account_number", sa.String(length=34), nullable=False),
        sa.Column("account_type", sa.String(length=20), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=True),
        sa.Column(
            "institution_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["customer_oid"], ["users.customer_oid"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["institution_id"],
            ["institutions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_bank_accounts_customer_oid"), ["customer_oid"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_bank_accounts_institution_id"), ["institution_id"], unique=False
        )

    op.create_table(
        "derivative_transactions",
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("option_type", sa.String(length=20), nullable=True),
        sa.Column("side", sa.String(length=20), nullable=False),
        sa.Column("underlying", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("strike_price", sa.BigInteger(), nullable=True),
        sa.Column("premium", sa.BigInteger(), nullable=True),
        sa.Column("expiration_date", sa.Date(), nullable=False),
        sa.Column("execution_date", sa.Date(), nullable=False),
        sa.Column("strategy", sa.String(length=50), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("counterparty", sa.String(length=100), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["customer_oid"], ["users.customer_oid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("derivative_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_derivative_transactions_customer_oid"), ["customer_oid"], unique=False
        )

    op.create_table(
        "spending",
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column(
            "month",
            sa.String(length=7).with_variant(sa.String(length=7, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["customer_oid"], ["users.customer_oid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("spending", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_spending_customer_oid"), ["customer_oid"], unique=False
        )

    op.create_table(
        "transactions",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("symbol", sa.String(length=20), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["customer_oid"], ["users.customer_oid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_transactions_customer_date_id", ["customer_oid", "date", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transactions_customer_oid"), ["customer_oid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_customer_oid"))
        batch_op.drop_index("ix_transactions_customer_date_id")

    op.drop_table("transactions")
    with op.batch_alter_table("spending", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_spending_customer_oid"))

    op.drop_table("spending")
    with op.batch_alter_table("derivative_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_derivative_transactions_customer_oid"))

    op.drop_table("derivative_transactions")
    with op.batch_alter_table("bank_accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bank_accounts_institution_id"))
        batch_op.drop_index(batch_op.f("ix_bank_accounts_customer_oid"))

    op.drop_table("bank_accounts")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_customer_oid"))

    op.drop_table("assets")
    op.drop_table("users")
    op.drop_table("institutions")
