"""Accounts in and out."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Locale = Literal["en", "ko"]
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,253}\.[^@\s.]{2,}")


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    if not _EMAIL.fullmatch(email) or ".." in email:
        raise ValueError("not an e-mail address")
    return email


Email = Annotated[str, StringConstraints(max_length=254), AfterValidator(normalise_email)]
Password = Annotated[str, Field(min_length=1, max_length=256)]
Token = Annotated[str, StringConstraints(min_length=10, max_length=200)]


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Password
    locale: Locale = "en"


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locale: Locale | None = None


class UserPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    email_verified: bool
    two_factor: bool = False
    # False for an account made from Google that never set a password.
    has_password: bool = True
    locale: str
    is_operator: bool
    created_at: datetime


class UsersPublic(BaseModel):
    data: list[UserPublic]
    next_cursor: str | None = None


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Token


class EmailBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Token
    password: Password


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password
    new_password: Password


class EmailChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    new_email: Email
    current_password: Password


class AccountDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Password


class Accepted(BaseModel):
    """The request was taken; what follows happens by e-mail."""

    status: Literal["accepted"] = "accepted"
