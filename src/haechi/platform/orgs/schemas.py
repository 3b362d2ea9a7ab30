from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from haechi.platform.accounts.schemas import Email

OrgName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
AssignableRole = Literal["admin", "developer", "viewer"]
Role = Literal["owner", "admin", "developer", "viewer"]


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OrgName


class OrgUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: OrgName | None = None


class OrgPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    slug: str
    suspended: bool
    role: Role | None = None
    created_at: datetime
    updated_at: datetime


class OrgsPublic(BaseModel):
    data: list[OrgPublic]


class MemberPublic(BaseModel):
    user_id: uuid.UUID
    email: str
    role: Role
    created_at: datetime


class MembersPublic(BaseModel):
    data: list[MemberPublic]


class MemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: AssignableRole


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Email
    role: AssignableRole = "developer"


class InvitationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    org_id: uuid.UUID
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None


class InvitationsPublic(BaseModel):
    data: list[InvitationPublic]


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, StringConstraints(min_length=10, max_length=200)]


class OwnershipTransfer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: uuid.UUID
