"""Drop the customer list's version: no row that every writer of a customer must lock.

Registering, renaming, importing a new customer or deleting one renewed the single
customer_list_version row (migrations 0002 and 0003), so those writes took turns on it even for
unrelated customers. Its only reader was the response cache's copy of GET /customers pages,
which is no longer kept (the list is read fresh, one index range scan). The per-customer
versions stay: each customer's writers lock only that customer's row.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite: the users triggers of 0002 without their customer_list_version statement.
SQLITE_USERS_TRIGGERS = [
    """CREATE TRIGGER users_insert_version AFTER INSERT ON users BEGIN
        INSERT INTO customer_versions (customer_oid, version) VALUES (NEW.customer_oid, random());
    END""",
    """CREATE TRIGGER users_update_version AFTER UPDATE OF name ON users BEGIN
        UPDATE customer_versions SET version = random() WHERE customer_oid = NEW.customer_oid;
    END""",
]
SQLITE_OLD_USERS_TRIGGERS = [
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
]
POSTGRESQL_LIST_TRIGGERS = (
    "users_list_insert_version",
    "users_list_delete_version",
    "users_list_rename_version",
)
POSTGRESQL_LIST_FUNCTIONS = {
    "new_customer_list_version() RETURNS trigger LANGUAGE plpgsql": """
        BEGIN
            UPDATE customer_list_version SET version = new_data_version();
            RETURN NULL;
        END""",
    "new_customer_list_version_if_rows() RETURNS trigger LANGUAGE plpgsql": """
        BEGIN
            IF EXISTS (SELECT FROM changed_rows) THEN
                UPDATE customer_list_version SET version = new_data_version();
            END IF;
            RETURN NULL;
        END""",
}
# As migration 0003 left them.
POSTGRESQL_OLD_LIST_TRIGGERS = [
    """CREATE TRIGGER users_list_insert_version AFTER INSERT ON users
        REFERENCING NEW TABLE AS changed_rows
        FOR EACH STATEMENT EXECUTE FUNCTION new_customer_list_version_if_rows()""",
    """CREATE TRIGGER users_list_delete_version AFTER DELETE ON users
        REFERENCING OLD TABLE AS changed_rows
        FOR EACH STATEMENT EXECUTE FUNCTION new_customer_list_version_if_rows()""",
    """CREATE TRIGGER users_list_rename_version AFTER UPDATE OF name ON users
        FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name)
        EXECUTE FUNCTION new_customer_list_version()""",
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if _postgresql():
        for trigger in POSTGRESQL_LIST_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON users")
        for signature in POSTGRESQL_LIST_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {signature.split(' RETURNS')[0]}")
    else:
        for trigger in ("users_insert_version", "users_update_version", "users_delete_version"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        for trigger in SQLITE_USERS_TRIGGERS:
            op.execute(trigger)
    op.drop_table("customer_list_version")


def downgrade() -> None:
    op.create_table(
        "customer_list_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    if _postgresql():
        op.execute("INSERT INTO customer_list_version (id, version) VALUES (1, new_data_version())")
        for signature, body in POSTGRESQL_LIST_FUNCTIONS.items():
            op.execute(f"CREATE OR REPLACE FUNCTION {signature} AS $$ {body} $$")
        for trigger in POSTGRESQL_OLD_LIST_TRIGGERS:
            op.execute(trigger)
    else:
        op.execute("INSERT INTO customer_list_version (id, version) VALUES (1, random())")
        for trigger in ("users_insert_version", "users_update_version"):
            op.execute(f"DROP TRIGGER {trigger}")
        for trigger in SQLITE_OLD_USERS_TRIGGERS:
            op.execute(trigger)
