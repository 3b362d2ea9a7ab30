from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from haechi.platform.accounts.schemas import Email, Password


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    # With two-factor sign-in on: the authenticator's 6 digits, or a recovery code.
    otp: Annotated[str, StringConstraints(max_length=32)] | None = None


class TotpSetup(BaseModel):
    """Shown once: enter ``secret`` (or scan ``uri``) in an authenticator app, then confirm."""

    secret: str
    uri: str


class TotpConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, StringConstraints(min_length=6, max_length=6, pattern=r"^[0-9]{6}$")]
    # Required unless this session signed in within the last five minutes (a fresh sign-in is
    # the re-authentication; accounts without a password rely on it).
    current_password: Password | None = None


class RecoveryCodes(BaseModel):
    """Shown once: each works once in place of a code."""

    recovery_codes: list[str]


class TotpDisable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    otp: Annotated[str, StringConstraints(min_length=6, max_length=32)]


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
