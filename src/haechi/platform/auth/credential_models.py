"""Other ways to sign in: accounts linked to an OpenID provider (Google) and passkeys.

An ``OidcIdentity`` ties a provider's subject (``iss`` + ``sub``) to a user; it is created only
from a verified e-mail address (docs/platform.md). A ``Passkey`` is a WebAuthn credential: its
id and COSE public key (base64url), the last signature counter seen, and a name the user gives.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from haechi.core.db import GUID, MYSQL_TABLE_OPTIONS, Base, UTCDateTime


class OidcIdentity(Base):
    __tablename__ = "oidc_identities"
    __table_args__ = (
        sa.UniqueConstraint("issuer", "subject", name="issuer_subject"),
        MYSQL_TABLE_OPTIONS,
    )

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    issuer: Mapped[str] = mapped_column(sa.String(255))
    subject: Mapped[str] = mapped_column(sa.String(255))
    # The address the provider vouched for when the link was made.
    email: Mapped[str] = mapped_column(sa.String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Passkey(Base):
    __tablename__ = "passkeys"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # base64url without padding, as browsers send ``rawId``.
    credential_id: Mapped[str] = mapped_column(sa.String(255), unique=True)
    public_key: Mapped[str] = mapped_column(sa.Text)
    sign_count: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    name: Mapped[str] = mapped_column(sa.String(64))
    transports: Mapped[list[str] | None] = mapped_column(sa.JSON)
    aaguid: Mapped[str] = mapped_column(sa.String(36))
    backed_up: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
