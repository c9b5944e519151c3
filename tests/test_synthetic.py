"""seed.py --customers: realistic, reproducible synthetic customers, on both engines."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

import synthetic
from db import create_db_engine, migrate
from main import create_app
from seed import parse_args, seed_if_empty
from settings import Settings
from tests.fixtures import SAMPLE_OIDS, SANDBOX_DAY, run_python, seed_here

TABLES = ("users", "assets", "bank_accounts", "transactions", "spending", "derivative_transactions")


def seed(database_url: str, *args: str) -> str:
    result = run_python(database_url, "seed.py", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout + result.stderr


def dump(database_url: str) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every per-customer table, in insertion order."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {
                name: [
                    tuple(row)
                    for row in connection.execute(text(f"SELECT * FROM {name} ORDER BY 1, 2"))
                ]
                for name, key in (
                    (name, "customer_oid" if name == "users" else "id") for name in TABLES
                )
            }
    finally:
        engine.dispose()


def test_adds_customers_beside_the_samples(database_url: str) -> None:
    output = seed_here(database_url, "--customers", "60", "--seed", "3", "--months", "1")
    assert "Added 60 synthetic customers" in output
    with TestClient(create_app(Settings(DATABASE_URL=database_url))) as client:
        oids = [c["customer_oid"] for c in client.get("/customers?limit=1000").json()]
        assert len(oids) == 65 and set(SAMPLE_OIDS) <= set(oids)
        rows = dump(database_url)
        children = sum(len(rows[name]) for name in TABLES[1:])
        assert children / 60 >= 30, "at least 30 rows per customer on average"
        # Every generated portfolio passes the API's own response models.
        for oid in oids:
            assert client.get(f"/user-portfolio/{oid}").status_code == 200, oid


def test_profiles_shape_the_portfolios() -> None:
    rows = (
        synthetic.CustomerFactory(
            seed=11, today=SANDBOX_DAY, months=12, institutions={"bank": 1, "broker": 2}
        )
        .batch(0, 200)
        .rows
    )
    asset_types = {row[1] for row in rows["assets"]}
    currencies = {row[5] for row in rows["bank_accounts"] if row[5] != "USD"}
    months = {row[3] for row in rows["spending"]}
    assert len(asset_types) >= 6
    assert currencies, "some customers hold accounts in other currencies"
    assert len(months) == 13 and max(months) == "2026-11", "a year of monthly spending, and today's"
    assert {row[1] for row in rows["derivative_transactions"]} >= {"option", "future"}


def test_the_same_seed_gives_the_same_rows(tmp_path: Path) -> None:
    first, second = (f"sqlite:///{tmp_path / name}.db" for name in ("a", "b"))
    for url in (first, second):
        seed_here(url, "--customers", "30", "--seed", "9", "--months", "2")
    assert dump(first) == dump(second)
    # Another seed, other customers; each customer's rows are its own, whatever the batch.
    factory = synthetic.CustomerFactory(
        seed=9, today=SANDBOX_DAY, months=2, institutions={"bank": 1, "broker": 2}
    )
    other = synthetic.CustomerFactory(
        seed=10, today=SANDBOX_DAY, months=2, institutions={"bank": 1, "broker": 2}
    )
    assert factory.batch(0, 5).rows["users"] != other.batch(0, 5).rows["users"]
    # (account_id aside: accounts are numbered within a batch until written)
    alone = [row[:1] + row[2:] for row in factory.batch(3, 2).rows["transactions"]]
    oids = {user[0] for user in factory.batch(3, 2).rows["users"]}
    among = [
        row[:1] + row[2:] for row in factory.batch(0, 5).rows["transactions"] if row[0] in oids
    ]
    assert alone == among


def test_progress_is_plain_log_lines_without_a_terminal(tmp_path: Path) -> None:
    output = seed(f"sqlite:///{tmp_path / 'bank.db'}", "--customers", "10", "--seed", "1")
    assert "10/10 customers" in output and "rows/s" in output
    assert "\r" not in output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--customers", "-1"], "--customers must be 0 or more"),
        (["--customers", "5", "--months", "0"], "--months must be from 1 to 120"),
        (["--months", "121"], "--months must be from 1 to 120"),
    ],
)
def test_bad_arguments_are_refused(
    arguments: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(arguments)
    assert exited.value.code == 2 and message in capsys.readouterr().err


def test_seeded_customers_have_versions_and_every_trigger_stays(database_url: str) -> None:
    def triggers_and_versions() -> tuple[object, int]:
        engine = create_engine(database_url)
        try:
            with engine.connect() as connection:
                if engine.dialect.name == "sqlite":
                    query = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY 1"
                else:
                    # This schema's triggers only: other tests' schemas come and go meanwhile.
                    query = (
                        "SELECT tgname FROM pg_trigger JOIN pg_class ON pg_class.oid = tgrelid "
                        "WHERE NOT tgisinternal AND relnamespace = current_schema()::regnamespace "
                        "ORDER BY 1"
                    )
                names = connection.execute(text(query)).scalars().all()
                versions = connection.execute(text("SELECT count(*) FROM customer_versions"))
                return names, versions.scalar_one()
        finally:
            engine.dispose()

    # The samples, loaded as seed.py loads them (its own command line is run below).
    engine = create_db_engine(Settings(DATABASE_URL=database_url))
    try:
        migrate(engine)
        seed_if_empty(engine)
    finally:
        engine.dispose()
    triggers, versions = triggers_and_versions()
    assert versions == 5 and len(triggers) >= 18  # type: ignore[arg-type]
    seed_here(database_url, "--customers", "30", "--seed", "4")
    assert triggers_and_versions() == (triggers, 35)
    # The same seed again makes the same CustomerOIDs: the batch fails and changes nothing.
    result = run_python(database_url, "seed.py", "--customers", "30", "--seed", "4")
    assert result.returncode == 1
    assert "A customer of seed 4 is in the database already" in result.stderr
    assert "Traceback" not in result.stderr
    assert triggers_and_versions() == (triggers, 35)
    with TestClient(create_app(Settings(DATABASE_URL=database_url))) as client:
        oid = next(
            c["customer_oid"]
            for c in client.get("/customers?limit=100").json()
            if c["customer_oid"] not in SAMPLE_OIDS
        )
        before = client.get(f"/user-portfolio/{oid}").json()
        client.get(f"/user-portfolio/{oid}")
        engine = create_engine(database_url)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM spending WHERE customer_oid = :oid"), {"oid": oid})
        engine.dispose()
        assert client.get(f"/user-portfolio/{oid}").json()["spending"] == []
        assert before["spending"] != []
