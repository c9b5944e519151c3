"""Keyset pages: a list ordered by its key, continued after the row a cursor names."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Date, Integer

from errors import InvalidCursor
from fields import normalize_customer_oid
from models import CURSOR_SEPARATOR, PageQuery

T = TypeVar("T")
FIRST_PAGE = PageQuery()


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    """The cursor of a row: its list key, the parts joined (see models.page_query)."""
    plain = (value.isoformat() if isinstance(value, dt.date) else str(value) for value in values)
    return CURSOR_SEPARATOR.join(plain)


def decode_cursor(cursor: str, columns: Sequence[Any]) -> list[Any]:
    """The key values a cursor carries, typed like `columns`. The page query has checked its
    form already; InvalidCursor if it still does not fit this list."""
    parts = cursor.split(CURSOR_SEPARATOR)
    if len(parts) != len(columns):
        raise InvalidCursor()
    try:
        return [_cursor_value(column, part) for column, part in zip(columns, parts, strict=True)]
    except ValueError:
        raise InvalidCursor() from None


def _cursor_value(column: Any, value: str) -> Any:
    if isinstance(column.type, Date):
        return dt.date.fromisoformat(value)
    if isinstance(column.type, Integer):
        return int(value)
    return normalize_customer_oid(value) if column.key == "customer_oid" else value
