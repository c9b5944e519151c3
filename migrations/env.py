"""Alembic environment: migrate DATABASE_URL, or the connection the app hands in."""

from logging.config import fileConfig

from alembic import context
from sqlmodel import SQLModel

import models  # noqa: F401  (registers every table on SQLModel.metadata)
from db import create_db_engine
from settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def run_migrations(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


shared_connection = config.attributes.get("connection")
if shared_connection is not None:
    # The app's own start-up (db.migrate): its connection already holds the migration lock.
    run_migrations(shared_connection)
else:
    # The alembic command line (make migrate, alembic check).
    if config.config_file_name is not None:
        fileConfig(config.config_file_name, disable_existing_loggers=False)
    engine = create_db_engine(get_settings())
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()
