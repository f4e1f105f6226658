"""The audit row every change of a payment or an enrolment writes, and the row lock it takes first.

The service modules (``charges``, ``autopay``, ``autopay_run``, ``webhooks``) take plain values and a session and
``flush()``; the caller commits. Every state change writes one ``PaymentEvent`` and, when the billing system must
learn of it, an outbox row (``app.payments.outbox``), in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.payments.models import AutopayEnrolment, Payment, PaymentEvent


def audit(
    session: Session,
    action: str,
    row: Payment | AutopayEnrolment,
    resident_id: int | None,
    *,
    actor: str,
    now: datetime,
    detail: str = "",
) -> None:
    """Write the audit row of one change to a payment or an enrolment, for the resident it concerns (if any)."""
    session.add(
        PaymentEvent(
            occurred_at=now,
            resident_id=resident_id,
            account_no=row.account_no,
            payment_id=row.id if isinstance(row, Payment) else None,
            enrolment_id=row.id if isinstance(row, AutopayEnrolment) else None,
            action=action,
            actor=actor,
            detail=detail[:500],
        )
    )


def lock_row(session: Session, model: type[Payment] | type[AutopayEnrolment], row_id: int) -> None:
    """Make the webhook, the return page and the job take turns on one row (row lock; SQLite's write lock)."""
    session.execute(update(model).where(model.id == row_id).values(id=model.id))
