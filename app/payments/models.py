"""Payments made through the portal, Auto Pay enrolments and their scheduled charges, and the audit trail.

Amounts are integer cents. The portal never stores a card or bank number: only the processor's ids for the
checkout, the charge and a saved payment method, and a label such as "Visa ending 4242".
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.core.clock import utcnow
from app.database.db import db


class Payment(db.Model):  # type: ignore[name-defined]
    """One payment toward an account: by a signed-in resident, a guest (Pay Now) or Auto Pay.

    ``status``: open (sent to the processor's page), processing (a bank debit on its way, for days),
    succeeded, failed, cancelled, returned (succeeded, then taken back: a returned debit, a dispute). A
    finished payment stays as it is, so a replayed or late webhook changes nothing; only a succeeded one can
    still become returned (``charges._MOVES``).
    """

    __tablename__ = "payment"
    __table_args__ = (
        Index("ix_payment_account_status", "account_no", "customer_id", "status"),
        #: The few payments still waiting for the processor, which every ``flask payments run`` asks about.
        Index("ix_payment_status_created", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Unguessable id used in the portal's URLs for this payment.
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    #: Sent to the processor with every request that could charge: one charge per key.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    receipt_no: Mapped[str] = mapped_column(String(20), unique=True)
    source: Mapped[str] = mapped_column(String(20))  # resident, guest, autopay
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    account_no: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(320), default="")
    method: Mapped[str] = mapped_column(String(10))  # card, ach
    amount_cents: Mapped[int]
    fee_cents: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(20), default="open")
    failure: Mapped[str] = mapped_column(String(40), default="")
    processor: Mapped[str] = mapped_column(String(20))
    checkout_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    checkout_url: Mapped[str] = mapped_column(String(1000), default="")
    #: The processor's reference of the charge; the billing extract carries it back when the payment posts.
    reference: Mapped[str | None] = mapped_column(String(200), unique=True)
    method_label: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: When an import first carried the payment (it is no longer shown as pending).
    posted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    #: When the job last asked the processor about it while it waited (open or processing).
    checked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AutopayEnrolment(db.Model):  # type: ignore[name-defined]
    """Auto Pay for one account by its current customer: a saved method and an optional maximum.

    ``status``: setup (method being saved at the processor), active, cancelled.
    """

    __tablename__ = "autopay_enrolment"
    __table_args__ = (Index("ix_autopay_enrolment_account", "account_no", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    account_no: Mapped[str] = mapped_column(String(20))
    customer_id: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(20), default="setup")
    max_cents: Mapped[int | None]
    #: card or ach: what kind of method the resident chose to save (its charges say so to the billing system).
    method: Mapped[str] = mapped_column(String(10), default="card", server_default="card")
    processor: Mapped[str] = mapped_column(String(20))
    setup_id: Mapped[str | None] = mapped_column(String(200), unique=True)
    setup_url: Mapped[str] = mapped_column(String(1000), default="")
    setup_key: Mapped[str] = mapped_column(String(80), unique=True)
    method_id: Mapped[str] = mapped_column(String(200), default="")
    method_label: Mapped[str] = mapped_column(String(80), default="")
    #: Bills dated on or after this day are charged (earlier ones were there before enrolment).
    starts_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AutopayCharge(db.Model):  # type: ignore[name-defined]
    """A bill's Auto Pay charge, scheduled when the bill arrives and taken on ``run_on`` by ``flask payments run``.

    ``status``: scheduled, claimed (a job instance is charging it), charged, failed, over_max (not charged,
    the resident was emailed), cancelled. One row per enrolment and bill, so a bill is charged at most once.
    """

    __tablename__ = "autopay_charge"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "bill_no", name="uq_autopay_charge_enrolment_bill"),
        Index("ix_autopay_charge_due", "status", "run_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("autopay_enrolment.id", ondelete="CASCADE"))
    bill_no: Mapped[str] = mapped_column(String(30))
    run_on: Mapped[date] = mapped_column(Date)
    amount_cents: Mapped[int]
    #: The processor's idempotency key of this charge: a charge retried after a crash is taken once.
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="scheduled")
    claimed_by: Mapped[str] = mapped_column(String(80), default="")
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class PaymentEvent(db.Model):  # type: ignore[name-defined]
    """Audit: every state change of a payment, an enrolment or a scheduled charge, and who or what made it."""

    __tablename__ = "payment_event"
    __table_args__ = (Index("ix_payment_event_account", "account_no", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("resident.id", ondelete="SET NULL"), index=True)
    account_no: Mapped[str] = mapped_column(String(20))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id", ondelete="CASCADE"), index=True)
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("autopay_enrolment.id", ondelete="CASCADE"))
    #: e.g. payment_open, payment_succeeded, payment_failed, autopay_active, autopay_over_max
    action: Mapped[str] = mapped_column(String(40))
    #: webhook, return, job, resident, guest
    actor: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")


class ProcessorWebhook(db.Model):  # type: ignore[name-defined]
    """A webhook event already handled, by the processor's event id: a replay is answered and ignored."""

    __tablename__ = "processor_webhook"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), unique=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReconciliationRun(db.Model):  # type: ignore[name-defined]
    """One run of ``flask payments reconcile``: a city day's charges and refunds at the processor against the
    portal's payments. ``outcome``: clean, mismatches, failed (the processor could not be asked; ``error``).
    """

    __tablename__ = "reconciliation_run"
    __table_args__ = (Index("ix_reconciliation_run_ran_at", "ran_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    processor: Mapped[str] = mapped_column(String(20))
    ran_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    outcome: Mapped[str] = mapped_column(String(20))
    processor_charges: Mapped[int] = mapped_column(default=0)
    processor_refunds: Mapped[int] = mapped_column(default=0)
    portal_payments: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(200), default="")


class ReconciliationMismatch(db.Model):  # type: ignore[name-defined]
    """One difference a reconciliation run found.

    ``kind``: processor_only (money moved at the processor that the portal does not count: a charge it has
    no payment for or does not count as paid, or a refund), portal_only (a payment the portal counts that the
    processor has not got, or not as paid), amount (both count it, for different amounts).
    """

    __tablename__ = "reconciliation_mismatch"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reconciliation_run.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(200))
    receipt_no: Mapped[str] = mapped_column(String(20), default="")
    account_no: Mapped[str] = mapped_column(String(20), default="")
    processor_cents: Mapped[int | None]
    portal_cents: Mapped[int | None]
    detail: Mapped[str] = mapped_column(String(200), default="")
