"""Per-customer collections: list, create, read, change and delete, the same five routes for each
collection in COLLECTION_ROUTES. The transactions list has filters of its own, and its own route.
"""

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from types import GenericAlias
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Query, Request, Response
from starlette.routing import compile_path

from bank import collections as bank_collections
from bank import documents
from bank.collections import BANK_ACCOUNTS, Collection, CreateT, PublicT, UpdateT
from db import DatabaseDep
from models import PageQuery, TransactionPublic, TransactionQuery
from openapi import NAMES_INSTITUTIONS, PAGED, error_responses
from read_lane import in_read_lane
from response_cache import cached_read
from routers.params import CustomerOIDPath, ItemId

router = APIRouter()

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True)
class CollectionRoutes(Generic[PublicT, CreateT, UpdateT]):
    collection: Collection[Any, PublicT, CreateT, UpdateT]
    path: str
    item_path: str
    # The transactions list is declared below, with its filters.
    has_own_list: bool = False

    def location(self, customer_oid: str, item_id: int) -> str:
        """An item's path, for the Location of a 201 (the route's path without convertors)."""
        path_format = compile_path(self.item_path)[1]
        return path_format.format(customer_oid=customer_oid, item_id=item_id)


COLLECTION_ROUTES: tuple[CollectionRoutes[Any, Any, Any], ...] = (
    CollectionRoutes(
        bank_collections.ASSETS,
        "/customer/{customer_oid}/assets",
        "/customer/{customer_oid}/assets/{item_id}",
    ),
    CollectionRoutes(
        bank_collections.BANK_ACCOUNTS,
        "/customer/{customer_oid}/bank-accounts",
        "/customer/{customer_oid}/bank-accounts/{item_id}",
    ),
    CollectionRoutes(
        bank_collections.TRANSACTIONS,
        "/customer/{customer_oid}/transactions",
        # Not /transactions/sync: that is the change feed's (routers/params.py).
        "/customer/{customer_oid}/transactions/{item_id:transaction_id}",
        has_own_list=True,
    ),
    CollectionRoutes(
        bank_collections.SPENDING,
        "/customer/{customer_oid}/spending",
        "/customer/{customer_oid}/spending/{item_id}",
    ),
    CollectionRoutes(
        bank_collections.DERIVATIVE_TRANSACTIONS,
        "/customer/{customer_oid}/derivative-transactions",
        "/customer/{customer_oid}/derivative-transactions/{item_id}",
    ),
)


@router.get(
    "/customer/{customer_oid}/transactions",
    operation_id="list_transactions",
    summary="List a customer's transactions, filtered",
    tags=["transactions"],
    response_model=list[TransactionPublic],
    responses={**PAGED, **error_responses(400, 404)},
)
@in_read_lane
async def list_transactions(
    customer_oid: CustomerOIDPath,
    query: Annotated[TransactionQuery, Query()],
    request: Request,
) -> Response:
    """The customer's transactions, newest first (date, then id), within from-to inclusive."""
    read = documents.list_transactions(customer_oid=customer_oid, query=query)
    return await cached_read(request, customer_oid, read)


def with_models(endpoint: Endpoint, /, *, returns: Any = None, **parameters: Any) -> Endpoint:
    """The endpoint, with the collection's own models where its signature names type variables.

    FastAPI reads a route's body, query and response models from the signature, so it shows
    each collection's own schema; mypy checks the generic function as written.
    """
    signature = inspect.signature(endpoint)
    concrete = signature.replace(
        parameters=[
            p.replace(annotation=parameters.get(p.name, p.annotation))
            for p in signature.parameters.values()
        ],
        return_annotation=returns or signature.return_annotation,
    )
    # inspect.signature, which FastAPI calls, returns __signature__ when a function has one;
    # mypy knows no such attribute on a function type.
    endpoint.__signature__ = concrete  # type: ignore[attr-defined]
    return endpoint


def add_collection_routes(
    router: APIRouter, routes: CollectionRoutes[PublicT, CreateT, UpdateT]
) -> None:
    """The list, create, read, change and delete routes of one collection."""
    collection = routes.collection
    # The bank-account writes can also be 400 for an institution_id that does not exist.
    descriptions = NAMES_INSTITUTIONS if collection is BANK_ACCOUNTS else None
    label = collection.label.lower()
    a_label = f"{'an' if label[0] in 'aeiou' else 'a'} {label}"
    items = collection.name.replace("-", "_")
    item = label.replace(" ", "_")
    tags: list[str | Enum] = [collection.name]
    # list[Public], of a class known only at run time.
    public_list = GenericAlias(list, (collection.public,))

    async def list_items(
        customer_oid: CustomerOIDPath, page: PageQuery, request: Request
    ) -> Response:
        read = documents.list_page(collection=collection, customer_oid=customer_oid, page=page)
        return await cached_read(request, customer_oid, read)

    async def create_item(
        customer_oid: CustomerOIDPath, body: CreateT, response: Response, db: DatabaseDep
    ) -> PublicT:
        created = await db.write(
            bank_collections.create_item,
            collection=collection,
            customer_oid=customer_oid,
            item=body,
        )
        response.headers["Location"] = routes.location(customer_oid, created.id)
        return created

    async def get_item(customer_oid: CustomerOIDPath, item_id: ItemId, db: DatabaseDep) -> PublicT:
        return await db.read(
            bank_collections.get_item,
            collection=collection,
            customer_oid=customer_oid,
            item_id=item_id,
        )

    async def update_item(
        customer_oid: CustomerOIDPath, item_id: ItemId, changes: UpdateT, db: DatabaseDep
    ) -> PublicT:
        return await db.write(
            bank_collections.update_item,
            collection=collection,
            customer_oid=customer_oid,
            item_id=item_id,
            changes=changes,
        )

    async def delete_item(customer_oid: CustomerOIDPath, item_id: ItemId, db: DatabaseDep) -> None:
        await db.write(
            bank_collections.delete_item,
            collection=collection,
            customer_oid=customer_oid,
            item_id=item_id,
        )

    if not routes.has_own_list:
        router.add_api_route(
            routes.path,
            in_read_lane(with_models(list_items, page=Annotated[collection.page_query, Query()])),
            methods=["GET"],
            operation_id=f"list_{items}",
            summary=f"List a customer's {collection.name.replace('-', ' ')}",
            tags=tags,
            response_model=public_list,
            responses={**PAGED, **error_responses(400, 404)},
        )
    router.add_api_route(
        routes.path,
        with_models(create_item, body=collection.create, returns=collection.public),
        methods=["POST"],
        operation_id=f"create_{item}",
        summary=f"Add {a_label}",
        description=f"Add {a_label} to the customer's portfolio; 201 with the stored item.",
        tags=tags,
        status_code=201,
        response_model=collection.public,
        responses=error_responses(400, 404, 413, descriptions=descriptions),
    )
    router.add_api_route(
        routes.item_path,
        with_models(get_item, returns=collection.public),
        methods=["GET"],
        operation_id=f"get_{item}",
        summary=f"Get one {label}",
        description=f"One {label} of the customer; 404 if it is not theirs.",
        tags=tags,
        response_model=collection.public,
        responses=error_responses(400, 404),
    )
    router.add_api_route(
        routes.item_path,
        with_models(update_item, changes=collection.update, returns=collection.public),
        methods=["PATCH"],
        operation_id=f"update_{item}",
        summary=f"Change fields of {a_label}",
        description=f"Change only the given fields of {a_label}; 200 with the item.",
        tags=tags,
        response_model=collection.public,
        responses=error_responses(400, 404, 413, descriptions=descriptions),
    )
    router.add_api_route(
        routes.item_path,
        delete_item,
        methods=["DELETE"],
        operation_id=f"delete_{item}",
        summary=f"Delete {a_label}",
        description=f"Delete {a_label} of the customer; 204.",
        tags=tags,
        status_code=204,
        response_class=Response,
        responses=error_responses(400, 404),
    )


for _routes in COLLECTION_ROUTES:
    add_collection_routes(router, _routes)
