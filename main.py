"""The Dummy Bank API: the app factory, its lifespan, middleware stack and error handlers.

Routes live in routers/, one module per area; the domain they call is the bank package.
"""

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from limits import parse_many
from mcp.server.transport_security import TransportSecuritySettings
from starlette.exceptions import HTTPException as StarletteHTTPException

from bank.faults import FaultInjector, load_profile
from constants import API_DESCRIPTION, API_TITLE, API_VERSION, METHOD_NOT_ALLOWED
from db import Database, create_db_engine, migrate
from dispatcher import WebhookDispatcher
from errors import BankError, describe_validation_errors
from fault_injection import FaultMiddleware
from idempotency import IdempotencyMiddleware
from mcp_server import build_mcp_server
from middleware import (
    AccessMiddleware,
    BodyLimitMiddleware,
    InternalErrorMiddleware,
    RequestLogMiddleware,
    TrustedHostMiddleware,
    allowed_methods,
)
from openapi import finish_openapi
from rate_limit import RateLimitMiddleware
from read_lane import ReadLaneMiddleware, lane_routes
from response_cache import ResponseCache, ResponseCacheMiddleware
from routers import (
    collections,
    customers,
    feed,
    health,
    institutions,
    ledger,
    market,
    performance,
    portfolio,
    sandbox,
    webhooks,
)
from seed import seed_if_empty
from server import BankHttpProtocol
from settings import Settings, get_settings

# --- Errors ---------------------------------------------------------------------------------


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # The first part of each location says where the value was (body, path, query).
    errors = [{**error, "loc": tuple(error["loc"][1:])} for error in exc.errors()]
    return JSONResponse({"detail": describe_validation_errors(errors)}, status_code=400)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 for an unknown path, 405); a 405 lists every method the
    path has. Starlette names only those of the first route whose path matched."""
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code != 405:
        return await http_exception_handler(request, exc)
    allowed = ", ".join(sorted(allowed_methods(request.scope)))
    detail = METHOD_NOT_ALLOWED.format(method=request.method, allowed=allowed)
    return JSONResponse({"detail": detail}, status_code=405, headers={"Allow": allowed})


async def bank_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BankError)
    return exc.response()


# --- App ------------------------------------------------------------------------------------


def mcp_transport_security(allowed_hosts: list[str]) -> TransportSecuritySettings:
    """The MCP SDK's DNS rebinding protection, from the same names as every other route: its
    Host check, and its check of a browser's Origin. Independent of the address bound (HOST)."""
    if "*" in allowed_hosts:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(
        allowed_hosts=[pattern for host in allowed_hosts for pattern in (host, f"{host}:*")],
        allowed_origins=[
            f"{scheme}://{host}{port}"
            for host in allowed_hosts
            for scheme in ("http", "https")
            for port in ("", ":*")
        ],
    )


def freeze_what_lives_on() -> None:
    """Leave the objects made at start out of the garbage collector's full passes.

    Modules, routes, schemas and the MCP server live as long as the process. Reads that
    allocate much (PostgreSQL's driver) start a full pass every few seconds, and each scanned
    them all, holding every request for 120 ms: p99 at 10x p50 (README, Benchmark). Once per
    process: an app made later in the same one (tests make many) stays collectable.
    """
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(
        level=settings.LOG_LEVEL.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )

    # The fault profile (bank/faults.py) that the fault middleware and the MCP tools share.
    faults = FaultInjector()
    if settings.SANDBOX_FAULT_PROFILE is not None:
        faults.set(load_profile(settings.SANDBOX_FAULT_PROFILE))
    mcp = build_mcp_server(
        lambda: app.state.database, read_only=settings.BANK_READ_ONLY, faults=faults
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings)
        migrate(engine)
        seed_if_empty(engine, start=settings.SANDBOX_START_DATE)
        app.state.engine = engine
        app.state.database = Database(
            engine,
            write_queue_timeout=settings.WRITE_QUEUE_TIMEOUT_SECONDS,
            read_connections=settings.DB_POOL_SIZE,
        )
        await app.state.database.open()
        app.state.response_cache = ResponseCache(
            app.state.database, max_bytes=settings.RESPONSE_CACHE_MB * 2**20
        )
        # Sends the webhooks' deliveries in the background (dispatcher.py).
        dispatcher = WebhookDispatcher(app.state.database, settings)
        try:
            await dispatcher.start()
            freeze_what_lives_on()
            async with mcp.session_manager.run():
                yield
        finally:
            await dispatcher.stop()
            await app.state.database.aclose()

    app = FastAPIOffline(
        title=API_TITLE, version=API_VERSION, description=API_DESCRIPTION, lifespan=lifespan
    )
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(BankError, bank_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.state.faults = faults
    # Innermost first: answers from the lane and the cache still pass the error and CORS
    # middleware.
    app.add_middleware(ReadLaneMiddleware)
    app.add_middleware(ResponseCacheMiddleware)
    # Inside the body limit (it reads the body whole), outside what the write runs through.
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.MAX_BODY_BYTES)
    app.add_middleware(InternalErrorMiddleware)
    # Outside the idempotency keys: an ack-lost write keeps its real answer under its key, and
    # a fault struck before the operation leaves the key unused.
    app.add_middleware(FaultMiddleware, injector=faults)
    if settings.RATE_LIMIT is not None:
        # Inside the access check: what is counted is a caller's admitted requests.
        app.add_middleware(
            RateLimitMiddleware,
            limits=parse_many(settings.RATE_LIMIT),
            by_key=settings.BANK_API_KEY is not None,
        )
    if settings.BANK_API_KEY is not None or settings.BANK_READ_ONLY:
        # Outside the cache (no cached answer without the key) and the body limit (no 413
        # to a stranger); inside CORS, so browsers can read a 401 and preflights pass.
        api_key = settings.BANK_API_KEY
        app.add_middleware(
            AccessMiddleware,
            api_key=None if api_key is None else api_key.get_secret_value(),
            read_only=settings.BANK_READ_ONLY,
        )
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_credentials="*" not in settings.CORS_ORIGINS,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=[
            "Link",
            "Location",
            "X-Request-ID",
            "Retry-After",
            "RateLimit",
            "RateLimit-Policy",
            "Idempotent-Replayed",
        ],  # fmt: skip
    )
    # Before CORS and access: a request for another site's name is refused whatever it asks.
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(RequestLogMiddleware)  # outermost: it times and logs everything
    # The feed before the collections: /transactions/sync is not an item of them.
    areas = (
        customers, portfolio, performance, institutions, feed, collections, ledger, market,
        sandbox, webhooks, health,
    )  # fmt: skip
    for area in areas:
        app.include_router(area.router)
    # Streamable HTTP at /mcp, on the app's own port. Stateless with JSON answers: any worker
    # can serve any request, and the tools need no server-to-client streaming. Its route joins
    # ours (not a mount at /, which would answer every unknown path itself).
    mcp_http = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=True,
        json_response=True,
        transport_security=mcp_transport_security(settings.allowed_hosts),
    )
    app.router.routes.extend(mcp_http.routes)
    # Found now, so that a route marked for the lane that cannot be in it stops the start.
    app.state.read_lane = lane_routes(app.router.routes)
    finish_openapi(app, settings)
    return app


app = create_app()

if __name__ == "__main__":
    settings = get_settings()
    # Access lines come from RequestLogMiddleware, with the request id and duration. The
    # protocol limits request headers and tells requests when their client has gone (server.py).
    uvicorn.run(
        app,
        host=settings.HOST,
        port=settings.PORT,
        http=BankHttpProtocol,
        log_level=settings.LOG_LEVEL,
        access_log=False,
        timeout_graceful_shutdown=settings.SHUTDOWN_TIMEOUT_SECONDS,
    )
