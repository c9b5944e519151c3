"""The read lane: GETs of a customer's portfolio and list pages, answered past FastAPI's routing.

A first read is most of what a load test or a fleet of agents asks for. FastAPI 0.165 spends
100-250 µs on such a request before the endpoint runs: it matches the path against the routes
one by one and, for a query model, works out each field's type again on every request. That is
as much as the read itself. The lane takes the GET routes marked `@in_read_lane` (endpoints of
a CustomerOID path parameter, at most one query model and the Request) and calls the endpoint
itself when the path and query validate with the types the route declares. Anything else (an
invalid value, a repeated or unknown parameter, another route) goes on to FastAPI, which
answers it as before, errors included. The endpoint is the same function, so the answer is
the same bytes (tests/test_read_lane.py compares the two ways for every marked route).
"""

import inspect
import re
import weakref
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, cast, get_args, get_origin
from urllib.parse import parse_qsl

from fastapi import Request, Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from errors import BankError
from fields import CustomerOID

Endpoint = Callable[..., Awaitable[Response]]

# Weakly: each app a process makes (tests make many) has endpoints of its own.
_MARKED: weakref.WeakSet[Endpoint] = weakref.WeakSet()
_CUSTOMER_OID: TypeAdapter[str] = TypeAdapter(CustomerOID)


def in_read_lane(endpoint: Endpoint) -> Endpoint:
    """Mark a GET endpoint for the lane: its parameters are `customer_oid`, `request` and at most
    one query model (`Annotated[Model, Query()]`)."""
    _MARKED.add(endpoint)
    return endpoint


@dataclass(frozen=True)
class LaneRoute:
    """One marked route: its path, its endpoint, and its query model by parameter name."""

    path: re.Pattern[str]
    endpoint: Endpoint
    query: tuple[str, type[BaseModel]] | None

    def arguments(self, customer_oid: str, query_string: bytes) -> dict[str, Any] | None:
        """The endpoint's arguments, validated as FastAPI would; None where FastAPI must judge."""
        try:
            oid = _CUSTOMER_OID.validate_python(customer_oid)
            arguments: dict[str, Any] = {"customer_oid": oid}
            if self.query is None:
                return arguments  # the route takes no query: FastAPI ignores any
            name, model = self.query
            # Decoded as Starlette decodes it (Request.query_params).
            pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
            values = dict(pairs)
            if len(values) < len(pairs) or not values.keys() <= _aliases(model):
                return None
            arguments[name] = model.model_validate(values)
            return arguments
        except ValidationError:
            return None


@cache
def _aliases(model: type[BaseModel]) -> frozenset[str]:
    """The query parameters the model takes, by the names a client sends."""
    return frozenset(field.alias or name for name, field in model.model_fields.items())


def _query_parameter(endpoint: Endpoint) -> tuple[str, type[BaseModel]] | None:
    """The endpoint's query model parameter, read from its signature as FastAPI reads it."""
    for parameter in inspect.signature(endpoint).parameters.values():
        annotation = parameter.annotation
        if get_origin(annotation) is Annotated:
            model = get_args(annotation)[0]
            if isinstance(model, type) and issubclass(model, BaseModel):
                return parameter.name, model
    return None


def lane_routes(routes: Iterable[Any]) -> list[LaneRoute]:
    """The app's marked GET routes, in the app's order. ValueError for a marked route the lane
    would answer otherwise than FastAPI: one with a dependency of its own or its router's (an
    access check the lane would skip), or another parameter (which it would not pass)."""
    found = []
    for route in iter_route_contexts(list(routes)):
        endpoint, path = route.endpoint, route.path
        if endpoint in _MARKED and path is not None and "GET" in (route.methods or ()):
            marked = cast(Endpoint, endpoint)
            query = _query_parameter(marked)
            takes = {"customer_oid", "request"} | ({query[0]} if query else set())
            extra = set(inspect.signature(marked).parameters) - takes
            if route.dependant.dependencies or extra:
                raise ValueError(
                    f"{path} cannot be in the read lane: it has dependencies or parameters "
                    f"besides customer_oid, request and one query model ({sorted(extra)})"
                )
            found.append(LaneRoute(compile_path(path)[0], marked, query))
    return found


class ReadLaneMiddleware:
    """Call a marked GET route's endpoint directly when its arguments validate (see above). The
    routes are the app's `state.read_lane`, found once when the app is made (`lane_routes`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A root path (uvicorn --root-path) changes how routes match: FastAPI's to handle.
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        routes: list[LaneRoute] = scope["app"].state.read_lane
        for route in routes:
            match = route.path.match(scope["path"])
            if match is not None:
                arguments = route.arguments(match["customer_oid"], scope["query_string"])
                if arguments is not None:
                    await self._answer(route, arguments, scope, receive, send)
                    return
                break
        await self.app(scope, receive, send)

    @staticmethod
    async def _answer(
        route: LaneRoute, arguments: dict[str, Any], scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            response = await route.endpoint(request=Request(scope, receive), **arguments)
        except BankError as error:  # as the app's handler answers it: 404, 503 ...
            response = error.response()
        await response(scope, receive, send)
