"""The Auto Pay charging job (``flask payments run``): schedule each active enrolment's new bills, claim the
charges that are due, and take each once with the saved method."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from app.billing.client import BillingSource
from app.payments.audit import audit
from app.payments.charges import new_receipt_no, settle
from app.payments.models import AutopayCharge, AutopayEnrolment, Payment
from app.payments.owed import amount_owed
from app.payments.processor import CANCELLED, FAILED, OPEN, PROCESSING, SUCCEEDED, Outcome, PaymentProcessor
from app.payments.rules import Notice

#: Claimed Auto Pay charges older than this are taken again (the instance that claimed them died);
#: the processor's idempotency key makes sure the charge happens once.
CLAIM_TIMEOUT = timedelta(minutes=15)


#: Charges whose bill no other enrolment of the account schedules: it took, is taking or found paid the bill.
#: A bill that was declined, over the maximum or cancelled may still be taken by a new method.
SETTLING = ("scheduled", "claimed", "charged", "paid")


def _known_bills(session: Session, enrolment: AutopayEnrolment) -> set[str]:
    """Bills this enrolment has a charge for, and bills another enrolment of the account settled or is settling."""
    own = select(AutopayCharge.bill_no).where(AutopayCharge.enrolment_id == enrolment.id)
    others = (
        select(AutopayCharge.bill_no)
        .join(AutopayEnrolment, AutopayEnrolment.id == AutopayCharge.enrolment_id)
        .where(AutopayEnrolment.account_no == enrolment.account_no, AutopayCharge.status.in_(SETTLING))
    )
    return set(session.scalars(own.union(others)))


def schedule_charges(
    session: Session, billing: BillingSource, *, today: date, days_before: int, now: datetime
) -> list[Notice]:
    """Schedule each active enrolment's new unpaid bills for their due date (less ``days_before``).

    A bill over the enrolment's maximum is not scheduled: it is recorded as ``over_max`` and the resident is
    emailed. A bill that an enrolment of the account (an earlier method, another resident's) charged, is
    charging or found paid is not scheduled again. The unique (enrolment, bill) row means a bill is scheduled
    once, even by two jobs at once: the later one's flush fails with IntegrityError, and its caller rolls
    back (the other job scheduled them).
    """
    notices: list[Notice] = []
    enrolments = session.scalars(select(AutopayEnrolment).filter_by(status="active").order_by(AutopayEnrolment.id))
    for enrolment in list(enrolments):
        pair = (enrolment.account_no, enrolment.customer_id)
        known = _known_bills(session, enrolment)
        summary = billing.summaries([pair], today=today).get(pair)
        owed = amount_owed(session, summary).cents if summary is not None else 0
        for bill in billing.bills(*pair):
            if bill.bill_no in known or bill.balance.cents <= 0 or bill.bill_date < enrolment.starts_on:
                continue
            amount = bill.balance.cents
            # what the run will charge (``take_charge``): a bill already paid online is not over any maximum
            over = enrolment.max_cents is not None and min(amount, owed) > enrolment.max_cents
            charge = AutopayCharge(
                enrolment_id=enrolment.id,
                bill_no=bill.bill_no,
                run_on=max(bill.due_date - timedelta(days=days_before), today),
                amount_cents=amount,
                idempotency_key=f"autopay-{secrets.token_urlsafe(18)}",
                status="over_max" if over else "scheduled",
                created_at=now,
            )
            session.add(charge)  # a job scheduling it at the same moment fails on the unique row (IntegrityError)
            action = "autopay_over_max" if over else "autopay_scheduled"
            audit(
                session,
                action,
                enrolment,
                enrolment.resident_id,
                actor="job",
                now=now,
                detail=f"{bill.bill_no} {amount} cents",
            )
            if over:
                notices.append(Notice(enrolment.email, "over_max", enrolment.account_no, amount, enrolment.max_cents))
    session.flush()
    return notices


def claim_due(session: Session, *, today: date, worker: str, now: datetime, limit: int = 100) -> list[int]:
    """Claim due charges for this job instance; each is claimed by one instance only. The caller commits.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets simultaneous jobs take different rows without waiting.
    SQLite: a conditional UPDATE per row (only one writer succeeds while the status is still scheduled).
    """
    due = (AutopayCharge.status == "scheduled") & (AutopayCharge.run_on <= today)
    stale = (AutopayCharge.status == "claimed") & (AutopayCharge.claimed_at < now - CLAIM_TIMEOUT)
    query = select(AutopayCharge.id).where(due | stale).order_by(AutopayCharge.run_on, AutopayCharge.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        ids = list(session.scalars(query.with_for_update(skip_locked=True)))
        if ids:
            session.execute(
                update(AutopayCharge)
                .where(AutopayCharge.id.in_(ids))
                .values(status="claimed", claimed_by=worker[:80], claimed_at=now)
            )
        return ids
    claimed = []
    for charge_id in list(session.scalars(query)):
        result = session.execute(
            update(AutopayCharge)
            .where(AutopayCharge.id == charge_id, due | stale)
            .values(status="claimed", claimed_by=worker[:80], claimed_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0) == 1:
            claimed.append(charge_id)
    return claimed


def take_charge(
    session: Session,
    processor: PaymentProcessor,
    billing: BillingSource,
    charge_id: int,
    *,
    today: date,
    now: datetime,
) -> Notice | None:
    """Charge one claimed Auto Pay charge with the enrolment's saved method (idempotency key per charge).

    It charges at most the bill's balance and at most what the account owes (``amount_owed``: payments made
    online meanwhile, and this run's earlier charges, count), and nothing for a bill another charge of the
    account took. An enrolment cancelled is not charged. The processor being down puts the charge back for
    the next run. Returns the email to send after commit.
    """
    charge = session.get(AutopayCharge, charge_id)
    if charge is None or charge.status != "claimed":
        return None
    enrolment = session.get(AutopayEnrolment, charge.enrolment_id)
    if enrolment is None or enrolment.status != "active":
        charge.status = CANCELLED
        return None
    pair = (enrolment.account_no, enrolment.customer_id)
    bill = next((b for b in billing.bills(*pair) if b.bill_no == charge.bill_no), None)
    summary = billing.summaries([pair], today=today).get(pair)
    taken = session.scalar(
        select(
            exists().where(
                AutopayCharge.bill_no == charge.bill_no,
                AutopayCharge.id != charge.id,
                AutopayCharge.status == "charged",
            )
        )
    )
    amount = 0
    if bill is not None and summary is not None and not taken:
        amount = min(charge.amount_cents, bill.balance.cents, amount_owed(session, summary).cents)
    if amount <= 0:
        charge.status = "paid"
        audit(session, "autopay_not_needed", enrolment, None, actor="job", now=now, detail=charge.bill_no)
        return None
    if enrolment.max_cents is not None and amount > enrolment.max_cents:
        charge.status = "over_max"
        audit(
            session,
            "autopay_over_max",
            enrolment,
            None,
            actor="job",
            now=now,
            detail=f"{charge.bill_no} {amount} cents",
        )
        return Notice(enrolment.email, "over_max", enrolment.account_no, amount, enrolment.max_cents)
    key = charge.idempotency_key
    payment = session.scalar(select(Payment).filter_by(idempotency_key=key))
    if payment is None:
        payment = Payment(
            public_id=secrets.token_urlsafe(18),
            idempotency_key=key,
            receipt_no=new_receipt_no(),
            source="autopay",
            resident_id=enrolment.resident_id,
            account_no=enrolment.account_no,
            customer_id=enrolment.customer_id,
            email=enrolment.email,
            method=enrolment.method,
            amount_cents=amount,
            status=OPEN,
            processor=processor.name,
            method_label=enrolment.method_label,
            created_at=now,
            updated_at=now,
        )
        session.add(payment)
        session.flush()
        audit(session, "payment_open", payment, enrolment.resident_id, actor="job", now=now, detail=charge.bill_no)
    charge.payment_id = payment.id
    outcome = processor.charge_saved(
        method_id=enrolment.method_id,
        amount_cents=payment.amount_cents,
        idempotency_key=key,
        description=f"Auto Pay, account {enrolment.account_no}, bill {charge.bill_no}",
    )
    return _charge_taken(session, charge, payment, outcome, now=now)


def _charge_taken(
    session: Session, charge: AutopayCharge, payment: Payment, outcome: Outcome, *, now: datetime
) -> Notice | None:
    """Record the processor's answer to an Auto Pay charge: a bank debit on its way is taken, not declined."""
    notice = settle(session, payment, outcome, actor="job", now=now).notice
    charge.status = "charged" if payment.status in (SUCCEEDED, PROCESSING) else FAILED
    session.flush()
    return notice


def release_claim(session: Session, charge_id: int) -> None:
    """Put a claimed charge back (the processor was down): the next run takes it."""
    session.execute(
        update(AutopayCharge)
        .where(AutopayCharge.id == charge_id, AutopayCharge.status == "claimed")
        .values(status="scheduled", claimed_by="", claimed_at=None)
    )
