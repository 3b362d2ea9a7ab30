"""Users and the single-use links mailed to them (verification, reset, change of e-mail)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from haechi.core.db import GUID, MYSQL_TABLE_OPTIONS, Base, TimestampMixin, UTCDateTime


class User(TimestampMixin, Base):
    __tablename__ = "users"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    # Lowercased on the way in (haechi.platform.accounts.schemas.normalise_email).
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Argon2id (PHC string); None for accounts that only sign in with Google.
    password_hash: Mapped[str | None] = mapped_column(sa.String(255))
    locale: Mapped[str] = mapped_column(sa.String(8), default="en", server_default="en")
    is_operator: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # TOTP two-factor: the secret sealed with the keyring (haechi.platform.auth.totp), set at
    # enrolment and in force from ``totp_enabled_at``; recovery codes as SHA-256 digests.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(255))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last time step a code was accepted for: a code is good once, even after the shared
    # store (which also spends steps, atomically) lost its state.
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    recovery_codes: Mapped[list[str] | None] = mapped_column(sa.JSON)

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def has_password(self) -> bool:
        """False for an account made from Google that never set one."""
        return self.password_hash is not None

    def __repr__(self) -> str:
        return f"User(id={self.id!s})"


class EmailToken(Base):
    """A mailed link's token, stored as its SHA-256: single use, expiring."""

    __tablename__ = "email_tokens"
    __table_args__ = MYSQL_TABLE_OPTIONS

    id: Mapped[uuid.UUID] = mapped_column(GUID, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        GUID, sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # "verify" | "reset" | "change-email"
    purpose: Mapped[str] = mapped_column(sa.String(16))
    digest: Mapped[str] = mapped_column(sa.String(64), unique=True)
    new_email: Mapped[str | None] = mapped_column(sa.String(254))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
