"""Webhooks: endpoints that the bank's events are sent to, signed (Standard Webhooks)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from bank import webhooks
from db import DatabaseDep
from fields import MAX_ID
from models import WebhookCreate, WebhookCreated, WebhookDeliveryPublic, WebhookPublic
from openapi import error_responses

router = APIRouter(tags=["webhooks"])

WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="The webhook's id")]
DeliveryLimit = Annotated[
    int, Query(ge=1, le=1000, description="Deliveries at most, newest first (1-1000)")
]

EVENTS = (
    "`transactions.updated` (one per customer whose transactions a change added, modified or "
    "removed: `customer_oid` and the counts `added`, `modified`, `removed`; then sync with GET "
    "/customer/{customer_oid}/transactions/sync), `clock.advanced` (what the advance did), "
    "`customer.created` (`customer_oid`, `name`), `customer.deleted` (`customer_oid`)"
)


@router.post(
    "/webhooks",
    operation_id="create_webhook",
    summary="Subscribe an endpoint to events",
    description=(
        f"Events: {EVENTS}. Each is POSTed as JSON `{{type, timestamp, data}}` with the "
        "Standard Webhooks headers `webhook-id` (the event's id, the same on every retry: "
        "de-duplicate on it), `webhook-timestamp` and `webhook-signature` (`v1,` and the base64 "
        "HMAC-SHA256 of `<id>.<timestamp>.<body>` keyed by the secret), so receivers verify "
        "with that specification's libraries. The secret is in this answer only. At least once: "
        "until a 2xx, retried with exponential backoff and jitter up to WEBHOOK_MAX_ATTEMPTS."
    ),
    status_code=201,
    responses=error_responses(400, 413),
)
async def create_webhook(
    webhook: WebhookCreate, response: Response, db: DatabaseDep
) -> WebhookCreated:
    created = await db.write(webhooks.create_webhook, webhook=webhook)
    response.headers["Location"] = f"/webhooks/{created.id}"
    return created


@router.get(
    "/webhooks",
    operation_id="list_webhooks",
    summary="List the subscribed endpoints",
    responses=error_responses(),
)
async def list_webhooks(db: DatabaseDep) -> list[WebhookPublic]:
    """Every endpoint with its events, oldest first; secrets are shown only at creation."""
    return await db.read(webhooks.list_webhooks)


@router.get(
    "/webhooks/{webhook_id}",
    operation_id="get_webhook",
    summary="An endpoint",
    responses=error_responses(400, 404),
)
async def get_webhook(webhook_id: WebhookId, db: DatabaseDep) -> WebhookPublic:
    """The endpoint and its events, without its secret."""
    return await db.read(webhooks.get_webhook, webhook_id=webhook_id)


@router.delete(
    "/webhooks/{webhook_id}",
    operation_id="delete_webhook",
    summary="Unsubscribe an endpoint",
    status_code=204,
    responses=error_responses(400, 404),
)
async def delete_webhook(webhook_id: WebhookId, db: DatabaseDep) -> None:
    """The endpoint and its deliveries, sent or waiting: nothing more is sent to it."""
    await db.write(webhooks.delete_webhook, webhook_id=webhook_id)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    operation_id="list_webhook_deliveries",
    summary="An endpoint's deliveries",
    responses=error_responses(400, 404),
)
async def list_webhook_deliveries(
    webhook_id: WebhookId, db: DatabaseDep, limit: DeliveryLimit = 100
) -> list[WebhookDeliveryPublic]:
    """Its deliveries, newest first: pending (with when the next attempt is due), delivered,
    or failed once every attempt was spent; the attempts made, the last HTTP status and the
    last error."""
    return await db.read(webhooks.list_deliveries, webhook_id=webhook_id, limit=limit)


@router.post(
    "/webhooks/{webhook_id}/test",
    operation_id="test_webhook",
    summary="Send a test event to an endpoint",
    status_code=202,
    responses=error_responses(400, 404),
)
async def test_webhook(webhook_id: WebhookId, db: DatabaseDep) -> WebhookDeliveryPublic:
    """Queue a `webhook.test` event (`data`: `{"webhook_id"}`) to this endpoint alone, sent and
    retried like any other; 202 with its delivery, to follow at .../deliveries."""
    return await db.write(webhooks.send_test_event, webhook_id=webhook_id)
