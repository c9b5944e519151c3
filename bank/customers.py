"""Customers: the list, registration, the existence check and deletion; and the institutions
their bank accounts name."""

import uuid
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import CursorResult, delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bank import webhooks
from bank.feed import hold_feed_order
from db import WriteSession
from errors import CustomerAlreadyExists, CustomerNotFound, InstitutionNotFound
from models import (
    CustomerCreate,
    CustomerDeleted,
    CustomerExistence,
    CustomerRegistered,
    Institution,
    InstitutionPublic,
    User,
    WebhookEvent,
)


def register_customer(session: WriteSession, /, *, customer: CustomerCreate) -> CustomerRegistered:
    customer_oid = customer.customer_oid or str(uuid.uuid4())
    session.add(User(customer_oid=customer_oid, name=customer.name))
    webhooks.enqueue(
        session,
        WebhookEvent.CUSTOMER_CREATED,
        [{"customer_oid": customer_oid, "name": customer.name}],
    )
    # Insert and let the primary key decide: a check-then-insert would race.
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise CustomerAlreadyExists(customer_oid) from None
    return CustomerRegistered(customer_oid=customer_oid, name=customer.name)


def delete_customer(session: WriteSession, /, *, customer_oid: str) -> CustomerDeleted:
    # Its transactions' removals go to the change feed (bank/feed.py).
    hold_feed_order(session)
    # One statement; ON DELETE CASCADE removes every row of the customer in the same transaction.
    result = cast(
        CursorResult[Any],
        session.execute(delete(User).where(col(User.customer_oid) == customer_oid)),
    )
    if result.rowcount == 0:
        raise CustomerNotFound(customer_oid)
    webhooks.enqueue(session, WebhookEvent.CUSTOMER_DELETED, [{"customer_oid": customer_oid}])
    session.commit()
    return CustomerDeleted(customer_oid=customer_oid)


def customer_exists(session: Session, /, *, customer_oid: str) -> CustomerExistence:
    """Whether the customer is registered; an unknown one is an answer, not an error."""
    user = session.get(User, customer_oid)
    return CustomerExistence(
        customer_oid=customer_oid, exists=user is not None, name=user.name if user else None
    )


def get_customer(session: Session, /, *, customer_oid: str) -> User:
    user = session.get(User, customer_oid)
    if user is None:
        raise CustomerNotFound(customer_oid)
    return user


def lock_customer(session: Session, customer_oid: str) -> None:
    """Take the customer's row before any other of theirs (PostgreSQL: FOR NO KEY UPDATE), so
    that the writes of one customer's items take turns in one order and never deadlock: a
    transaction moved between accounts while one of them is deleted, for instance. Their
    other rows' foreign keys only share it (KEY SHARE), so other writers are not held up.
    CustomerNotFound if there is no such customer."""
    statement = select(User).where(col(User.customer_oid) == customer_oid)
    if session.exec(statement.with_for_update(key_share=True)).first() is None:
        raise CustomerNotFound(customer_oid)


def list_institutions(session: Session, /) -> list[InstitutionPublic]:
    institutions = session.exec(select(Institution).order_by(col(Institution.id))).all()
    return [InstitutionPublic.model_validate(institution) for institution in institutions]


def require_institutions(session: Session, institution_ids: Iterable[int]) -> None:
    """InstitutionNotFound (400) naming the first of `institution_ids` that does not exist."""
    wanted = set(institution_ids)
    if not wanted:
        return
    found = set(session.exec(select(Institution.id).where(col(Institution.id).in_(wanted))).all())
    missing = sorted(wanted - found)
    if missing:
        raise InstitutionNotFound(missing[0])
