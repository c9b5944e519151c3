"""Drop every table at DATABASE_URL, recreate the schema and reload the five sample customers."""

from sqlmodel import Session

from db import create_db_engine, reset_schema
from seed import load_samples
from settings import get_settings


def reset_database() -> str:
    engine = create_db_engine(get_settings())
    try:
        reset_schema(engine)
        with Session(engine) as session:
            customers = load_samples(session)
            session.commit()
        return (
            f"Reset {engine.url!r}: dropped all tables, migrated the schema to head "
            f"and loaded {customers} sample customers"
        )
    finally:
        engine.dispose()


if __name__ == "__main__":
    print(reset_database())
