"""Idempotency keys, with Stripe's semantics: a write sent again under the same key gets the
first one's answer instead of running twice.

A key is claimed, in a transaction of its own, before its request runs (a row whose status is
null). The answer of a request that ran is then kept on the row, errors such as 404 and 409
included; as with Stripe, an answer given before the operation began (a 400 for invalid
input, a 503 for a busy bank) or an unexpected error (rolled back) leaves the key free again,
so the request can be sent again, corrected, under it. Meanwhile the same key is "in flight".
Keys belong to a scope (the API key, or the client's address) and expire 24 hours after their
claim. The HTTP face is idempotency.py; MCP write tools use the same functions.
"""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from sqlalchemy import and_, delete, or_, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select

from db import WriteSession
from errors import IdempotencyKeyInFlight, IdempotencyKeyReused, InvalidIdempotencyKey
from models import IdempotencyKey

KEPT_FOR = dt.timedelta(hours=24)
# A claim this old whose request never answered belongs to a process that died mid-request:
# the key is free again. Longer than any request runs (an advance of a year for 100,000
# customers takes minutes).
ABANDONED_AFTER = dt.timedelta(minutes=15)
MAX_KEY_LENGTH = 255
# Answers given before the operation began, which leave the key free (as Stripe's do): invalid
# input (FastAPI's validation, and the domain's own checks of the input), a body over the limit,
# and a bank too busy to start the write.
NOT_KEPT = frozenset({400, 413, 503})
# Expired keys removed by each claim: more than claims add, so they never pile up.
PURGED_AT_ONCE = 100


def check_key(key: str) -> str:
    """The key, when it is 1-255 printable ASCII characters; InvalidIdempotencyKey otherwise."""
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= c <= "~" for c in key):
        raise InvalidIdempotencyKey()
    return key


def fingerprint(*parts: bytes) -> str:
    """What makes two requests the same request: a digest of their parts."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True)
class KeptAnswer:
    """The first request's answer: status, headers and body, byte for byte."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes


def claim(
    session: WriteSession, /, *, scope: str, key: str, request: str, now: dt.datetime
) -> KeptAnswer | None:
    """Claim the key for this request (None: run it), or the kept answer of the same request.

    IdempotencyKeyReused when the key was used with another request, IdempotencyKeyInFlight
    while that request runs. Expired keys (24 hours) are removed on the way.
    """
    # Expired keys, a few at a time; on PostgreSQL those no other claim is removing.
    expired = (
        select(col(IdempotencyKey.scope), col(IdempotencyKey.key))
        .where(col(IdempotencyKey.created_at) < now - KEPT_FOR)
        .limit(PURGED_AT_ONCE)
        .with_for_update(skip_locked=True)
    )
    session.execute(
        delete(IdempotencyKey).where(
            tuple_(col(IdempotencyKey.scope), col(IdempotencyKey.key)).in_(expired)
        )
    )
    # This key, if it expired, or if its request was abandoned (its process died).
    session.execute(
        delete(IdempotencyKey).where(
            col(IdempotencyKey.scope) == scope,
            col(IdempotencyKey.key) == key,
            or_(
                col(IdempotencyKey.created_at) < now - KEPT_FOR,
                and_(
                    col(IdempotencyKey.status).is_(None),
                    col(IdempotencyKey.created_at) < now - ABANDONED_AFTER,
                ),
            ),
        )
    )
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    claim_it = (
        insert(IdempotencyKey)
        .values(scope=scope, key=key, fingerprint=request, created_at=now)
        .on_conflict_do_nothing(index_elements=["scope", "key"])
        .returning(col(IdempotencyKey.key))
    )
    # Its columns, not the row as an object: the commit below would expire an object, and
    # reloading it could find the row gone.
    mine = select(
        col(IdempotencyKey.fingerprint),
        col(IdempotencyKey.status),
        col(IdempotencyKey.headers),
        col(IdempotencyKey.body),
    ).where(col(IdempotencyKey.scope) == scope, col(IdempotencyKey.key) == key)
    # On PostgreSQL (read committed) the row that made the insert do nothing can be gone by the
    # time it is read (its request failed and freed the key): then claim it again.
    while True:
        if session.execute(claim_it).scalar_one_or_none() is not None:
            session.commit()
            return None
        found = session.execute(mine).one_or_none()
        if found is not None:
            break
    session.commit()
    if found.fingerprint != request:
        raise IdempotencyKeyReused(key)
    if found.status is None or found.body is None:
        raise IdempotencyKeyInFlight(key)
    headers = [(name, value) for name, value in json.loads(found.headers or "[]")]
    return KeptAnswer(found.status, headers, found.body)


def keep(session: WriteSession, /, *, scope: str, key: str, answer: KeptAnswer) -> None:
    """Keep the answer of the request that claimed the key."""
    session.execute(
        update(IdempotencyKey)
        .where(col(IdempotencyKey.scope) == scope, col(IdempotencyKey.key) == key)
        .values(status=answer.status, headers=json.dumps(answer.headers), body=answer.body)
    )
    session.commit()


def release(session: WriteSession, /, *, scope: str, key: str) -> None:
    """Free the key: its request did not succeed (and changed nothing)."""
    session.execute(
        delete(IdempotencyKey).where(
            col(IdempotencyKey.scope) == scope,
            col(IdempotencyKey.key) == key,
            col(IdempotencyKey.status).is_(None),
        )
    )
    session.commit()
