"""A resident's links to utility-billing accounts (their audit trail is ``app.activity``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.database.db import db


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
