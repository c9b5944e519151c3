"""seed.py, reset_database.py and first-start seeding, against the database at DATABASE_URL."""

from fastapi.testclient import TestClient
from sqlalchemy import make_url

from main import create_app
from settings import Settings
from tests.fixtures import NEW_OID, SAMPLE_OIDS, run_python


def run_script(script: str, database_url: str, *, as_typed: bool = True) -> str:
    """The script run as a user types it, in a new interpreter (or forked: tests/launcher.py)."""
    result = run_python(database_url, script, as_typed=as_typed)
    assert result.returncode == 0, result.stderr
    return result.stdout


def customer_oids(database_url: str) -> list[str]:
    with TestClient(create_app(Settings(DATABASE_URL=database_url))) as client:
        return [c["customer_oid"] for c in client.get("/customers").json()]


def test_seed_script_loads_samples_into_empty_database(database_url: str) -> None:
    url = database_url
    assert "Loaded 5 sample customers" in run_script("seed.py", url)
    assert "nothing was added" in run_script("seed.py", url, as_typed=False)
    assert customer_oids(url) == SAMPLE_OIDS


def test_reset_database_restores_exactly_the_samples(database_url: str) -> None:
    url = database_url
    with TestClient(create_app(Settings(DATABASE_URL=url))) as client:
        client.delete(f"/customer/{SAMPLE_OIDS[0]}")
        client.post("/register-customer", json={"name": "Extra", "customer_oid": NEW_OID})
    output = run_script("reset_database.py", url)
    assert "dropped all tables" in output and "5 sample customers" in output
    assert str(make_url(url).database) in output
    assert customer_oids(url) == SAMPLE_OIDS


def test_restart_never_seeds_over_existing_data(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        assert client.delete(f"/customer/{SAMPLE_OIDS[0]}").status_code == 200
        client.post("/register-customer", json={"name": "Kept", "customer_oid": NEW_OID})
    with TestClient(create_app(settings)) as client:
        oids = [c["customer_oid"] for c in client.get("/customers").json()]
    assert oids == sorted([*SAMPLE_OIDS[1:], NEW_OID])


def test_restart_after_deleting_every_customer_stays_empty(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        for oid in SAMPLE_OIDS:
            assert client.delete(f"/customer/{oid}").status_code == 200
    with TestClient(create_app(settings)) as client:
        assert client.get("/customers").json() == []
