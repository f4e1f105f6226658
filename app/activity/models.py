"""One account event per link, removal, failed attempt or bill delivery change, and what came of it."""

from __future__ import annotations

import enum
from datetime import datetime

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, Enum, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.database.db import db


class Outcome(enum.StrEnum):
    """What came of an action on an account; stored by value, shown by ``label``."""

    LINKED = "linked"
    UNLINKED = "unlinked"
    FAILED_NOT_FOUND = "failed_not_found"
    FAILED_LIMIT = "failed_limit"
    FAILED_ALREADY_LINKED = "failed_already_linked"
    FAILED_UNVERIFIED = "failed_unverified"
    RATE_LIMITED = "rate_limited"
    PAPERLESS_ON = "paperless_on"
    PAPERLESS_OFF = "paperless_off"
    #: Pay Now without signing in: the pair was right (wrong pairs are FAILED_NOT_FOUND with no resident).
    GUEST_VERIFIED = "guest_verified"
    #: Pay Now's wrong pair; it counts toward the attempt limits as linking's does (older rows are FAILED_NOT_FOUND).
    FAILED_GUEST_NOT_FOUND = "failed_guest_not_found"
    FAILED_GUEST_RATE_LIMITED = "failed_guest_rate_limited"

    @property
    def label(self) -> LazyString:
        """What residents and staff read, translated when shown (trusted markup, as translations in templates)."""
        return _LABELS[self]

    @property
    def is_guest(self) -> bool:
        """True for Pay Now's outcomes: nobody was signed in."""
        return self in GUEST_OUTCOMES

    @property
    def is_failure(self) -> bool:
        """True for attempts that did not do what was asked (staff watch these for guessing and lockouts)."""
        return self in FAILURES


FAILURES = frozenset(
    {
        Outcome.FAILED_NOT_FOUND,
        Outcome.FAILED_LIMIT,
        Outcome.FAILED_ALREADY_LINKED,
        Outcome.FAILED_UNVERIFIED,
        Outcome.RATE_LIMITED,
        Outcome.FAILED_GUEST_NOT_FOUND,
        Outcome.FAILED_GUEST_RATE_LIMITED,
    }
)
#: Outcomes of Pay Now, where nobody is signed in (the staff console names them so, not "(deleted)").
GUEST_OUTCOMES = frozenset({Outcome.GUEST_VERIFIED, Outcome.FAILED_GUEST_NOT_FOUND, Outcome.FAILED_GUEST_RATE_LIMITED})
_LABELS = {
    Outcome.LINKED: _l("Linked"),
    Outcome.UNLINKED: _l("Removed"),
    Outcome.FAILED_NOT_FOUND: _l("Not linked: the numbers didn't match"),
    Outcome.FAILED_LIMIT: _l("Not linked: too many linked accounts"),
    Outcome.FAILED_ALREADY_LINKED: _l("Not linked: already linked"),
    Outcome.FAILED_UNVERIFIED: _l("Not linked: email not activated"),
    Outcome.RATE_LIMITED: _l("Not linked: too many attempts"),
    Outcome.PAPERLESS_ON: _l("Paperless billing turned on"),
    Outcome.PAPERLESS_OFF: _l("Paper bills by mail turned on"),
    Outcome.GUEST_VERIFIED: _l("Pay Now: account numbers matched"),
    Outcome.FAILED_GUEST_NOT_FOUND: _l("Pay Now: the numbers didn't match"),
    Outcome.FAILED_GUEST_RATE_LIMITED: _l("Pay Now: too many attempts"),
}


class AccountEvent(db.Model):  # type: ignore[name-defined]
    """One action by (or attempt of) a resident on an account; failed link attempts drive the limits."""

    __tablename__ = "account_event"
    __table_args__ = (
        Index("ix_account_event_resident_occurred", "resident_id", "occurred_at"),
        Index("ix_account_event_client_occurred", "client_addr", "occurred_at"),
        #: The per-account limit on wrong pairs counts by account number.
        Index("ix_account_event_account_occurred", "account_no", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    #: What was entered, normalised when possible, cut to the column size.
    account_no: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    client_addr: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[Outcome] = mapped_column(
        Enum(
            Outcome,
            native_enum=False,
            create_constraint=False,
            length=32,
            values_callable=lambda e: [m.value for m in e],
        )
    )
