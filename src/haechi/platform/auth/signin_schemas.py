"""Google sign-in and passkeys in and out (docs/platform.md, "Sign-in")."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, StringConstraints

from haechi.platform.accounts.schemas import Email, Password

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class Methods(BaseModel):
    """Which ways to sign in this server offers (the sign-in page shows their buttons)."""

    password: bool = True
    google: bool
    passkeys: bool = True


class GoogleComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # From the fragment of the page the callback redirected to (single-use, two minutes).
    ticket: Annotated[str, StringConstraints(min_length=20, max_length=100)]
    # With two-factor sign-in on: the authenticator's 6 digits, or a recovery code.
    otp: Annotated[str, StringConstraints(max_length=32)] | None = None


class GoogleIdentity(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    issuer: str
    email: str
    created_at: datetime
    last_used_at: datetime | None


class GoogleIdentities(BaseModel):
    data: list[GoogleIdentity]


class PasskeyBegin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Required when the account has a password (a stolen access token cannot add a passkey).
    current_password: Password | None = None


class PasskeyOptions(BaseModel):
    """Pass ``options`` to ``PublicKeyCredential.parseCreationOptionsFromJSON`` (register) or
    ``parseRequestOptionsFromJSON`` (sign in); binary fields are base64url."""

    options: dict[str, Any]


class PasskeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # ``PublicKeyCredential.toJSON()`` of the new credential.
    credential: dict[str, Any]
    name: Name | None = None


class PasskeyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class PasskeyLoginOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Without: usernameless (any discoverable passkey). With: that account's passkeys.
    email: Email | None = None


class PasskeyLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # ``PublicKeyCredential.toJSON()`` of the assertion.
    credential: dict[str, Any]


class PasskeyPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    # "multiDevice" when the authenticator syncs it (backed up), else "singleDevice".
    device_type: str
    backed_up: bool
    aaguid: str
    transports: list[str] | None
    created_at: datetime
    last_used_at: datetime | None


class PasskeysPublic(BaseModel):
    data: list[PasskeyPublic]
