"""Webhooks: the endpoints events are sent to, and the transactional outbox they go through.

A change that makes an event stores it, with one delivery per endpoint subscribed to it, in the
change's own transaction (`enqueue`): an event exists exactly when its change committed, and a
delivery waits in the database until a sender takes it, whatever happens to the process. The
dispatcher (dispatcher.py) takes what is due (`claim_due`), signs and sends it, and records each
attempt (`record_attempts`): delivered on a 2xx, else tried again after a growing delay, until
the attempts run out.

`transactions.updated` tells each customer whose transactions a commit changed what changed,
counted from the change feed's log (bank/feed.py): every transaction that changes transactions
takes the feed's turn first (`hold_feed_order`), which marks where the log stood
(`watch_transaction_changes`), and before its commit the log past the mark is announced.
"""

import base64
import datetime as dt
import json
import random
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Table,
    bindparam,
    delete,
    event,
    insert,
    text,
    update,
)
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from bank.clock import utcnow
from db import Read, Row, WriteSession, connection_of
from errors import WebhookNotFound
from models import (
    TEST_EVENT,
    DeliveryStatus,
    Webhook,
    WebhookCreate,
    WebhookCreated,
    WebhookDelivery,
    WebhookDeliveryPublic,
    WebhookEvent,
    WebhookMessage,
    WebhookPublic,
)

# --- Endpoints ------------------------------------------------------------------------------


def create_webhook(session: WriteSession, /, *, webhook: WebhookCreate) -> WebhookCreated:
    # 24 random bytes, base64 after the prefix: the secret's form in Standard Webhooks.
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()
    events = list(dict.fromkeys(webhook.events))  # each once, in the order given
    row = Webhook(
        url=webhook.url,
        events=",".join(events),
        secret=secret,
        created_at=utcnow().replace(microsecond=0),
    )
    session.add(row)
    session.commit()
    assert row.id is not None
    return WebhookCreated(
        id=row.id, url=row.url, events=events, created_at=row.created_at, secret=secret
    )


def _public(row: Webhook) -> WebhookPublic:
    assert row.id is not None
    return WebhookPublic(
        id=row.id,
        url=row.url,
        events=[WebhookEvent(name) for name in row.events.split(",")],
        created_at=row.created_at,
    )


def list_webhooks(session: Session, /) -> list[WebhookPublic]:
    return [_public(row) for row in session.exec(select(Webhook).order_by(col(Webhook.id)))]


def get_webhook(session: Session, /, *, webhook_id: int) -> WebhookPublic:
    row = session.get(Webhook, webhook_id)
    if row is None:
        raise WebhookNotFound(webhook_id)
    return _public(row)


def delete_webhook(session: WriteSession, /, *, webhook_id: int) -> None:
    """The endpoint and its deliveries, sent or waiting (ON DELETE CASCADE)."""
    result = session.execute(delete(Webhook).where(col(Webhook.id) == webhook_id))
    session.commit()
    if getattr(result, "rowcount", 0) == 0:
        raise WebhookNotFound(webhook_id)


def list_deliveries(
    session: Session, /, *, webhook_id: int, limit: int
) -> list[WebhookDeliveryPublic]:
    """The endpoint's deliveries, newest first."""
    get_webhook(session, webhook_id=webhook_id)
    rows = session.exec(
        select(WebhookDelivery, WebhookMessage.type)
        .join(WebhookMessage, col(WebhookMessage.id) == col(WebhookDelivery.message_id))
        .where(col(WebhookDelivery.webhook_id) == webhook_id)
        .order_by(col(WebhookDelivery.id).desc())
        .limit(limit)
    ).all()
    return [_delivery_public(delivery, event_type) for delivery, event_type in rows]


def _delivery_public(delivery: WebhookDelivery, event_type: str) -> WebhookDeliveryPublic:
    assert delivery.id is not None
    return WebhookDeliveryPublic(
        id=delivery.id,
        event_id=delivery.message_id,
        event_type=event_type,
        status=DeliveryStatus(delivery.status),
        attempts=delivery.attempts,
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        next_attempt_at=delivery.next_attempt_at,
        created_at=delivery.created_at,
        delivered_at=delivery.delivered_at,
    )


def send_test_event(session: WriteSession, /, *, webhook_id: int) -> WebhookDeliveryPublic:
    """A webhook.test event to this endpoint alone, queued like any other."""
    get_webhook(session, webhook_id=webhook_id)
    (message_id,) = enqueue(session, TEST_EVENT, [{"webhook_id": webhook_id}], to=webhook_id)
    delivery = session.exec(
        select(WebhookDelivery).where(col(WebhookDelivery.message_id) == message_id)
    ).one()
    answer = _delivery_public(delivery, TEST_EVENT)
    session.commit()
    return answer


# --- The outbox -----------------------------------------------------------------------------


def subscribers(connection: Connection, event_type: str) -> list[int]:
    """The endpoints subscribed to `event_type`, in id order. On PostgreSQL they stay until
    this transaction ends (FOR KEY SHARE): a DELETE /webhooks/{id} committed meanwhile would
    fail the deliveries' foreign key at the end of a long write; it waits for it instead.
    SQLite's one writer at a time has them stay already."""
    lock = " FOR KEY SHARE" if connection.dialect.name == "postgresql" else ""
    return [
        webhook_id
        for webhook_id, events in connection.exec_driver_sql(
            f"SELECT id, events FROM webhooks ORDER BY id{lock}"
        )
        if event_type in events.split(",")
    ]


def enqueue(
    session_or_connection: Session | Connection,
    event_type: str,
    data: Iterable[Mapping[str, Any]],
    *,
    to: int | None = None,
) -> list[str]:
    """Store an event per item of `data` and its deliveries to every subscribed endpoint (or to
    endpoint `to` alone), in the caller's transaction. Nothing when no endpoint subscribes.
    Returns the events' ids."""
    connection = connection_of(session_or_connection)
    webhook_ids = [to] if to is not None else subscribers(connection, event_type)
    if not webhook_ids:
        return []
    now = utcnow()
    timestamp = now.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    messages = [
        {
            "id": f"msg_{uuid.uuid4().hex}",
            "type": event_type,
            # Standard Webhooks' payload: type, timestamp, data. Compact, as it is signed.
            "payload": json.dumps(
                {"type": event_type, "timestamp": timestamp, "data": item},
                separators=(",", ":"),
            ),
            "created_at": now,
        }
        for item in data
    ]
    if not messages:
        return []
    connection.execute(insert(WebhookMessage), messages)
    connection.execute(
        insert(WebhookDelivery),
        [
            {
                "webhook_id": webhook_id,
                "message_id": message["id"],
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for message in messages
            for webhook_id in webhook_ids
        ],
    )
    if isinstance(session_or_connection, Session):
        _wake_after_commit(session_or_connection)
    return [str(message["id"]) for message in messages]


# Called after a commit that stored deliveries (on the committing thread): the dispatchers of
# this process, so they send at once rather than at their next look.
_wakers: set[Callable[[], None]] = set()
_WAKE_SET = "bank_webhooks_wake"


def add_waker(wake: Callable[[], None]) -> None:
    _wakers.add(wake)


def remove_waker(wake: Callable[[], None]) -> None:
    _wakers.discard(wake)


def _wake_after_commit(session: Session) -> None:
    if session.info.get(_WAKE_SET):
        return
    session.info[_WAKE_SET] = True

    def wake(_session: Session) -> None:
        session.info.pop(_WAKE_SET, None)
        for waker in list(_wakers):
            waker()

    event.listen(session, "after_commit", wake, once=True)


# --- transactions.updated -------------------------------------------------------------------

_MARK = "bank_webhooks_transaction_mark"


def transactions_mark(connection: Connection) -> int | None:
    """Where the change feed's log stands, for `announce_transactions`; None when no endpoint
    subscribes to transactions.updated (then there is nothing to announce)."""
    if not subscribers(connection, WebhookEvent.TRANSACTIONS_UPDATED):
        return None
    return int(
        connection.exec_driver_sql("SELECT coalesce(max(seq), 0) FROM transaction_changes").scalar()
        or 0
    )


def watch_transaction_changes(session: Session) -> None:
    """Announce, just before the session commits, the changes its transaction logs from now on.
    Called by the feed's turn (bank.feed.hold_feed_order), which every such transaction takes
    before its first change: no other writer's change can come in between."""
    if _MARK in session.info:
        return
    mark = transactions_mark(session.connection())
    if mark is None:
        return
    session.info[_MARK] = mark

    def announce(_session: Session) -> None:
        session.flush()  # the ORM's last changes, and the log rows their triggers write
        announce_transactions(session, session.info.pop(_MARK))

    event.listen(session, "before_commit", announce, once=True)


def announce_transactions(session_or_connection: Session | Connection, mark: int | None) -> None:
    """One transactions.updated per customer whose transactions changed past `mark` in this
    transaction, with how many were added, modified and removed. A customer deleted in it gets
    customer.deleted instead."""
    if mark is None:
        return
    connection = connection_of(session_or_connection)
    counts: dict[str, dict[str, int]] = {}
    for customer_oid, change, count in connection.execute(
        text(
            "SELECT c.customer_oid, c.change, count(DISTINCT c.transaction_id) "
            "FROM transaction_changes c WHERE c.seq > :mark AND EXISTS "
            "(SELECT 1 FROM users u WHERE u.customer_oid = c.customer_oid) "
            "GROUP BY c.customer_oid, c.change ORDER BY c.customer_oid"
        ),
        {"mark": mark},
    ):
        counts.setdefault(customer_oid, {"added": 0, "modified": 0, "removed": 0})[change] = count
    enqueue(
        session_or_connection,
        WebhookEvent.TRANSACTIONS_UPDATED,
        ({"customer_oid": oid, **changed} for oid, changed in counts.items()),
    )


# --- Sending --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DueDelivery:
    """A delivery a sender has taken: where to, signed with what, and the body."""

    id: int
    attempts: int
    url: str
    secret: str
    event_id: str
    payload: str
    leased_until: dt.datetime


@dataclass(frozen=True, slots=True)
class Attempt:
    """How sending a delivery went."""

    delivery: DueDelivery
    status_code: int | None
    error: str | None  # None: delivered


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_seconds: float
    max_seconds: float

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds before the try after failed attempt number `attempt` (1 for the first):
        doubling from the base up to the cap, with jitter between half and all of it, so that
        deliveries that failed together do not all come back together."""
        full = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return full / 2 + rng.random() * full / 2


def _due_at(results: list[list[Row]]) -> dt.datetime | None:
    (due,) = results[0][0]
    if due is None:
        return None
    if isinstance(due, str):  # SQLite keeps UTC as text, without an offset
        due = dt.datetime.fromisoformat(due)
    return cast(dt.datetime, due).replace(tzinfo=dt.UTC) if due.tzinfo is None else due


# When the earliest pending delivery is due (None when none waits): a lean read, the
# dispatcher's look at the partial index of pending deliveries.
NEXT_DUE: Read[dt.datetime | None] = Read(
    (("SELECT min(next_attempt_at) FROM webhook_deliveries WHERE status = 'pending'", {}),),
    _due_at,
)


def claim_due(
    session: WriteSession, /, *, now: dt.datetime, lease_until: dt.datetime, limit: int
) -> list[DueDelivery]:
    """Take up to `limit` deliveries due by `now`, oldest first, until `lease_until`: until
    then no other sender takes them, and after it they are due again (a sender that died).
    PostgreSQL skips those another process is taking; SQLite's write lock makes turns."""
    ids = list(
        session.exec(
            select(WebhookDelivery.id)
            .where(col(WebhookDelivery.status) == DeliveryStatus.PENDING.value)
            .where(col(WebhookDelivery.next_attempt_at) <= now)
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        return []
    taken = [
        DueDelivery(id_, attempts, url, secret, event_id, payload, lease_until)
        for id_, attempts, url, secret, event_id, payload in session.execute(
            # SQLAlchemy's select: SQLModel's types at most four columns.
            sql_select(
                col(WebhookDelivery.id),
                col(WebhookDelivery.attempts),
                col(Webhook.url),
                col(Webhook.secret),
                col(WebhookMessage.id),
                col(WebhookMessage.payload),
            )
            .join(Webhook, col(Webhook.id) == col(WebhookDelivery.webhook_id))
            .join(WebhookMessage, col(WebhookMessage.id) == col(WebhookDelivery.message_id))
            .where(col(WebhookDelivery.id).in_(ids))
            .order_by(col(WebhookDelivery.id))
        )
    ]
    session.execute(
        update(DELIVERIES).where(DELIVERIES.c.id.in_(ids)).values(next_attempt_at=lease_until)
    )
    session.commit()
    return taken


DELIVERIES = cast(Table, cast(Any, WebhookDelivery).__table__)
# Only while the sender's lease holds: a sender whose lease ran out (it waited to record) and
# whose delivery another took since leaves the row to the other.
RECORD_ATTEMPT = (
    update(DELIVERIES)
    .where(DELIVERIES.c.id == bindparam("delivery_id"))
    .where(DELIVERIES.c.status == DeliveryStatus.PENDING.value)
    .where(DELIVERIES.c.next_attempt_at == bindparam("leased_until"))
    .values(
        status=bindparam("new_status"),
        attempts=bindparam("made"),
        next_attempt_at=bindparam("next_at"),
        last_status_code=bindparam("code"),
        last_error=bindparam("error"),
        delivered_at=bindparam("delivered"),
    )
)


def record_attempts(
    session: WriteSession,
    /,
    *,
    attempts: list[Attempt],
    now: dt.datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> None:
    """Each attempt's outcome: delivered, failed for good once the attempts are spent, or
    pending again after the policy's delay. A delivery whose endpoint was deleted meanwhile is
    gone, and stays gone."""
    rows = []
    for attempt in attempts:
        made = attempt.delivery.attempts + 1
        if attempt.error is None:
            status, next_at, delivered = DeliveryStatus.DELIVERED, None, now
        elif made >= policy.max_attempts:
            status, next_at, delivered = DeliveryStatus.FAILED, None, None
        else:
            delay = dt.timedelta(seconds=policy.delay(made, rng))
            status, next_at, delivered = DeliveryStatus.PENDING, now + delay, None
        rows.append(
            {
                "delivery_id": attempt.delivery.id,
                "leased_until": attempt.delivery.leased_until,
                "new_status": status.value,
                "made": made,
                "next_at": next_at,
                "code": attempt.status_code,
                "error": attempt.error,
                "delivered": delivered,
            }
        )
    if rows:
        session.connection().execute(RECORD_ATTEMPT, rows)
    session.commit()
