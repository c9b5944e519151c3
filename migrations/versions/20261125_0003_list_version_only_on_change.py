"""PostgreSQL: renew the customer list's version only when a statement changed the list.

The statement trigger of migration 0002 fired on every INSERT, UPDATE OF name and DELETE of
users, also when no row changed: a portfolio import's `INSERT ... ON CONFLICT DO NOTHING` for a
customer who exists locked the one customer_list_version row, then the customer's row; a DELETE
of that customer takes them in the other order, and the two deadlocked. Now the list's version
is renewed only for rows really inserted or deleted (statement triggers over transition
tables, which are empty when nothing changed) and for a name that really changed (a row
trigger: transition tables cannot go with a column list). Every write path then takes the
customer's row before the list's.

SQLite needs nothing: its triggers run per row, so they never fire for a row not written.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 16:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTIONS = {
    "new_customer_list_version_if_rows() RETURNS trigger LANGUAGE plpgsql": """
        BEGIN
            IF EXISTS (SELECT FROM changed_rows) THEN
                UPDATE customer_list_version SET version = new_data_version();
            END IF;
            RETURN NULL;
        END""",
}
TRIGGERS = [
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
OLD_TRIGGER = """CREATE TRIGGER users_list_version AFTER INSERT OR UPDATE OF name OR DELETE ON users
    FOR EACH STATEMENT EXECUTE FUNCTION new_customer_list_version()"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS users_list_version ON users")
    for signature, body in FUNCTIONS.items():
        op.execute(f"CREATE OR REPLACE FUNCTION {signature} AS $$ {body} $$")
    for trigger in TRIGGERS:
        op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in ("users_list_insert_version", "users_list_delete_version"):
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON users")
    op.execute("DROP TRIGGER IF EXISTS users_list_rename_version ON users")
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature.split(' RETURNS')[0]}")
    op.execute(OLD_TRIGGER)
