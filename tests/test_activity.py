"""Realistic activity: histories that add up, for the samples and synthetic customers."""

import datetime as dt
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import activity
import synthetic
from main import create_app
from settings import Settings
from tests.fixtures import SAMPLE_OIDS, SANDBOX_DAY, last_closes, reconcile, seed_here

RETAIL = ("conservative", "balanced", "aggressive", "private_banking")


@pytest.mark.slow
def test_samples_and_200_synthetic_customers_reconcile(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    # A quarter each (a year is the samples' test below): the checks are per transaction.
    seed_here(url, "--customers", "200", "--seed", "15", "--months", "3")
    with TestClient(create_app(Settings(DATABASE_URL=url))) as client:
        closes = last_closes(client)
        oids = [c["customer_oid"] for c in client.get("/customers?limit=1000").json()]
        assert len(oids) == 205 and set(SAMPLE_OIDS) <= set(oids)
        for oid in oids:
            portfolio = reconcile(client, oid, closes)
            # History up to today: the last 30 days are never empty.
            dates = [t["date"] for t in portfolio["transactions"]]
            assert max(dates) >= (SANDBOX_DAY - dt.timedelta(days=7)).isoformat()
            assert min(dates) == ("2025-11-01" if oid in SAMPLE_OIDS else "2026-08-01")


def test_the_clock_tells_the_sandbox_date(client: TestClient) -> None:
    response = client.get("/sandbox/clock")
    assert response.status_code == 200
    assert response.json() == {"today": SANDBOX_DAY.isoformat()}


def test_samples_keep_their_names_and_get_a_year_that_adds_up(client: TestClient) -> None:
    closes = last_closes(client)
    for oid in SAMPLE_OIDS:
        portfolio = reconcile(client, oid, closes)
        months = {t["date"][:7] for t in portfolio["transactions"]}
        assert len(months) == 13, "a year of months, and today's"
        assert len(portfolio["transactions"]) >= 40 * 12
    assert client.get(f"/user-portfolio/{SAMPLE_OIDS[0]}").json()["user"]["name"] == "John Doe"
    # The balances the original API showed, kept.
    balances = {
        a["account_number"]: a["balance"]
        for oid in SAMPLE_OIDS
        for a in client.get(f"/customer/{oid}/bank-accounts").json()
    }
    assert balances["ACC-001"] == 25000.0 and balances["ACC-101"] == 8200.55
    assert balances["ACC-501"] == 18750.25 and balances["EUR-301"] == 350000.0


def test_retail_personas_average_40_transactions_a_month() -> None:
    calendar = activity.Calendar.of_history(SANDBOX_DAY, 12)
    factory = synthetic.CustomerFactory(
        seed=3, today=SANDBOX_DAY, months=12, institutions={"bank": 1, "broker": 2}
    )
    per_profile: defaultdict[str, list[int]] = defaultdict(list)
    batch = factory.batch(0, 300)
    profiles = {
        batch.rows["users"][index][0]: synthetic.profile_of(3, index)[0] for index in range(300)
    }
    counts = Counter(row[0] for row in batch.rows["transactions"])
    for oid, profile in profiles.items():
        per_profile[profile].append(counts[oid])
    months = len(calendar.months) - 1 + calendar.today.day / 30
    for profile in RETAIL:
        average = sum(per_profile[profile]) / len(per_profile[profile]) / months
        assert average >= 40, (profile, average)
    categories = {row[5] for row in batch.rows["transactions"]}
    assert {"groceries", "dining", "transport", "shopping", "travel", "subscriptions"} <= categories
    assert {"income", "housing", "utilities", "transfer", "investment", "payroll"} <= categories
    merchants = {(row[9], row[10]) for row in batch.rows["transactions"] if row[10]}
    assert ("Whole Foods Market", "5411") in merchants and ("Uber", "4121") in merchants
    assert any(row[4].startswith("Refund ") and row[3] > 0 for row in batch.rows["transactions"])


def test_every_seed_and_customer_number_draws_its_own_stream() -> None:
    first = [activity.rng_for(1, n).random() for n in range(3)]
    assert first != [activity.rng_for(-1, n).random() for n in range(3)]
    assert activity.rng_for(0, 1_000_003).random() != activity.rng_for(1, 0).random()
    assert first == [activity.rng_for(1, n).random() for n in range(3)]


def test_december_spends_more_than_october() -> None:
    factory = synthetic.CustomerFactory(
        seed=5, today=dt.date(2027, 1, 31), months=12, institutions={"bank": 1, "broker": 2}
    )
    batch = factory.batch(0, 200)
    by_month: Counter[str] = Counter()
    for row in batch.rows["spending"]:
        if row[1] in ("shopping", "dining", "groceries"):
            by_month[row[3]] += row[2]
    assert by_month["2026-12"] > by_month["2026-10"] * 1.15


def test_the_history_ends_on_the_sandbox_start_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    later = dt.date(2027, 3, 15)
    with TestClient(create_app(Settings(DATABASE_URL=url, SANDBOX_START_DATE=later))) as client:
        oid = SAMPLE_OIDS[0]
        dates = [t["date"] for t in client.get(f"/user-portfolio/{oid}").json()["transactions"]]
        assert max(dates) <= later.isoformat() and min(dates) == "2026-03-01"
        account = client.get(f"/customer/{oid}/bank-accounts").json()[0]
        statement = client.get(f"/customer/{oid}/bank-accounts/{account['id']}/statement").json()
        assert statement["to"] == later.isoformat() and statement["transactions"]
    # No close after the sandbox's today, even before the walk's anchor day.
    early = dt.date(2026, 3, 15)
    with TestClient(
        create_app(
            Settings(DATABASE_URL=f"sqlite:///{tmp_path / 'early.db'}", SANDBOX_START_DATE=early)
        )
    ) as client:
        closes = client.get("/securities/AAPL/prices?from=2026-03-10&to=2026-03-25").json()
        assert closes and closes[-1]["date"] == "2026-03-13"  # a Friday; the 15th a Sunday
    # The date is kept: another start with another setting keeps the first.
    other = Settings(DATABASE_URL=url, SANDBOX_START_DATE=dt.date(2030, 1, 1))
    with TestClient(create_app(other)) as client:
        assert client.get("/sandbox/clock").json() == {"today": later.isoformat()}
        prices = client.get("/securities/AAPL/prices").json()
        assert prices[-1]["date"] <= later.isoformat()


def test_months_sets_the_history_length(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    printed = seed_here(url, "--customers", "5", "--seed", "2", "--months", "2")
    assert "2 months to 2026-11-02" in printed
    with TestClient(create_app(Settings(DATABASE_URL=url))) as client:
        oids = [c["customer_oid"] for c in client.get("/customers").json()]
        synthetic_oids = [oid for oid in oids if oid not in SAMPLE_OIDS]
        for oid in synthetic_oids:
            dates = [t["date"] for t in client.get(f"/user-portfolio/{oid}").json()["transactions"]]
            assert min(dates) == "2026-09-01"
