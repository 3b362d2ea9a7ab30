from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from haechi.platform.sites.schemas import SitePublic


class AdminOrgPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    suspended_at: datetime | None
    created_at: datetime


class AdminOrgsPublic(BaseModel):
    data: list[AdminOrgPublic]
    next_cursor: str | None = None


class AdminSitesPublic(BaseModel):
    data: list[SitePublic]


class MailPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    to_address: str
    template: str
    subject: str
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class MailsPublic(BaseModel):
    data: list[MailPublic]
