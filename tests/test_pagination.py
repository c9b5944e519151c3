"""Keyset pagination behind a Link header, and the transaction filters."""

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.fixtures import SAMPLE_OIDS, on_sqlite_only

OWNER = SAMPLE_OIDS[0]
LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def next_url(response: Any) -> str | None:
    link = response.headers.get("link")
    if link is None:
        return None
    match = LINK.match(link)
    assert match, link
    return match["url"]


def walk(client: TestClient, url: str, between_pages: Any = None) -> list[dict[str, Any]]:
    """Every item of every page, following Link headers; calls between_pages after each page."""
    items: list[dict[str, Any]] = []
    next_page: str | None = url
    while next_page is not None:
        response = client.get(next_page)
        assert response.status_code == 200, response.text
        items += response.json()
        next_page = next_url(response)
        if between_pages is not None:
            between_pages()
    return items


def register(client: TestClient, count: int) -> list[str]:
    oids = [str(uuid.uuid4()) for _ in range(count)]
    for n, oid in enumerate(oids):
        client.post("/register-customer", json={"name": f"Customer {n}", "customer_oid": oid})
    return oids


def add_transaction(
    client: TestClient, day: str, category: str = "misc", kind: str = "payment"
) -> None:
    response = client.post(
        f"/customer/{OWNER}/transactions",
        json={"date": day, "amount": -1, "description": "t", "category": category, "type": kind},
    )
    assert response.status_code == 201


def test_one_page_has_no_link(client: TestClient) -> None:
    response = client.get("/customers")
    assert "link" not in response.headers
    assert len(response.json()) == 5


def test_customers_default_to_pages_of_100(client: TestClient) -> None:
    register(client, 100)
    first = client.get("/customers")
    assert len(first.json()) == 100
    second = client.get(next_url(first) or "")
    assert len(second.json()) == 5 and next_url(second) is None


def test_small_pages_cover_every_customer_once_in_order(client: TestClient) -> None:
    register(client, 10)
    everyone = client.get("/customers?limit=1000").json()
    walked = walk(client, "/customers?limit=3")
    assert walked == everyone
    assert [c["customer_oid"] for c in walked] == sorted(c["customer_oid"] for c in walked)


def test_walk_while_customers_are_added_sees_each_existing_one_once(client: TestClient) -> None:
    register(client, 25)
    existing = {c["customer_oid"] for c in client.get("/customers?limit=1000").json()}
    walked = walk(client, "/customers?limit=4", between_pages=lambda: register(client, 3))
    oids = [c["customer_oid"] for c in walked]
    assert len(oids) == len(set(oids)), "a customer was seen twice"
    assert existing <= set(oids)


def test_walk_while_transactions_are_added_sees_each_existing_one_once(client: TestClient) -> None:
    start = dt.date(2026, 1, 1)
    for n in range(30):
        add_transaction(client, (start + dt.timedelta(days=n // 3)).isoformat())
    # January only: the history's other months would only make the walk longer.
    january = f"/customer/{OWNER}/transactions?from=2026-01-01&to=2026-01-31"
    existing = {t["id"] for t in client.get(f"{january}&limit=1000").json()}
    days = iter(range(1000))

    def add_more() -> None:
        add_transaction(client, (start + dt.timedelta(days=next(days) % 20)).isoformat())

    walked = walk(client, f"{january}&limit=4", between_pages=add_more)
    ids = [t["id"] for t in walked]
    assert len(ids) == len(set(ids)), "a transaction was seen twice"
    assert existing <= set(ids)
    keys = [(t["date"], t["id"]) for t in walked]
    assert keys == sorted(keys, reverse=True), "not newest first"


@pytest.mark.parametrize(
    "collection", ["assets", "bank-accounts", "transactions", "spending", "derivative-transactions"]
)
def test_every_collection_pages(client: TestClient, collection: str) -> None:
    oid = SAMPLE_OIDS[1]
    everything = client.get(f"/customer/{oid}/{collection}?limit=1000").json()
    assert len(everything) >= 2
    # Pages of one item; of seven through a year of transactions (pages still end mid-day).
    limit = 1 if len(everything) < 100 else 7
    assert walk(client, f"/customer/{oid}/{collection}?limit={limit}") == everything


@on_sqlite_only
@pytest.mark.parametrize("limit", ["0", "1001", "-5", "ten"])
def test_bad_limit_is_400(client: TestClient, limit: str) -> None:
    response = client.get(f"/customers?limit={limit}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("limit: ")


LISTS = ["/customers"] + [
    f"/customer/{SAMPLE_OIDS[1]}/{name}"
    for name in ("assets", "bank-accounts", "transactions", "spending", "derivative-transactions")
]


@pytest.mark.parametrize("path", LISTS)
def test_every_cursor_given_has_the_form_the_openapi_document_states(
    client: TestClient, path: str
) -> None:
    template = path.replace(SAMPLE_OIDS[1], "{customer_oid}")
    operation = client.get("/openapi.json").json()["paths"][template]["get"]
    schema = next(p["schema"] for p in operation["parameters"] if p["name"] == "cursor")
    pattern = re.compile(schema["anyOf"][0]["pattern"])
    cursors = []
    url: str | None = f"{path}?limit={7 if path.endswith('/transactions') else 1}"
    while url is not None:
        url = next_url(client.get(url))
        if url is not None:
            cursors.append(url.split("cursor=")[1])
    assert cursors
    assert all(pattern.fullmatch(cursor) for cursor in cursors), cursors


@pytest.mark.parametrize(
    "cursor, items",
    [
        ("9999-12-31.999999999999999999", 100),  # before every transaction: a full page
        ("2000-01-01.1", 0),  # before none
        ("2024-02-29.5", 0),  # a leap day is a date
    ],
)
def test_any_cursor_of_the_right_form_is_a_position(
    client: TestClient, cursor: str, items: int
) -> None:
    response = client.get(f"/customer/{SAMPLE_OIDS[1]}/transactions?cursor={cursor}")
    assert response.status_code == 200
    assert len(response.json()) == items


@on_sqlite_only
@pytest.mark.parametrize(
    "cursor", ["garbage", "eyJ9", "2026-02-30.1", "2023-02-29.1", "2026-01-01", "2026-01-01.0"]
)
def test_bad_cursor_is_400(client: TestClient, cursor: str) -> None:
    response = client.get(f"/customer/{OWNER}/transactions?cursor={cursor}")
    assert response.status_code == 400
    assert response.json()["detail"].startswith("cursor: Invalid cursor")


def test_cursor_of_another_list_is_400(client: TestClient) -> None:
    register(client, 3)
    cursor_url = next_url(client.get("/customers?limit=2"))
    assert cursor_url is not None
    cursor = cursor_url.split("cursor=")[1]
    response = client.get(f"/customer/{OWNER}/assets?cursor={cursor}")
    assert response.status_code == 400


# --- Transaction filters --------------------------------------------------------------------


def transactions(client: TestClient, query: str) -> list[dict[str, Any]]:
    response = client.get(f"/customer/{OWNER}/transactions?{query}")
    assert response.status_code == 200, response.text
    result: list[dict[str, Any]] = response.json()
    return result


def test_date_range_is_inclusive(client: TestClient) -> None:
    every = transactions(client, "limit=1000")
    dates = sorted({t["date"] for t in every})
    start, end = dates[-40], dates[-10]
    found = transactions(client, f"from={start}&to={end}&limit=1000")
    assert found == [t for t in every if start <= t["date"] <= end]
    assert found[0]["date"] == end and found[-1]["date"] == start


def test_open_ended_ranges(client: TestClient) -> None:
    every = transactions(client, "limit=1000")
    day = sorted({t["date"] for t in every})[-15]
    later = transactions(client, f"from={day}&limit=1000")
    assert later == [t for t in every if t["date"] >= day] and later
    earlier = transactions(client, f"to={day}&limit=1000")
    assert earlier == [t for t in every if t["date"] <= day] and earlier


def test_type_and_category_filters_combine(client: TestClient) -> None:
    assert {t["type"] for t in transactions(client, "type=deposit")} == {"deposit"}
    assert {t["category"] for t in transactions(client, "category=housing")} == {"housing"}
    every = transactions(client, "limit=1000")
    both = transactions(client, "type=payment&category=housing&from=2026-10-01")
    expected = [
        t
        for t in every
        if t["type"] == "payment" and t["category"] == "housing" and t["date"] >= "2026-10-01"
    ]
    assert both == expected and [t["date"] for t in both] == ["2026-11-01", "2026-10-01"]


def test_filters_survive_into_the_next_page(client: TestClient) -> None:
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        add_transaction(client, day, category="coffee")
    walked = walk(client, f"/customer/{OWNER}/transactions?category=coffee&limit=1")
    assert [t["date"] for t in walked] == ["2026-11-03", "2026-11-02", "2026-11-01"]


@on_sqlite_only
@pytest.mark.parametrize(
    "query", ["from=2026-02-30", "to=yesterday", "from=20260101", "from=1767225600", "type=gift"]
)
def test_bad_filters_are_400(client: TestClient, query: str) -> None:
    response = client.get(f"/customer/{OWNER}/transactions?{query}")
    assert response.status_code == 400
    assert response.json()["detail"].split(":")[0] in {"from", "to", "type"}


def test_reversed_range_lists_nothing(client: TestClient) -> None:
    assert client.get(f"/customer/{OWNER}/transactions?from=2026-10-01").json()
    response = client.get(f"/customer/{OWNER}/transactions?from=2026-10-31&to=2026-10-01")
    assert (response.status_code, response.json()) == (200, [])
