"""The read lane answers what FastAPI would, byte for byte, and leaves the rest to FastAPI."""

from collections.abc import Iterator

import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient

from main import create_app
from read_lane import ReadLaneMiddleware, in_read_lane, lane_routes
from routers.params import CustomerOIDPath
from settings import Settings
from tests.fixtures import NEW_OID, SAMPLE_OIDS, app_engine

OID = SAMPLE_OIDS[1]  # Michael Chen: every collection has rows
LISTS = ["assets", "bank-accounts", "transactions", "spending", "derivative-transactions"]
# Requests the lane answers: a valid customer and query, found or not.
ANSWERED = [
    f"/user-portfolio/{OID}",
    f"/user-portfolio/{OID.upper()}",
    f"/user-portfolio/{OID.replace('-', '')}",
    f"/user-portfolio/{OID}?anything=else",  # the route takes no query: ignored
    f"/user-portfolio/{NEW_OID}",  # 404
    "/user-portfolio/LEGACY-0001",  # a legacy ID: 404
    *(f"/customer/{OID}/{name}" for name in LISTS),
    *(f"/customer/{OID}/{name}?limit=1" for name in LISTS),
    f"/customer/{NEW_OID}/assets",  # 404
    f"/customer/{OID}/transactions?type=withdrawal&limit=2",
    f"/customer/{OID}/transactions?from=2024-01-01&to=2024-12-31",
    f"/customer/{OID}/transactions?category=Food%20%26%20Dining",
    f"/customer/{OID}/transactions?limit=2&cursor=2024-10-01.3",
    f"/customer/{OID}/spending?limit=%201",  # int parsing strips blanks, as FastAPI's does
]
# Requests FastAPI answers itself: invalid, repeated or unknown parameters, other routes.
PASSED_ON = [
    "/user-portfolio/not-an-oid",
    "/user-portfolio/a%00b",
    f"/user-portfolio/{OID}/",
    f"/customer/{OID}/assets?limit=0",
    f"/customer/{OID}/assets?limit=abc",
    f"/customer/{OID}/assets?limit=",
    f"/customer/{OID}/assets?limit=1&limit=2",
    f"/customer/{OID}/assets?cursor=not-a-cursor",
    f"/customer/{OID}/assets?unknown=1",
    f"/customer/{OID}/transactions?start=2024-01-01",  # the field's name, not its alias
    f"/customer/{OID}/transactions?from=2024-13-01",
    f"/customer/{OID}/transactions?type=bogus",
    f"/customer/{OID}/assets/1",
    f"/customer/{OID}",
    "/customers",
    "/health",
]


@pytest.fixture
def without_lane(client: TestClient) -> Iterator[TestClient]:
    """The same app on the same data, but every request routed by FastAPI."""
    url = app_engine(client).url.render_as_string(hide_password=False)
    app = create_app(Settings(DATABASE_URL=url))
    lane: object = ReadLaneMiddleware
    app.user_middleware = [m for m in app.user_middleware if m.cls is not lane]
    with TestClient(app) as other:
        yield other


@pytest.fixture
def lane_answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The requests the lane answers (path and query string), as it answers them."""
    answered: list[str] = []
    answer = ReadLaneMiddleware._answer

    async def recorded(route, arguments, scope, receive, send):  # type: ignore[no-untyped-def]
        answered.append(f"{scope['path']}?{scope['query_string'].decode('latin-1')}")
        await answer(route, arguments, scope, receive, send)

    monkeypatch.setattr(ReadLaneMiddleware, "_answer", staticmethod(recorded))
    return answered


def _same_answer(lane: TestClient, routed: TestClient, url: str) -> None:
    mine, theirs = lane.get(url, follow_redirects=False), routed.get(url, follow_redirects=False)
    assert (mine.status_code, mine.content) == (theirs.status_code, theirs.content), url
    ignored = {"x-request-id"}
    assert {k: v for k, v in mine.headers.items() if k not in ignored} == {
        k: v for k, v in theirs.headers.items() if k not in ignored
    }, url


def test_lane_answers_valid_reads_as_fastapi_would(
    client: TestClient, without_lane: TestClient, lane_answers: list[str]
) -> None:
    for url in ANSWERED:
        _same_answer(client, without_lane, url)
    assert len(lane_answers) == len(ANSWERED)
    statuses = {client.get(url).status_code for url in ANSWERED}
    assert statuses == {200, 404}


def test_lane_passes_the_rest_to_fastapi(
    client: TestClient, without_lane: TestClient, lane_answers: list[str]
) -> None:
    for url in PASSED_ON:
        _same_answer(client, without_lane, url)
    assert lane_answers == []
    statuses = {client.get(url, follow_redirects=False).status_code for url in PASSED_ON}
    assert statuses >= {200, 307, 400, 404}


def test_lane_answers_a_next_page_link_as_fastapi_would(
    client: TestClient, without_lane: TestClient, lane_answers: list[str]
) -> None:
    first = client.get(f"/customer/{OID}/transactions?limit=2")
    next_url = first.links["next"]["url"]
    assert next_url.startswith("http://testserver/customer/")
    _same_answer(client, without_lane, next_url)
    assert len(lane_answers) == 2  # the first page and the next one


def test_lane_leaves_other_methods_to_fastapi(
    client: TestClient, without_lane: TestClient, lane_answers: list[str]
) -> None:
    url = f"/user-portfolio/{OID}"
    for method in ("HEAD", "POST", "OPTIONS"):
        mine, theirs = client.request(method, url), without_lane.request(method, url)
        assert (mine.status_code, mine.content) == (theirs.status_code, theirs.content)
        assert mine.status_code == 405
    assert lane_answers == []


def test_a_marked_route_with_a_dependency_cannot_be_in_the_lane() -> None:
    """The lane would skip the dependency (an access check, say): the app refuses to start."""

    def deny() -> None:
        raise HTTPException(403, "no")

    router = APIRouter()

    @router.get("/guarded/{customer_oid}")
    @in_read_lane
    async def guarded(customer_oid: CustomerOIDPath, request: Request) -> Response:
        return Response("secret")

    app = FastAPI()
    app.include_router(router, dependencies=[Depends(deny)])
    with pytest.raises(ValueError, match="/guarded/"):
        lane_routes(app.router.routes)
    unguarded = FastAPI()
    unguarded.include_router(router)
    assert [route.endpoint for route in lane_routes(unguarded.router.routes)] == [guarded]
