"""The local profile of a resident and the server-side session registry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.database.db import db

#: Longest ``sub`` and ``sid`` the columns hold; tokens with longer ones are refused before any query.
SUBJECT_LENGTH = 255
SID_LENGTH = 255


class Resident(db.Model):  # type: ignore[name-defined]
    """A resident, identified by the provider's ``(iss, sub)``; email and names are display-only claims."""

    __tablename__ = "resident"
    __table_args__ = (UniqueConstraint("issuer", "subject", name="uq_resident_issuer_subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    email: Mapped[str | None] = mapped_column(String(320))
    email_verified: Mapped[bool] = mapped_column(default=False)
    given_name: Mapped[str | None] = mapped_column(String(200))
    family_name: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    previous_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: Goes up whenever the resident's linked accounts change: cached pages built for an older value are
    #: never shown again, whichever instance or worker built them.
    links_version: Mapped[int] = mapped_column(default=0, server_default="0")

    @property
    def display_name(self) -> str:
        """The resident's name, or their email when the provider gave no name."""
        name = " ".join(part for part in (self.given_name, self.family_name) if part)
        return name or self.email or self.subject


class PortalSession(db.Model):  # type: ignore[name-defined]
    """A browser session, stored server-side; the cookie carries only a random id whose hash is the key.

    Rows are keyed by the provider's ``sid`` and the resident too, so that a back-channel logout can end
    every matching session in every worker and instance.
    """

    __tablename__ = "portal_session"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # type: ignore[type-arg]
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    provider_sid: Mapped[str | None] = mapped_column(String(SID_LENGTH), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SeenLogoutToken(db.Model):  # type: ignore[name-defined]
    """The ``jti`` of every back-channel logout token accepted, until it could no longer be valid (replay)."""

    __tablename__ = "seen_logout_token"

    jti_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
