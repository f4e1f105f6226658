"""A resident's links to utility-billing accounts, and the audit trail of linking."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.timeutil import utcnow


class AccountLink(db.Model):  # type: ignore[name-defined]
    """A resident's proof that they hold an account: the (account number, customer ID) pair they entered.

    Several residents may link the same account (a household); each link is their own. The pair is kept as
    strings, not a foreign key, because the billing system of record may live elsewhere.
    """

    __tablename__ = "account_link"
    __table_args__ = (UniqueConstraint("resident_id", "account_no", name="uq_account_link_resident_account"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id", ondelete="CASCADE"), index=True)
    account_no: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class LinkEvent(db.Model):  # type: ignore[name-defined]
    """One link, unlink or failed attempt; failed attempts in a window drive the attempt limits."""

    __tablename__ = "link_event"
    __table_args__ = (
        Index("ix_link_event_resident_occurred", "resident_id", "occurred_at"),
        Index("ix_link_event_client_occurred", "client_addr", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    #: What was entered, normalised when possible, cut to the column size.
    account_no: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    client_addr: Mapped[str] = mapped_column(String(64))
    #: linked, unlinked, failed_not_found, failed_limit, failed_already_linked, failed_unverified, rate_limited,
    #: paperless_on, paperless_off (bill delivery changes, see ``app.billing.delivery``)
    outcome: Mapped[str] = mapped_column(String(32))
