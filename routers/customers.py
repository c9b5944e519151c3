"""Customers: list, register, check, delete."""

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from bank import customers, documents
from db import DatabaseDep
from models import (
    CustomerCreate,
    CustomerDeleted,
    CustomerExistence,
    CustomerPageQuery,
    CustomerRegistered,
    UserPublic,
)
from openapi import PAGED, error_responses
from response_cache import json_response, serialize
from routers.params import CustomerOIDPath

router = APIRouter(tags=["customers"])


@router.get(
    "/customers",
    operation_id="list_customers",
    summary="List customers",
    response_model=list[UserPublic],
    responses={**PAGED, **error_responses(400)},
)
async def list_customers(
    page: Annotated[CustomerPageQuery, Query()], request: Request, db: DatabaseDep
) -> Response:
    """Registered customers with their CustomerOID and name, by CustomerOID, page by page."""
    # Read afresh every time: a cached copy would need a version that every registration and
    # deletion renews, one row all those writers would take turns on.
    customers_page = await db.read_rows(documents.list_customers(page=page))
    return json_response(request, serialize(request, customers_page))


@router.post(
    "/register-customer",
    operation_id="register_customer",
    summary="Register a customer",
    responses=error_responses(400, 409, 413),
)
async def register_customer(customer: CustomerCreate, db: DatabaseDep) -> CustomerRegistered:
    """Create a customer; a UUID4 CustomerOID is generated when none is given."""
    return await db.write(customers.register_customer, customer=customer)


@router.delete(
    "/customer/{customer_oid}",
    operation_id="delete_customer",
    summary="Delete a customer and all their data",
    responses=error_responses(400, 404),
)
async def delete_customer(customer_oid: CustomerOIDPath, db: DatabaseDep) -> CustomerDeleted:
    """Permanently delete the customer and every asset, account, transaction and position."""
    return await db.write(customers.delete_customer, customer_oid=customer_oid)


@router.get(
    "/customer/{customer_oid}/exists",
    operation_id="customer_exists",
    summary="Check whether a customer exists",
    responses=error_responses(400),
)
async def customer_exists(customer_oid: CustomerOIDPath, db: DatabaseDep) -> CustomerExistence:
    """Answer whether the CustomerOID is registered, with the name when it is.

    An unknown customer is a 200 answer with `exists: false` and `name: null`: this is the
    quick check to make before any other call.
    """
    return await db.read(customers.customer_exists, customer_oid=customer_oid)
