"""Cursor pagination: newest first by ``(created_at, id)``, an opaque cursor to the next page.

A cursor is base64url JSON of the last row's ``[created_at, id]``; a client passes back what it
was given and never builds one. Keyset paging stays correct while rows are added and costs one
index range scan per page, however deep.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query
from pydantic import BaseModel

from haechi.core.errors import Invalid

T = TypeVar("T")
MAX_LIMIT = 200


class Page(BaseModel, Generic[T]):
    data: list[T]
    # Pass as ``cursor`` for the next page; null on the last page.
    next_cursor: str | None = None


def encode(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        when, row_id = json.loads(raw)
        created = datetime.fromisoformat(when)
        if created.tzinfo is None:
            raise ValueError("naive")
        return created, uuid.UUID(row_id)
    except (ValueError, TypeError, AttributeError, binascii.Error, json.JSONDecodeError):
        raise Invalid("cursor is not one this API gave out", code="invalid-cursor") from None


class Cursor(BaseModel):
    cursor: str | None
    limit: int


def cursor_params(
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> Cursor:
    return Cursor(cursor=cursor, limit=limit)


Paging = Annotated[Cursor, Depends(cursor_params)]


def keyset(query: sa.Select[Any], model: Any, params: Cursor) -> sa.Select[Any]:
    """``query`` ordered newest first, after the cursor, one row more than the page."""
    if params.cursor:
        created, row_id = decode(params.cursor)
        query = query.where(
            sa.or_(
                model.created_at < created,
                sa.and_(model.created_at == created, model.id < row_id),
            )
        )
    return query.order_by(model.created_at.desc(), model.id.desc()).limit(params.limit + 1)


def page(rows: Sequence[Any], params: Cursor) -> tuple[list[Any], str | None]:
    """The page's rows and the cursor after them (None when nothing follows)."""
    items = list(rows[: params.limit])
    if len(rows) > params.limit:
        last = items[-1]
        return items, encode(last.created_at, last.id)
    return items, None
