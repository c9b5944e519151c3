"""The response cache: answers served again only while the database says their data is unchanged."""

import gc
import tracemalloc
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text

from db import Database, Params, Row
from response_cache import VERSION_SQL, Answer, ResponseCache
from tests.fixtures import (
    CHANGES,
    NEW_OID,
    PORTFOLIO_LIST,
    SAMPLE_OIDS,
    VALID,
    app_database,
    on_sqlite_only,
)

OID = SAMPLE_OIDS[1]  # Michael Chen: every collection has rows
CACHED_URLS = [
    f"/user-portfolio/{OID}",
    f"/customer/{OID}/transactions",
    f"/customer/{OID}/transactions?type=withdrawal&limit=1",
    f"/customer/{OID}/assets",
    f"/customer/{OID}/bank-accounts",
    f"/customer/{OID}/spending",
    f"/customer/{OID}/derivative-transactions",
]


class StatementCounter:
    """Counts the read transactions the app begins: one per answer read from the data, none for
    the lookup of a data version. Reads through a session begin theirs on the engine. The lean
    reads (Database.read_rows) begin theirs on SQLite on the connection kept for them, seen
    through the driver's statement trace, and on PostgreSQL in a query of their own, counted
    as it is sent. The webhook sender's look at what is due is its own read in the background,
    not the answer's: not counted."""

    def __init__(self, database: Database) -> None:
        self.count = 0
        self._begun = False
        self.database = database
        event.listen(database.engine, "begin", self._count)
        kept = database._inline_connection
        self.driver = None if kept is None else kept.driver_connection
        if self.driver is not None:
            self.driver.set_trace_callback(self._traced)
        else:
            send = database._postgresql_rows

            async def counted(statements: Sequence[tuple[str, Params]]) -> list[list[Row]]:
                sqls = [sql for sql, _ in statements]
                self.count += sqls != [VERSION_SQL] and not all(map(self._senders, sqls))
                return await send(statements)

            setattr(database, "_postgresql_rows", counted)  # noqa: B010 (an instance attribute)

    def close(self) -> None:
        """Stop counting: the app, and its engine, outlive the test."""
        event.remove(self.database.engine, "begin", self._count)
        if self.driver is not None:
            self.driver.set_trace_callback(None)
        else:
            delattr(self.database, "_postgresql_rows")  # the method again

    def _count(self, _connection: Any) -> None:
        self.count += 1

    def _traced(self, statement: str) -> None:
        # A BEGIN counts once the statement after it shows whose read it is.
        if self._begun:
            self.count += not self._senders(statement)
        self._begun = statement == "BEGIN"

    @staticmethod
    def _senders(statement: str) -> bool:
        return "FROM webhook_deliveries" in statement

    def during(self, client: TestClient, url: str) -> tuple[int, bytes, dict[str, str]]:
        before = self.count
        response = client.get(url)
        assert response.status_code == 200, response.text
        headers = {k: v for k, v in response.headers.items() if k != "x-request-id"}  # one each
        return self.count - before, response.content, headers


@pytest.fixture
def counter(client: TestClient) -> Iterator[StatementCounter]:
    counter = StatementCounter(app_database(client))
    yield counter
    counter.close()


@pytest.mark.parametrize("url", CACHED_URLS)
def test_a_repeated_get_is_answered_from_memory(
    client: TestClient, counter: StatementCounter, url: str
) -> None:
    queries, body, headers = counter.during(client, url)
    assert queries > 0
    again, body_again, headers_again = counter.during(client, url)
    assert again == 0
    assert body_again == body
    assert headers_again == headers  # Link header and content type included


def test_a_page_from_memory_links_the_next_page(client: TestClient) -> None:
    url = f"/customer/{OID}/transactions"
    everything = [t["id"] for t in client.get(url).json()]
    first = client.get(f"{url}?limit=2")
    again = client.get(f"{url}?limit=2")
    assert again.headers["link"] == first.headers["link"]
    next_url = again.headers["link"][1 : again.headers["link"].index(">")]
    assert [t["id"] for t in client.get(next_url).json()] == everything[2:4]


def test_an_answer_from_memory_is_the_bytes_fastapi_serializes(client: TestClient) -> None:
    document = client.get(f"/user-portfolio/{OID}").json()
    # PUT answers the stored portfolio through FastAPI's own response serialization.
    put = client.put(f"/user-portfolio/{OID}", json=document)
    assert put.status_code == 200
    client.get(f"/user-portfolio/{OID}")
    assert client.get(f"/user-portfolio/{OID}").content == put.content


def test_another_query_string_is_read_afresh(client: TestClient, counter: StatementCounter) -> None:
    url = f"/customer/{OID}/transactions"
    counter.during(client, f"{url}?limit=2")
    queries, body, _ = counter.during(client, f"{url}?limit=3")
    assert queries > 0
    assert len(client.get(f"{url}?limit=3").json()) == 3


def test_the_customer_list_is_read_afresh_every_time(
    client: TestClient, counter: StatementCounter
) -> None:
    """No version of the whole list is kept (it would be one row every registration and
    deletion must lock), so no page of it is kept either."""
    first = counter.during(client, "/customers?limit=2")
    again = counter.during(client, "/customers?limit=2")
    assert first[0] > 0 and again[0] > 0
    assert first[1:] == again[1:]


def test_errors_are_never_stored(client: TestClient) -> None:
    assert client.get(f"/user-portfolio/{NEW_OID}").status_code == 404
    new = {"customer_oid": NEW_OID, "name": "Newly Made"}
    assert client.post("/register-customer", json=new).status_code == 200
    assert client.get(f"/user-portfolio/{NEW_OID}").status_code == 200
    assert client.get("/customers?limit=0").status_code == 400
    assert client.get("/customers?limit=0").status_code == 400


# --- Every write shows on the next read -----------------------------------------------------


@pytest.mark.parametrize("collection", list(VALID))
def test_create_patch_and_delete_show_on_the_next_read(client: TestClient, collection: str) -> None:
    list_url, portfolio_url = f"/customer/{OID}/{collection}?limit=100", f"/user-portfolio/{OID}"
    key = PORTFOLIO_LIST[collection]

    def listed() -> dict[int, Any]:
        return {item["id"]: item for item in client.get(list_url, params={"limit": 1000}).json()}

    def in_portfolio() -> dict[int, Any]:
        return {item["id"]: item for item in client.get(portfolio_url).json()[key]}

    for read in (listed, listed, in_portfolio, in_portfolio):  # stored, then served
        read()
    created = client.post(f"/customer/{OID}/{collection}", json=VALID[collection])
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    assert item_id in listed() and item_id in in_portfolio()

    changes = CHANGES[collection]
    assert client.patch(f"/customer/{OID}/{collection}/{item_id}", json=changes).status_code == 200
    assert listed()[item_id] | changes == listed()[item_id]
    assert in_portfolio()[item_id] | changes == in_portfolio()[item_id]

    assert client.delete(f"/customer/{OID}/{collection}/{item_id}").status_code == 204
    assert item_id not in listed() and item_id not in in_portfolio()


def test_register_and_delete_show_in_the_customer_list(client: TestClient) -> None:
    client.get("/customers")
    client.get("/customers")
    client.post("/register-customer", json={"customer_oid": NEW_OID, "name": "Listed Later"})
    assert NEW_OID in [c["customer_oid"] for c in client.get("/customers").json()]
    assert client.delete(f"/customer/{NEW_OID}").status_code == 200
    assert NEW_OID not in [c["customer_oid"] for c in client.get("/customers").json()]


def test_a_renaming_import_shows_in_the_list_and_the_portfolio(client: TestClient) -> None:
    document = client.get(f"/user-portfolio/{OID}").json()
    client.get("/customers")
    document["user"]["name"] = "Renamed By Import"
    assert client.put(f"/user-portfolio/{OID}", json=document).status_code == 200
    names = {c["customer_oid"]: c["name"] for c in client.get("/customers").json()}
    assert names[OID] == "Renamed By Import"
    assert client.get(f"/user-portfolio/{OID}").json()["user"]["name"] == "Renamed By Import"


def test_a_customer_deleted_and_made_again_is_not_served_from_before(client: TestClient) -> None:
    url = f"/user-portfolio/{OID}"
    old = client.get(url).json()
    client.get(url)
    assert client.delete(f"/customer/{OID}").status_code == 200
    assert client.get(url).status_code == 404
    registered = client.post(
        "/register-customer", json={"customer_oid": OID, "name": old["user"]["name"]}
    )
    assert registered.status_code == 200
    again = client.get(url).json()
    assert again["assets"] == [] and again["portfolio_summary"]["total_assets"] == 0


def test_writes_made_by_hand_in_sql_show_on_the_next_read(
    client: TestClient, engine: Engine
) -> None:
    url = f"/user-portfolio/{OID}"
    account = client.get(url).json()["bank_accounts"][0]
    writes = [
        "UPDATE bank_accounts SET balance = 123 WHERE id = :id",
        # An institution's name shows in every portfolio with an account there.
        "UPDATE institutions SET name = 'Renamed' WHERE id = :institution_id",
        "UPDATE users SET name = 'Renamed By Hand' WHERE customer_oid = :customer_oid",
    ]
    for statement in writes:
        before = client.get(url).json()
        client.get(url)  # served from memory
        with engine.begin() as connection:
            connection.execute(text(statement), account)
        assert client.get(url).json() != before, statement
    after = client.get(url).json()
    assert after["bank_accounts"][0]["balance"] == 1.23
    assert after["bank_accounts"][0]["institution"]["name"] == "Renamed"
    assert after["user"]["name"] == "Renamed By Hand"


def test_the_version_changes_with_every_kind_of_write(engine: Engine) -> None:
    def version() -> int:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT version FROM customer_versions WHERE customer_oid = :oid"),
                    {"oid": OID},
                ).scalar_one()
            )

    statements = [
        "INSERT INTO spending (customer_oid, category, amount, currency, month) "
        "VALUES (:oid, 'Fees', 100, 'USD', '2099-01')",
        "UPDATE spending SET amount = 200 WHERE customer_oid = :oid AND month = '2099-01'",
        "DELETE FROM spending WHERE customer_oid = :oid AND month = '2099-01'",
        "UPDATE users SET name = 'Someone Else' WHERE customer_oid = :oid",
    ]
    for statement in statements:
        seen = version()
        with engine.begin() as connection:
            connection.execute(text(statement), {"oid": OID})
        assert version() != seen, statement


def test_a_write_to_one_customer_never_waits_on_another_customers_writer(
    client: TestClient, engine: Engine, backend: str
) -> None:
    """Writers of different customers share no row: a registration goes through while another
    customer's rename is still uncommitted (on SQLite every write takes the one write lock, so
    there is nothing to show)."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time by design")
    new = {"customer_oid": NEW_OID, "name": "Not Kept Waiting"}
    with engine.connect() as holder, ThreadPoolExecutor(1) as pool:
        holder.execute(
            text("UPDATE users SET name = 'Held' WHERE customer_oid = :oid"), {"oid": OID}
        )
        registering = pool.submit(client.post, "/register-customer", json=new)
        try:
            registered = registering.result(timeout=5)
        except TimeoutError:
            pytest.fail("the registration waited on another customer's uncommitted write")
        finally:
            holder.rollback()
    assert registered.status_code == 200, registered.text


@pytest.fixture
def uncached_client(app_client: Callable[..., TestClient]) -> TestClient:
    return app_client(RESPONSE_CACHE_MB=0)


@pytest.fixture
def uncached_counter(uncached_client: TestClient) -> Iterator[StatementCounter]:
    counter = StatementCounter(app_database(uncached_client))
    yield counter
    counter.close()


def test_a_zero_size_store_reads_every_answer_afresh(
    uncached_client: TestClient, uncached_counter: StatementCounter
) -> None:
    counter = uncached_counter
    first = counter.during(uncached_client, f"/user-portfolio/{OID}")
    second = counter.during(uncached_client, f"/user-portfolio/{OID}")
    assert first[0] > 0 and second[0] > 0
    assert first[1] == second[1]


@on_sqlite_only  # the store is in memory, the same on every engine
@pytest.mark.parametrize("query_bytes", [0, 200, 60_000])
def test_the_store_holds_no_more_memory_than_its_limit(
    app_client: Callable[..., TestClient], query_bytes: int
) -> None:
    """What the store counts covers what its entries really take: keys (a long junk query
    string included), bodies and the objects around them, measured by tracemalloc."""
    limit = 4 * 2**20
    cache = ResponseCache(app_database(app_client()), max_bytes=limit)
    entries = 3 * limit // (1000 + query_bytes)  # three times what fits
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(entries):
            # Made here, so that the store holds the only references, as after a request.
            query = f"n={n}&junk={'x' * query_bytes}".encode()
            scope = {"path": f"/customer/{OID}/assets", "query_string": query}
            cache.keep(scope, Answer(b"[]"), OID, version=n)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.bytes_held <= limit
    assert held <= limit * 1.05, f"{held / 2**20:.1f} MiB held for a {limit / 2**20:.0f} MiB store"


@on_sqlite_only  # the store is in memory, the same on every engine
def test_kept_answers_are_left_out_of_the_collectors_passes(
    app_client: Callable[..., TestClient],
) -> None:
    """A full store must not make every full garbage collection walk it: its entries are plain
    tuples of plain values, which the collector stops tracking after one pass."""
    cache = ResponseCache(app_database(app_client()), max_bytes=2**20)
    for n in range(100):
        scope = {"path": f"/customer/{OID}/assets", "query_string": f"n={n}".encode()}
        cache.keep(scope, Answer(b"[]", f"cursor={n}"), OID, version=n)
    gc.collect()
    entries = list(cache._store.values()) if cache._store is not None else []
    assert len(entries) == 100
    assert not any(gc.is_tracked(entry) for entry in entries)
