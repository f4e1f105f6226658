"""Auto Pay enrolment: start it with a method saved at the processor, activate it, change its maximum, cancel it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.billing.types import AccountSummary
from app.core.money import Money
from app.payments import outbox
from app.payments.audit import audit, lock_row
from app.payments.models import AutopayCharge, AutopayEnrolment
from app.payments.processor import CANCELLED, OPEN, SUCCEEDED, Outcome, PaymentProcessor
from app.payments.rules import METHODS, PaymentError, Urls, can_pay


def active_enrolment(session: Session, account_no: str, customer_id: str) -> AutopayEnrolment | None:
    """The account's active Auto Pay for this customer, if any."""
    return session.scalar(
        select(AutopayEnrolment)
        .filter_by(account_no=account_no, customer_id=customer_id, status="active")
        .order_by(AutopayEnrolment.id.desc())
    )


def start_enrolment(
    session: Session,
    processor: PaymentProcessor,
    summary: AccountSummary,
    *,
    resident_id: int,
    email: str,
    method: str,
    max_cents: int | None,
    attempt: str,
    urls: Callable[[str], Urls],
    today: date,
    now: datetime,
) -> AutopayEnrolment:
    """Begin Auto Pay (or a new method for it): a setup page at the processor saves the method; charges nothing."""
    if not can_pay(summary):
        raise PaymentError("not_allowed")
    if method not in METHODS:
        raise PaymentError("method")
    if max_cents is not None and max_cents <= 0:
        raise PaymentError("amount")
    key = f"setup-{attempt}"
    existing = session.scalar(select(AutopayEnrolment).filter_by(setup_key=key))
    if existing is not None:
        return existing
    enrolment = AutopayEnrolment(
        resident_id=resident_id,
        account_no=summary.account_no,
        customer_id=summary.customer_id,
        email=email[:320],
        status="setup",
        max_cents=max_cents,
        method=method,
        processor=processor.name,
        setup_key=key,
        starts_on=today,
        created_at=now,
        updated_at=now,
    )
    session.add(enrolment)
    session.flush()
    where = urls(str(enrolment.id))
    checkout = processor.create_setup(
        method=method,
        idempotency_key=key,
        success_url=where.success,
        cancel_url=where.cancel,
        webhook_url=where.webhook,
        email=email,
    )
    enrolment.setup_id, enrolment.setup_url = checkout.id, checkout.url
    audit(session, "autopay_setup", enrolment, resident_id, actor="resident", now=now)
    session.flush()
    return enrolment


def _autopay_change(session: Session, enrolment: AutopayEnrolment, status: str, now: datetime) -> None:
    """Write the enrolment's state to the billing outbox (active, with its maximum, or cancelled)."""
    payload: dict[str, object] = {"status": status}
    if status == "active":
        payload["max"] = Money(enrolment.max_cents).plain() if enrolment.max_cents is not None else ""
    outbox.record_payload(
        session,
        outbox.AUTOPAY,
        enrolment.account_no,
        enrolment.customer_id,
        payload,
        resident_id=enrolment.resident_id,
        now=now,
    )


def apply_setup(session: Session, enrolment: AutopayEnrolment, outcome: Outcome, *, actor: str, now: datetime) -> bool:
    """Activate an enrolment once its method is saved (the previous active one ends); True when it changed."""
    lock_row(session, AutopayEnrolment, enrolment.id)
    session.refresh(enrolment)
    if enrolment.status != "setup" or outcome.status == OPEN:
        return False
    if outcome.status != SUCCEEDED or not outcome.method_id:
        enrolment.status, enrolment.updated_at = CANCELLED, now
        audit(
            session,
            "autopay_setup_failed",
            enrolment,
            enrolment.resident_id,
            actor=actor,
            now=now,
            detail=outcome.failure,
        )
        session.flush()
        return True
    previous = active_enrolment(session, enrolment.account_no, enrolment.customer_id)
    if previous is not None:
        previous.status, previous.updated_at = CANCELLED, now
        _move_charges(session, previous, enrolment)
    enrolment.status, enrolment.updated_at = "active", now
    enrolment.method_id, enrolment.method_label = outcome.method_id, outcome.method_label
    audit(
        session, "autopay_active", enrolment, enrolment.resident_id, actor=actor, now=now, detail=outcome.method_label
    )
    _autopay_change(session, enrolment, "active", now)
    session.flush()
    return True


def _move_charges(session: Session, old: AutopayEnrolment, new: AutopayEnrolment) -> None:
    """Charges scheduled on the old method are taken with the new one; those it took stay its own, and
    scheduling knows them (``autopay_run.schedule_charges``), so a bill is still charged once."""
    new.starts_on = old.starts_on
    session.execute(
        update(AutopayCharge)
        .where(AutopayCharge.enrolment_id == old.id, AutopayCharge.status == "scheduled")
        .values(enrolment_id=new.id)
    )


def change_maximum(
    session: Session, enrolment: AutopayEnrolment, max_cents: int | None, *, resident_id: int, now: datetime
) -> None:
    """Set or clear the maximum; charges not yet taken are checked against it when they run."""
    if max_cents is not None and max_cents <= 0:
        raise PaymentError("amount")
    lock_row(session, AutopayEnrolment, enrolment.id)
    enrolment.max_cents, enrolment.updated_at = max_cents, now
    audit(session, "autopay_changed", enrolment, resident_id, actor="resident", now=now, detail=f"max {max_cents}")
    _autopay_change(session, enrolment, "active", now)
    session.flush()


def cancel_enrolment(session: Session, enrolment: AutopayEnrolment, *, resident_id: int, now: datetime) -> None:
    """Stop Auto Pay: nothing scheduled is charged any more."""
    lock_row(session, AutopayEnrolment, enrolment.id)
    enrolment.status, enrolment.updated_at = CANCELLED, now
    session.execute(
        update(AutopayCharge)
        .where(AutopayCharge.enrolment_id == enrolment.id, AutopayCharge.status == "scheduled")
        .values(status=CANCELLED)
    )
    audit(session, "autopay_cancelled", enrolment, resident_id, actor="resident", now=now)
    _autopay_change(session, enrolment, CANCELLED, now)
    session.flush()


def enrolments(
    session: Session, *, resident_id: int | None = None, account_no: str | None = None
) -> list[AutopayEnrolment]:
    """Auto Pay enrolments (every state) of one resident or on one account, newest first."""
    query = select(AutopayEnrolment).order_by(AutopayEnrolment.created_at.desc(), AutopayEnrolment.id.desc())
    if resident_id is not None:
        query = query.where(AutopayEnrolment.resident_id == resident_id)
    if account_no is not None:
        query = query.where(AutopayEnrolment.account_no == account_no)
    return list(session.scalars(query.limit(50)))
