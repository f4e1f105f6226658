"""The embedded read model of the billing system of record, plus the utility's announcements.

The read model is filled by ``flask billing import`` from the city's extract (``flask billing demo`` imports a
synthetic one). The
portal never edits it in answer to a resident. Money is stored in integer cents so that SQLite and
PostgreSQL agree to the cent.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import as_utc, utcnow
from app.database.db import db


class BillingCustomer(db.Model):  # type: ignore[name-defined]
    """A customer of the utility: whoever is responsible for an account's bills."""

    __tablename__ = "billing_customer"

    customer_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    #: In the extract so that a later linking proof can use it (account number + last name).
    last_name: Mapped[str] = mapped_column(String(100), default="")
    mailing_address: Mapped[str] = mapped_column(String(500))


class BillingAccount(db.Model):  # type: ignore[name-defined]
    """A utility-billing account at one service address; ``customer_id`` is its current customer."""

    __tablename__ = "billing_account"

    account_no: Mapped[str] = mapped_column(String(20), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(20), index=True)
    service_address: Mapped[str] = mapped_column(String(300))
    route: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))  # active, closed
    bill_delivery: Mapped[str] = mapped_column(String(20))  # paper, email
    opened_on: Mapped[date] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)


class BillingOccupancy(db.Model):  # type: ignore[name-defined]
    """A customer's own time on an account (move-in to move-out).

    Linking checks the (account, customer) pair against these rows, and every page limits bills, payments
    and reads to the linked customer's time, so a new occupant never sees the previous occupant's usage.
    """

    __tablename__ = "billing_occupancy"
    __table_args__ = (Index("ix_billing_occupancy_customer_id", "customer_id"),)

    account_no: Mapped[str] = mapped_column(
        String(20), ForeignKey("billing_account.account_no", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    start_date: Mapped[date] = mapped_column(Date, primary_key=True)
    end_date: Mapped[date | None] = mapped_column(Date)


class BillingService(db.Model):  # type: ignore[name-defined]
    """A service on an account: WATER 1000, SEWER 2000, SANITATION, MXU."""

    __tablename__ = "billing_service"

    account_no: Mapped[str] = mapped_column(
        String(20), ForeignKey("billing_account.account_no", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    start_date: Mapped[date] = mapped_column(Date, primary_key=True)
    service: Mapped[str] = mapped_column(String(40))
    stop_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))  # active, inactive
    metered: Mapped[bool] = mapped_column(default=False)


class BillingBill(db.Model):  # type: ignore[name-defined]
    """A bill issued to one customer on one account."""

    __tablename__ = "billing_bill"
    __table_args__ = (Index("ix_billing_bill_account_customer", "account_no", "customer_id", "bill_date"),)

    bill_no: Mapped[str] = mapped_column(String(30), primary_key=True)
    account_no: Mapped[str] = mapped_column(String(20), ForeignKey("billing_account.account_no", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(20))
    bill_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int]
    balance_cents: Mapped[int]
    is_final: Mapped[bool] = mapped_column(default=False)


class BillingBillLine(db.Model):  # type: ignore[name-defined]
    """One charge on a bill."""

    __tablename__ = "billing_bill_line"

    bill_no: Mapped[str] = mapped_column(
        String(30), ForeignKey("billing_bill.bill_no", ondelete="CASCADE"), primary_key=True
    )
    line_no: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    service: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int]


class BillingPayment(db.Model):  # type: ignore[name-defined]
    """A payment posted by one customer on one account, applied to a bill when ``bill_no`` is set."""

    __tablename__ = "billing_payment"
    __table_args__ = (
        Index("ix_billing_payment_account_customer", "account_no", "customer_id", "posted_on"),
        # Only payments made through the portal carry a reference: the index holds just those.
        Index(
            "ix_billing_payment_reference",
            "reference",
            postgresql_where=text("reference IS NOT NULL"),
            sqlite_where=text("reference IS NOT NULL"),
        ),
    )

    #: The billing system's key of the payment (incremental extracts update by it).
    payment_id: Mapped[str] = mapped_column(String(30), primary_key=True)
    account_no: Mapped[str] = mapped_column(String(20), ForeignKey("billing_account.account_no", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(String(20))
    bill_no: Mapped[str | None] = mapped_column(
        String(30), ForeignKey("billing_bill.bill_no", ondelete="SET NULL"), index=True
    )
    posted_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int]
    method: Mapped[str] = mapped_column(String(40))
    #: The payment processor's reference for a payment made through the portal (clears its pending line).
    reference: Mapped[str | None] = mapped_column(String(200))


class BillingMeterRead(db.Model):  # type: ignore[name-defined]
    """A monthly meter read on an account's metered service (the key also serves reads by account)."""

    __tablename__ = "billing_meter_read"

    account_no: Mapped[str] = mapped_column(
        String(20), ForeignKey("billing_account.account_no", ondelete="CASCADE"), primary_key=True
    )
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date)
    consumption: Mapped[int]
    unit: Mapped[str] = mapped_column(String(20))


class BillingImport(db.Model):  # type: ignore[name-defined]
    """One run of ``flask billing import`` (or of the demo loader): when, what, and how it ended."""

    __tablename__ = "billing_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(500))
    kind: Mapped[str] = mapped_column(String(20), default="")  # full, incremental
    checksum: Mapped[str] = mapped_column(String(64), default="", index=True)
    #: Bytes in the extract's files: an extract of another size cannot be unchanged, so its checksum can wait.
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    #: running, succeeded, unchanged (same checksum as the last success), refused, failed, interrupted
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    #: Rows per file, as JSON ({"accounts": 300, ...}).
    counts: Mapped[str] = mapped_column(Text, default="{}")
    error_count: Mapped[int] = mapped_column(default=0)
    message: Mapped[str] = mapped_column(Text, default="")

    @property
    def rows_text(self) -> str:
        """Rows per file as "300 accounts, 7,000 bills" (file kinds are the extract's own names)."""
        try:
            counts = json.loads(self.counts or "{}")
        except ValueError:
            return ""
        return ", ".join(f"{n:,} {kind.replace('_', ' ')}" for kind, n in counts.items())

    @property
    def seconds(self) -> float | None:
        """How long the run took, or None while it runs."""
        if self.finished_at is None:
            return None
        return (as_utc(self.finished_at) - as_utc(self.started_at)).total_seconds()


class PortalChange(db.Model):  # type: ignore[name-defined]
    """The outbox: a change made in the portal that the billing system must learn of.

    Written in the same transaction as the change itself; ``flask billing export-changes`` writes the
    pending ones to a CSV file (``export_file`` is set first, ``exported_at`` once the file is in place).
    ``kind`` names the change (``bill_delivery`` today; payments and automatic-payment enrolments later),
    ``field`` and ``value`` what changed to what.
    """

    __tablename__ = "portal_change"
    __table_args__ = (Index("ix_portal_change_pending", "exported_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    account_no: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(20))
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(String(200))
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"))
    export_file: Mapped[str | None] = mapped_column(String(200))
    exported_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Announcement(db.Model):  # type: ignore[name-defined]
    """A notice from the utility shown on the signed-in home page between two dates."""

    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: The Spanish text, when the utility wrote one (else the English shows, marked as English).
    title_es: Mapped[str | None] = mapped_column(String(200))
    body_es: Mapped[str | None] = mapped_column(Text)
    starts_on: Mapped[date] = mapped_column(Date, index=True)
    ends_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class BillingLabel(db.Model):  # type: ignore[name-defined]
    """A page label for a service name or bill line in another language, from the last import's mapping.

    ``description`` is empty for the service's own name.
    """

    __tablename__ = "billing_label"

    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    service: Mapped[str] = mapped_column(String(40), primary_key=True)
    description: Mapped[str] = mapped_column(String(200), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
