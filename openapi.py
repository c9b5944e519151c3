"""The OpenAPI document: the error responses each operation declares, and the adjustments that
make the generated document say what the middleware and handlers answer."""

from typing import Any

from fastapi import FastAPI

from constants import WRITE_METHODS
from db import is_sqlite
from models import ErrorResponse
from settings import Settings

ERROR_DESCRIPTIONS = {
    400: "Invalid input: a malformed CustomerOID, a missing or invalid field, or malformed JSON",
    404: "No customer with this CustomerOID (or, for an item, no such item of that customer)",
    409: "A customer with this CustomerOID already exists",
    401: "BANK_API_KEY is set, and the request has no X-API-Key or Bearer token, or a wrong one",
    403: "The server is read-only (BANK_READ_ONLY=1): nothing was changed",
    413: "The request body is larger than MAX_BODY_BYTES",
    503: "SQLite only: the write waited longer than WRITE_QUEUE_TIMEOUT_SECONDS for its turn; "
    "nothing was changed. Retry after the Retry-After header's seconds",
    500: "Unexpected server error; the details are logged on the server only",
}
# One page of a list: the next page's URL comes in the Link header.
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
SECURITY_SCHEMES = {
    "APIKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
    "HTTPBearer": {"type": "http", "scheme": "bearer"},
}
# Operations whose answer names a customer that later calls can use.
CUSTOMER_MAKERS = {"register_customer", "import_user_portfolio"}


# The 400 of the operations that store bank accounts.
NAMES_INSTITUTIONS = {
    400: ERROR_DESCRIPTIONS[400] + "; or a bank account naming an institution that does not exist"
}


def error_responses(
    *codes: int, descriptions: dict[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for an operation's error statuses, and 500, all with ErrorResponse;
    `descriptions` replaces the usual description of a status."""
    described = ERROR_DESCRIPTIONS | (descriptions or {})
    return {
        code: {"model": ErrorResponse, "description": described[code]} for code in (*codes, 500)
    }


def error_response_schema(code: int) -> dict[str, Any]:
    return {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
    }


def finish_openapi(app: FastAPI, settings: Settings) -> None:
    """Adjust the generated OpenAPI document to what the middleware and handlers answer.

    FastAPI's 422 entries go: this API answers 400 instead. With BANK_API_KEY set, the two ways
    to send the key are declared (Swagger UI's Authorize button uses them), and every operation
    but the health check lists 401. In read-only mode every write lists 403; on SQLite, every
    write lists the write queue's 503.
    """
    queued_writes = is_sqlite(settings.DATABASE_URL)
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
                    if queued_writes and method.upper() in WRITE_METHODS:
                        responses["503"] = error_response_schema(503)
            add_links(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


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
