"""Drop every table at DATABASE_URL, recreate the schema and reload the five sample customers.

The sandbox's clock starts again too: at SANDBOX_START_DATE, or the real date.
"""

from db import create_db_engine, reset_schema
from seed import SAMPLE_CUSTOMERS, seed_if_empty
from settings import get_settings


def reset_database() -> str:
    settings = get_settings()
    engine = create_db_engine(settings)
    try:
        reset_schema(engine)
        seed_if_empty(engine, start=settings.SANDBOX_START_DATE)
        return (
            f"Reset {engine.url!r}: dropped all tables, migrated the schema to head "
            f"and loaded {len(SAMPLE_CUSTOMERS)} sample customers"
        )
    finally:
        engine.dispose()


if __name__ == "__main__":
    print(reset_database())
