"""Data versions: one per customer and one for the customer list, kept current by triggers.

The API keeps serialized answers in memory and serves one only while the version it was read at
is still the database's (answers.py). Triggers, not application code, change the versions, so
every write counts: any worker's, MCP's, seed.py's, or one made by hand in a SQL shell.

Versions are random, not counted: a database reset and seeded again can never hand out a version
that a running server's memory still holds for other data.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 08:22:16.185584
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CUSTOMER_TABLES = ("assets", "bank_accounts", "transactions", "spending", "derivative_transactions")

# SQLite: row triggers with the statement inline. random() is a random 64-bit integer.
SQLITE_TRIGGERS = [
    *(
        f"""CREATE TRIGGER {table}_{event.lower()}_version AFTER {event} ON {table} BEGIN
            UPDATE customer_versions SET version = random() WHERE customer_oid IN ({rows});
        END"""
        for table in CUSTOMER_TABLES
        for event, rows in (
            ("INSERT", "NEW.customer_oid"),
            ("UPDATE", "OLD.customer_oid, NEW.customer_oid"),
            ("DELETE", "OLD.customer_oid"),
        )
    ),
    """CREATE TRIGGER users_insert_version AFTER INSERT ON users BEGIN
        INSERT INTO customer_versions (customer_oid, version) VALUES (NEW.customer_oid, random());
        UPDATE customer_list_version SET version = random();
    END""",
    """CREATE TRIGGER users_update_version AFTER UPDATE OF name ON users BEGIN
        UPDATE customer_versions SET version = random() WHERE customer_oid = NEW.customer_oid;
        UPDATE customer_list_version SET version = random();
    END""",
    """CREATE TRIGGER users_delete_version AFTER DELETE ON users BEGIN
        UPDATE customer_list_version SET version = random();
    END""",
    # A portfolio shows each account's institution.
    """CREATE TRIGGER institutions_update_version AFTER UPDATE ON institutions BEGIN
        UPDATE customer_versions SET version = random() WHERE customer_oid IN (
            SELECT customer_oid FROM bank_accounts WHERE institution_id IN (OLD.id, NEW.id));
    END""",
]

# PostgreSQL: statement triggers over transition tables, one UPDATE however many rows a
# statement (a bulk insert of seed.py) touches. random() has 52 random bits.
POSTGRESQL_FUNCTIONS = {
    "new_data_version() RETURNS bigint LANGUAGE sql VOLATILE": """
        SELECT floor(random() * 4503599627370496)::bigint""",
    **{
        f"new_{name}_versions() RETURNS trigger LANGUAGE plpgsql": f"""
        BEGIN
            UPDATE customer_versions SET version = new_data_version()
            WHERE customer_oid IN ({rows});
            RETURN NULL;
        END"""
        for name, rows in (
            ("inserted", "SELECT customer_oid FROM new_rows"),
            (
                "updated",
                "SELECT customer_oid FROM new_rows UNION SELECT customer_oid FROM old_rows",
            ),
            ("deleted", "SELECT customer_oid FROM old_rows"),
        )
    },
    "new_customers_versions() RETURNS trigger LANGUAGE plpgsql": """
        BEGIN
            INSERT INTO customer_versions (customer_oid, version)
            SELECT customer_oid, new_data_version() FROM new_rows;
            RETURN NULL;
        END""",
    "new_renamed_customer_version() RETURNS trigger LANGUAGE plpgsql": """
        BEGIN
            UPDATE customer_versions SET version = new_data_version()
            WHERE customer_oid = NEW.customer_oid;
            RETURN NULL;
        END""",
    "new_customer_list_version() RETURNS trigger LANGUAGE plpgsql": """
        BEGIN
            UPDATE customer_list_version SET version = new_data_version();
            RETURN NULL;
        END""",
    "new_account_holders_versions() RETURNS trigger LANGUAGE plpgsql": """
        BEGIN
            UPDATE customer_versions SET version = new_data_version() WHERE customer_oid IN (
                SELECT customer_oid FROM bank_accounts WHERE institution_id IN (OLD.id, NEW.id));
            RETURN NULL;
        END""",
}
POSTGRESQL_TRIGGERS = [
    *(
        f"""CREATE TRIGGER {table}_{event.lower()}_version AFTER {event} ON {table}
            REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION new_{name}_versions()"""
        for table in CUSTOMER_TABLES
        for event, tables, name in (
            ("INSERT", "NEW TABLE AS new_rows", "inserted"),
            ("UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "updated"),
            ("DELETE", "OLD TABLE AS old_rows", "deleted"),
        )
    ),
    """CREATE TRIGGER users_insert_version AFTER INSERT ON users REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION new_customers_versions()""",
    # A row trigger: transition tables cannot go with a column list (OF name).
    """CREATE TRIGGER users_update_version AFTER UPDATE OF name ON users
        FOR EACH ROW EXECUTE FUNCTION new_renamed_customer_version()""",
    """CREATE TRIGGER users_list_version AFTER INSERT OR UPDATE OF name OR DELETE ON users
        FOR EACH STATEMENT EXECUTE FUNCTION new_customer_list_version()""",
    """CREATE TRIGGER institutions_update_version AFTER UPDATE ON institutions
        FOR EACH ROW EXECUTE FUNCTION new_account_holders_versions()""",
]


def upgrade() -> None:
    op.create_table(
        "customer_list_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "customer_versions",
        sa.Column(
            "customer_oid",
            sa.String(length=36).with_variant(sa.String(length=36, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["customer_oid"], ["users.customer_oid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("customer_oid"),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        for signature, body in POSTGRESQL_FUNCTIONS.items():
            # OR REPLACE: reset_database drops the tables (and their triggers) but not these.
            op.execute(f"CREATE OR REPLACE FUNCTION {signature} AS $$ {body} $$")
        random_version, triggers = "new_data_version()", POSTGRESQL_TRIGGERS
    else:
        random_version, triggers = "random()", SQLITE_TRIGGERS
    op.execute(f"INSERT INTO customer_list_version (id, version) VALUES (1, {random_version})")
    op.execute(
        f"INSERT INTO customer_versions (customer_oid, version) "
        f"SELECT customer_oid, {random_version} FROM users"
    )
    for trigger in triggers:
        op.execute(trigger)


def downgrade() -> None:
    for table in (*CUSTOMER_TABLES, "users", "institutions"):
        for trigger in ("insert", "update", "delete", "list"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_{trigger}_version" + _on(table))
    op.drop_table("customer_versions")
    op.drop_table("customer_list_version")
    if op.get_bind().dialect.name == "postgresql":
        for signature in POSTGRESQL_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {signature.split(' RETURNS')[0]}")


def _on(table: str) -> str:
    """PostgreSQL names a trigger within its table; SQLite within the schema."""
    return f" ON {table}" if op.get_bind().dialect.name == "postgresql" else ""
