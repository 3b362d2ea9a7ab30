from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from haechi.platform.accounts.schemas import Email, Password


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password


class AccessToken(BaseModel):
    """The access token goes in ``Authorization: Bearer``; the refresh token travels only in
    its HttpOnly cookie."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    session_id: uuid.UUID


class SessionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    ip: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    current: bool = False


class SessionsPublic(BaseModel):
    data: list[SessionPublic]
