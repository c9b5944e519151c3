"""The Dummy Bank API: FastAPI app, lifespan and thin HTTP routes over the bank domain."""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import Enum
from typing import Annotated, Any

import uvicorn
from fastapi import FastAPI, Path, Query, Request, Response
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

import bank
from answers import CUSTOMER_LIST_VERSION, Answers, AnswersMiddleware, answer, customer_version
from db import Database, DatabaseDep, create_db_engine, migrate
from errors import (
    BankError,
    CustomerAlreadyExists,
    CustomerNotFound,
    InstitutionNotFound,
    InvalidInput,
    ItemNotFound,
    describe_validation_errors,
)
from mcp_server import build_mcp_server
from middleware import (
    WRITE_METHODS,
    AccessMiddleware,
    BodyLimitMiddleware,
    InternalErrorMiddleware,
    RequestLogMiddleware,
    allowed_methods,
)
from models import (
    MAX_ID,
    CustomerCreate,
    CustomerDeleted,
    CustomerExistence,
    CustomerMissing,
    CustomerOID,
    CustomerPageQuery,
    CustomerRegistered,
    ErrorResponse,
    Health,
    InstitutionPublic,
    Portfolio,
    PortfolioImport,
    TransactionPublic,
    TransactionQuery,
    UserPublic,
)
from seed import seed_if_empty
from settings import SERVICE_NAME, Settings, get_settings

logger = logging.getLogger("bank")

STATUS_BY_ERROR: dict[type[BankError], int] = {
    InvalidInput: 400,
    CustomerNotFound: 404,
    ItemNotFound: 404,
    InstitutionNotFound: 404,
    CustomerAlreadyExists: 409,
}
ERROR_DESCRIPTIONS = {
    400: "Invalid input: a malformed CustomerOID, a missing or invalid field, or malformed JSON",
    404: "No customer with this CustomerOID (or, for an item, no such item of that customer; "
    "for a bank account, no institution with its institution_id)",
    409: "A customer with this CustomerOID already exists",
    401: "BANK_API_KEY is set, and the request has no X-API-Key or Bearer token, or a wrong one",
    403: "The server is read-only (BANK_READ_ONLY=1): nothing was changed",
    413: "The request body is larger than MAX_BODY_BYTES",
    500: "Unexpected server error; the details are logged on the server only",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for an operation's error statuses, and 500, all with ErrorResponse."""
    return {
        code: {"model": ErrorResponse, "description": ERROR_DESCRIPTIONS[code]}
        for code in (*codes, 500)
    }


CustomerOIDPath = Annotated[CustomerOID, Path(description="The customer's CustomerOID")]
ItemId = Annotated[int, Path(ge=1, le=MAX_ID, description="The item's id")]
CustomerPageParams = Annotated[CustomerPageQuery, Query()]
PAGED: dict[int | str, dict[str, Any]] = {
    200: {
        "headers": {
            "Link": {
                "description": 'The next page, as `<url>; rel="next"`; absent on the last page',
                "schema": {"type": "string"},
            }
        }
    }
}


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
    allowed = sorted(allowed_methods(request.scope))
    detail = f"Method {request.method} is not allowed here; use {', '.join(allowed)}"
    return JSONResponse({"detail": detail}, status_code=405, headers={"Allow": ", ".join(allowed)})


async def bank_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BankError)
    status = next(code for kind, code in STATUS_BY_ERROR.items() if isinstance(exc, kind))
    return JSONResponse({"detail": exc.message}, status_code=status)


def finish_openapi(app: FastAPI, settings: Settings) -> None:
    """Adjust the generated OpenAPI document to what the middleware and handlers answer.

    FastAPI's 422 entries go: this API answers 400 instead. With BANK_API_KEY set, the two ways
    to send the key are declared (Swagger UI's Authorize button uses them), and every operation
    but the health check lists 401. In read-only mode every write lists 403.
    """
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            components = schema.setdefault("components", {})
            for name in ("HTTPValidationError", "ValidationError"):
                components.get("schemas", {}).pop(name, None)
            if settings.BANK_API_KEY is not None:
                components["securitySchemes"] = SECURITY_SCHEMES
                schema["security"] = [{name: []} for name in SECURITY_SCHEMES]
            for path_item in schema["paths"].values():
                for method, operation in path_item.items():
                    responses = operation["responses"]
                    responses.pop("422", None)
                    if operation["operationId"] == "health_check":
                        operation["security"] = []
                    elif settings.BANK_API_KEY is not None:
                        responses["401"] = error_response_schema(401)
                    if settings.BANK_READ_ONLY and method.upper() in WRITE_METHODS:
                        responses["403"] = error_response_schema(403)
            add_links(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# Operations whose answer names a customer that later calls can use.
CUSTOMER_MAKERS = {"register_customer", "import_user_portfolio"}


def add_links(schema: dict[str, Any]) -> None:
    """OpenAPI links: which later calls take the CustomerOID or item id an answer carries.

    A registered or imported customer leads to every operation on that customer (its
    existence, portfolio, collections, deletion); a created item to reading, changing and
    deleting it. Clients and fuzzers such as Schemathesis follow them to chain calls.
    """
    operations = [
        (path, method, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
    ]
    for path, method, operation in operations:
        if operation["operationId"] in CUSTOMER_MAKERS:
            targets = [
                o
                for p, _, o in operations
                if p.endswith("{customer_oid}") or ("{customer_oid}/" in p and "{item_id}" not in p)
            ]
            parameters = {"customer_oid": "$response.body#/customer_oid"}
        elif method == "post" and path.startswith("/customer/{customer_oid}/"):
            targets = [o for p, _, o in operations if p == f"{path}/{{item_id}}"]
            parameters = {
                "customer_oid": "$response.body#/customer_oid",
                "item_id": "$response.body#/id",
            }
        else:
            continue
        links = {
            target["operationId"]: {"operationId": target["operationId"], "parameters": parameters}
            for target in targets
        }
        for status, response in operation["responses"].items():
            if status in {"200", "201"}:
                response["links"] = links


SECURITY_SCHEMES = {
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "HTTPBearer": {"type": "http", "scheme": "bearer"},
}


def error_response_schema(code: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


# --- App ------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logging.basicConfig(
        level=settings.LOG_LEVEL.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )

    mcp = build_mcp_server(lambda: app.state.database, read_only=settings.BANK_READ_ONLY)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_db_engine(settings)
        migrate(engine)
        seed_if_empty(engine)
        app.state.engine = engine
        app.state.database = Database(engine)
        app.state.answers = Answers(
            app.state.database, max_bytes=settings.RESPONSE_CACHE_MB * 2**20
        )
        async with mcp.session_manager.run():
            yield
        app.state.database.close()

    app = FastAPIOffline(
        title="Dummy Bank API",
        version="1.0.0",
        description="A sandbox bank for AI agents and developers: customers, portfolios and "
        'their analysis, keyed by CustomerOID. Every error body is `{"detail": "..."}`.',
        lifespan=lifespan,
    )
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(BankError, bank_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    # Innermost first: answers from memory still pass the error and CORS middleware.
    app.add_middleware(AnswersMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.MAX_BODY_BYTES)
    app.add_middleware(InternalErrorMiddleware)
    if settings.BANK_API_KEY is not None or settings.BANK_READ_ONLY:
        # Outside the answers (no kept answer without the key) and the body limit (no 413
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
        expose_headers=["Link", "Location", "X-Request-ID"],
    )
    app.add_middleware(RequestLogMiddleware)  # outermost: it times and logs everything
    add_routes(app)
    # Streamable HTTP at /mcp, on the app's own port. Stateless with JSON answers: any worker
    # can serve any request, and the tools need no server-to-client streaming. Its route joins
    # ours (not a mount at /, which would answer every unknown path itself).
    mcp_http = mcp.streamable_http_app(
        streamable_http_path="/mcp", stateless_http=True, json_response=True, host=settings.HOST
    )
    app.router.routes.extend(mcp_http.routes)
    finish_openapi(app, settings)
    return app


def add_routes(app: FastAPI) -> None:
    @app.get(
        "/customers",
        operation_id="list_customers",
        summary="List customers",
        tags=["customers"],
        response_model=list[UserPublic],
        responses={**PAGED, **error_responses(400)},
    )
    async def list_customers(page: CustomerPageParams, request: Request) -> Response:
        """Registered customers with their CustomerOID and name, by CustomerOID, page by page."""
        return await answer(
            request, CUSTOMER_LIST_VERSION, bank.list_customers, list[UserPublic], page=page
        )

    @app.post(
        "/register-customer",
        operation_id="register_customer",
        summary="Register a customer",
        tags=["customers"],
        responses=error_responses(400, 409, 413),
    )
    async def register_customer(customer: CustomerCreate, db: DatabaseDep) -> CustomerRegistered:
        """Create a customer; a UUID4 CustomerOID is generated when none is given."""
        return await db.run(bank.register_customer, write=True, customer=customer)

    @app.delete(
        "/customer/{customer_oid}",
        operation_id="delete_customer",
        summary="Delete a customer and all their data",
        tags=["customers"],
        responses=error_responses(400, 404),
    )
    async def delete_customer(customer_oid: CustomerOIDPath, db: DatabaseDep) -> CustomerDeleted:
        """Permanently delete the customer and every asset, account, transaction and position."""
        return await db.run(bank.delete_customer, write=True, customer_oid=customer_oid)

    @app.get(
        "/customer/{customer_oid}/exists",
        operation_id="customer_exists",
        summary="Check whether a customer exists",
        tags=["customers"],
        responses={
            404: {
                "model": CustomerMissing,
                "description": "No such customer: the answer says so, with an error's detail",
            },
            **error_responses(400),
        },
    )
    async def customer_exists(customer_oid: CustomerOIDPath, db: DatabaseDep) -> CustomerExistence:
        """Answer whether the CustomerOID is registered, with the name when it is.

        An unknown customer is 404 with `exists: false`, as a deleted resource is gone for
        every path below it.
        """
        existence = await db.run(bank.customer_exists, customer_oid=customer_oid)
        if not existence.exists:
            missing = CustomerMissing(
                detail=CustomerNotFound(customer_oid).message, **existence.model_dump()
            )
            return JSONResponse(missing.model_dump(), status_code=404)  # type: ignore[return-value]
        return existence

    @app.get(
        "/user-portfolio/{customer_oid}",
        operation_id="get_user_portfolio",
        summary="Get a customer's complete portfolio",
        tags=["portfolio"],
        response_model=Portfolio,
        responses=error_responses(400, 404),
    )
    async def get_user_portfolio(customer_oid: CustomerOIDPath, request: Request) -> Response:
        """Assets, accounts, transactions, spending, derivatives and a summary in one document."""
        return await answer(
            request,
            customer_version(customer_oid),
            bank.get_portfolio,
            Portfolio,
            customer_oid=customer_oid,
        )

    @app.put(
        "/user-portfolio/{customer_oid}",
        operation_id="import_user_portfolio",
        summary="Replace a customer's whole portfolio",
        tags=["portfolio"],
        responses={
            201: {"model": Portfolio, "description": "The customer was created"},
            **error_responses(400, 404, 413),
        },
    )
    async def import_user_portfolio(
        customer_oid: CustomerOIDPath,
        portfolio: PortfolioImport,
        response: Response,
        db: DatabaseDep,
    ) -> Portfolio:
        """Store a document shaped like GET's answer as the customer's whole portfolio."""
        stored, created = await db.run(
            bank.import_portfolio, write=True, customer_oid=customer_oid, portfolio=portfolio
        )
        if created:
            response.status_code = 201
        return stored

    @app.get(
        "/institutions",
        operation_id="list_institutions",
        summary="List institutions",
        tags=["institutions"],
        responses=error_responses(),
    )
    async def list_institutions(db: DatabaseDep) -> list[InstitutionPublic]:
        """The banks, brokers and exchanges a bank account can name as its institution_id."""
        return await db.run(bank.list_institutions)

    @app.get(
        "/customer/{customer_oid}/transactions",
        operation_id="list_transactions",
        summary="List a customer's transactions, filtered",
        tags=["transactions"],
        response_model=list[TransactionPublic],
        responses={**PAGED, **error_responses(400, 404)},
    )
    async def list_transactions(
        customer_oid: CustomerOIDPath,
        query: Annotated[TransactionQuery, Query()],
        request: Request,
    ) -> Response:
        """The customer's transactions, newest first (date, then id), within from-to inclusive."""
        return await answer(
            request,
            customer_version(customer_oid),
            bank.list_transactions,
            list[TransactionPublic],
            customer_oid=customer_oid,
            query=query,
        )

    for collection in bank.COLLECTIONS:
        add_collection_routes(app, collection)

    @app.get(
        "/health",
        operation_id="health_check",
        summary="Check the service and its database",
        tags=["system"],
        responses={
            503: {"model": Health, "description": "The database cannot be reached"},
            **error_responses(),
        },
    )
    async def health(db: DatabaseDep, response: Response) -> Health:
        """Healthy when the database answers a query; 503 and unhealthy when it does not."""
        if await db.is_reachable():
            return Health(status="healthy", service=SERVICE_NAME, database="ok")
        response.status_code = 503
        return Health(status="unhealthy", service=SERVICE_NAME, database="unreachable")


def add_collection_routes(app: FastAPI, collection: bank.Collection) -> None:
    """List, create, read, update and delete routes for one per-customer collection."""
    # Route signatures need the collection's own models, so that the schema shows them.
    Create, Update, Public = collection.create, collection.update, collection.public
    items = collection.name.replace("-", "_")
    item = collection.label.lower().replace(" ", "_")
    path = f"/customer/{{customer_oid}}/{collection.name}"
    item_path = f"{path}/{{item_id}}"
    label = collection.label.lower()
    tags: list[str | Enum] = [collection.name]
    PageParams = Annotated[collection.page_query, Query()]  # type: ignore[name-defined]

    if collection is not bank.TRANSACTIONS:  # listed with its filters in add_routes

        @app.get(
            path,
            operation_id=f"list_{items}",
            summary=f"List a customer's {collection.name.replace('-', ' ')}",
            tags=tags,
            response_model=list[Public],  # type: ignore[valid-type]
            responses={**PAGED, **error_responses(400, 404)},
        )
        async def list_items(
            customer_oid: CustomerOIDPath, page: PageParams, request: Request
        ) -> Response:
            return await answer(
                request,
                customer_version(customer_oid),
                bank.list_items,
                list[Public],  # type: ignore[valid-type]
                collection=collection,
                customer_oid=customer_oid,
                page=page,
            )

    @app.post(
        path,
        operation_id=f"create_{item}",
        summary=f"Add a {label}",
        tags=tags,
        status_code=201,
        response_model=Public,
        responses=error_responses(400, 404, 413),
    )
    async def create_item(
        customer_oid: CustomerOIDPath,
        body: Create,  # type: ignore[valid-type]
        response: Response,
        db: DatabaseDep,
    ) -> Any:
        created = await db.run(
            bank.create_item,
            write=True,
            collection=collection,
            customer_oid=customer_oid,
            item=body,
        )
        response.headers["Location"] = f"/customer/{customer_oid}/{collection.name}/{created.id}"
        return created

    @app.get(
        item_path,
        operation_id=f"get_{item}",
        summary=f"Get one {label}",
        tags=tags,
        response_model=Public,
        responses=error_responses(400, 404),
    )
    async def get_item(customer_oid: CustomerOIDPath, item_id: ItemId, db: DatabaseDep) -> Any:
        return await db.run(
            bank.get_item, collection=collection, customer_oid=customer_oid, item_id=item_id
        )

    @app.patch(
        item_path,
        operation_id=f"update_{item}",
        summary=f"Change fields of a {label}",
        tags=tags,
        response_model=Public,
        responses=error_responses(400, 404, 413),
    )
    async def update_item(
        customer_oid: CustomerOIDPath,
        item_id: ItemId,
        changes: Update,  # type: ignore[valid-type]
        db: DatabaseDep,
    ) -> Any:
        return await db.run(
            bank.update_item,
            write=True,
            collection=collection,
            customer_oid=customer_oid,
            item_id=item_id,
            changes=changes,
        )

    @app.delete(
        item_path,
        operation_id=f"delete_{item}",
        summary=f"Delete a {label}",
        tags=tags,
        status_code=204,
        response_class=Response,
        responses=error_responses(400, 404),
    )
    async def delete_item(customer_oid: CustomerOIDPath, item_id: ItemId, db: DatabaseDep) -> None:
        await db.run(
            bank.delete_item,
            write=True,
            collection=collection,
            customer_oid=customer_oid,
            item_id=item_id,
        )

    for endpoint, text in (
        (create_item, f"Add a {label} to the customer's portfolio; 201 with the stored item."),
        (get_item, f"One {label} of the customer; 404 if it is not theirs."),
        (update_item, f"Change only the given fields of a {label}; 200 with the item."),
        (delete_item, f"Delete a {label} of the customer; 204."),
    ):
        endpoint.__doc__ = text


app = create_app()

if __name__ == "__main__":
    settings = get_settings()
    # Access lines come from RequestLogMiddleware, with the request id and duration.
    uvicorn.run(
        app,
        host=settings.HOST,
        port=settings.PORT,
        log_level=settings.LOG_LEVEL,
        access_log=False,
        timeout_graceful_shutdown=settings.SHUTDOWN_TIMEOUT_SECONDS,
    )
