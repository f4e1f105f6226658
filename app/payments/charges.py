"""One-time payments (the Pay page, Pay Now and each Auto Pay charge): start one at the processor, apply what it
reports, and the email each change calls for; receipt numbers and the staff console's list."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.accounts.service import retire_kept_pages
from app.core.money import Money
from app.payments import outbox
from app.payments.audit import audit, lock_row
from app.payments.models import AutopayCharge, Payment
from app.payments.processor import CANCELLED, FAILED, OPEN, PROCESSING, RETURNED, SUCCEEDED, Outcome, PaymentProcessor
from app.payments.rules import METHODS, Notice, PaymentError, PaymentRules, Urls


def new_receipt_no() -> str:
    """A receipt number a resident can read out on the phone: P and ten letters or digits, no look-alikes."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "P" + "".join(secrets.choice(alphabet) for _ in range(10))


def find_attempt(session: Session, attempt: str) -> Payment | None:
    """The payment a form's attempt token already made, if any."""
    return session.scalar(select(Payment).filter_by(idempotency_key=f"pay-{attempt}"))


def find_payment(session: Session, public_id: str) -> Payment | None:
    """A payment by the id in its URLs."""
    return session.scalar(select(Payment).filter_by(public_id=public_id))


def start_payment(
    session: Session,
    processor: PaymentProcessor,
    *,
    source: str,
    account_no: str,
    customer_id: str,
    resident_id: int | None,
    email: str,
    method: str,
    amount_cents: int,
    rules: PaymentRules,
    attempt: str,
    urls: Callable[[str], Urls],
    now: datetime,
) -> Payment:
    """Record an open payment and create its hosted page at the processor; a repeated ``attempt`` returns the first.

    ``attempt`` is the random token of the form the resident submitted, so a double submit makes one payment
    (and one charge: the processor gets the same idempotency key). Raises PaymentError("amount"|"method")
    and ProcessorUnavailable (the caller rolls back: nothing was charged and nothing is kept).
    """
    if method not in METHODS:
        raise PaymentError("method")
    if not rules.min_cents <= amount_cents <= rules.max_cents:
        raise PaymentError("amount")
    existing = find_attempt(session, attempt)
    if existing is not None:
        return existing
    payment = Payment(
        public_id=secrets.token_urlsafe(18),
        idempotency_key=f"pay-{attempt}",
        receipt_no=new_receipt_no(),
        source=source,
        resident_id=resident_id,
        account_no=account_no,
        customer_id=customer_id,
        email=email[:320],
        method=method,
        amount_cents=amount_cents,
        fee_cents=rules.fee(method).cents(amount_cents),
        status=OPEN,
        processor=processor.name,
        created_at=now,
        updated_at=now,
    )
    # The same form submitted twice at the same moment: the unique key makes the second flush fail
    # (IntegrityError); the caller rolls back and finds the first with ``find_attempt``.
    session.add(payment)
    session.flush()
    where = urls(payment.public_id)
    checkout = processor.create_checkout(
        amount_cents=payment.amount_cents + payment.fee_cents,
        method=method,
        description=f"Account {account_no}",
        idempotency_key=checkout_key(payment),
        success_url=where.success,
        cancel_url=where.cancel,
        webhook_url=where.webhook,
        email=email,
    )
    payment.checkout_id, payment.checkout_url = checkout.id, checkout.url
    audit(
        session,
        "payment_open",
        payment,
        resident_id,
        actor=source,
        now=now,
        detail=f"{method} {payment.amount_cents}+{payment.fee_cents} cents",
    )
    session.flush()
    return payment


def checkout_key(payment: Payment) -> str:
    """The processor's idempotency key of a payment's hosted page: the attempt's key and this row's own id.

    The form's attempt token makes one row (``Payment.idempotency_key`` is unique). A row whose transaction
    was rolled back after the processor answered (a lost database connection) leaves a page nobody was sent
    to; the same attempt made again gets a page of its own, whose return address names the row that exists.
    """
    return f"{payment.idempotency_key}.{payment.public_id}"


#: The state a payment moves to from its current one on each outcome; anything else changes nothing. A bank
#: debit goes open -> processing -> succeeded or failed, days apart; a return after success is ``returned``.
_MOVES: dict[str, dict[str, str]] = {
    OPEN: {PROCESSING: PROCESSING, SUCCEEDED: SUCCEEDED, FAILED: FAILED, CANCELLED: CANCELLED, RETURNED: FAILED},
    PROCESSING: {SUCCEEDED: SUCCEEDED, FAILED: FAILED, RETURNED: FAILED},
    SUCCEEDED: {RETURNED: RETURNED},
}


def _apply(session: Session, payment: Payment, outcome: Outcome, *, actor: str, now: datetime) -> str | None:
    """Apply ``outcome`` under the row lock; the state the payment was in when it changed, else None."""
    lock_row(session, Payment, payment.id)
    session.refresh(payment)
    before = payment.status
    after = _MOVES.get(before, {}).get(outcome.status)
    if after is None:
        return None
    payment.status = after
    payment.failure = (outcome.failure or after)[:40] if after in (FAILED, RETURNED) else ""
    payment.method_label = outcome.method_label or payment.method_label
    payment.updated_at = now
    if after == PROCESSING:
        payment.reference = outcome.reference or payment.reference
    if PROCESSING in (before, after) and after != SUCCEEDED:
        retire_kept_pages(session, payment.account_no)  # its pending line comes or goes with no outbox row
    if after == RETURNED:
        _record_return(session, payment, now=now)
    if after == SUCCEEDED:
        payment.reference = outcome.reference or payment.reference or payment.checkout_id
        outbox.record_payload(
            session,
            outbox.PAYMENT,
            payment.account_no,
            payment.customer_id,
            _payment_fields(payment),
            resident_id=payment.resident_id,
            now=now,
        )
    audit(session, f"payment_{after}", payment, payment.resident_id, actor=actor, now=now, detail=outcome.failure)
    session.flush()
    return before


def _payment_fields(payment: Payment) -> dict[str, str | None]:
    """What the changes file says of a payment (docs/billing-extract.md): amount, fee, method, receipt, reference."""
    return {
        "amount": Money(payment.amount_cents).plain(),
        "fee": Money(payment.fee_cents).plain(),
        "method": payment.method,
        "receipt": payment.receipt_no,
        "reference": payment.reference,
    }


def _record_return(session: Session, payment: Payment, *, now: datetime) -> None:
    """Tell the billing system that a payment it was sent was taken back, so that it reverses it."""
    outbox.record_payload(
        session,
        outbox.PAYMENT_RETURNED,
        payment.account_no,
        payment.customer_id,
        _payment_fields(payment) | {"reason": payment.failure},
        resident_id=payment.resident_id,
        now=now,
    )


@dataclass(frozen=True)
class Settled:
    """Whether a payment changed on what the processor reported, and the email that calls for."""

    changed: bool = False
    notice: Notice | None = None


def settle(session: Session, payment: Payment, outcome: Outcome, *, actor: str, now: datetime) -> Settled:
    """Move a payment to what the processor reports (see ``_MOVES``) and say what to email after the commit.

    A finished payment does not change again, so a replayed, late or out-of-order report does nothing;
    only a succeeded one can still be taken back (``returned``). A success is written to the billing
    outbox with its processor reference, once; a return is written as its own change (``payment_returned``).
    An Auto Pay bank debit that fails or is returned after the job took it marks the bill's charge failed.
    """
    before = _apply(session, payment, outcome, actor=actor, now=now)
    if before is None:
        return Settled()
    if payment.source == "autopay" and before != OPEN and payment.status in (FAILED, RETURNED):
        session.execute(update(AutopayCharge).where(AutopayCharge.payment_id == payment.id).values(status=FAILED))
    return Settled(True, notice_for(payment, before))


def notice_for(payment: Payment, before: str) -> Notice | None:
    """The email a payment's move from ``before`` to its status calls for, None when it calls for none.

    A receipt on success; "we are processing your bank payment" when a debit starts; word of a debit that
    failed after it was processing, or of a payment returned after it succeeded. A card declined on the
    hosted page needs none (the resident is looking at the page); a declined Auto Pay charge does.
    """
    autopay = payment.source == "autopay"
    kinds = {
        SUCCEEDED: "charged" if autopay else "receipt",
        PROCESSING: "processing",
        FAILED: "bank_failed" if before == PROCESSING else ("failed" if autopay else ""),
        RETURNED: "returned",
    }
    kind = kinds.get(payment.status, "") if payment.status != before else ""
    if not kind:
        return None
    return Notice(
        payment.email,
        kind,
        payment.account_no,
        payment.amount_cents + payment.fee_cents,
        receipt_no=payment.receipt_no,
        failure=payment.failure,
    )


def _ask(processor: PaymentProcessor, payment: Payment) -> Outcome | None:
    """What the processor says now about a payment: its hosted page's outcome, or its charge's."""
    if payment.checkout_id:
        return processor.checkout_outcome(payment.checkout_id)
    if payment.reference:
        found = processor.find_charge(payment.reference)
        return Outcome(found.status, reference=found.reference, failure=found.failure) if found else None
    return None


def refresh(session: Session, processor: PaymentProcessor, payment: Payment, *, actor: str, now: datetime) -> Settled:
    """Ask the processor about an open or processing payment and apply its answer.

    Marks the payment checked (``checked_at``) so the job asks about every waiting payment in turn.
    """
    if payment.status not in (OPEN, PROCESSING):
        return Settled()
    outcome = _ask(processor, payment)
    settled = settle(session, payment, outcome, actor=actor, now=now) if outcome is not None else Settled()
    payment.checked_at = now
    return settled


#: The job asks the processor about open payments older than this (the resident may still be on its page).
CHECK_AFTER = timedelta(minutes=10)
#: ... and about open ones younger than this only: a processor's hosted page expires within a day.
CHECK_OPEN_FOR = timedelta(days=2)
#: A waiting payment is asked about again at most this often (a bank debit takes days).
CHECK_EVERY = timedelta(minutes=10)


def payments_to_check(session: Session, *, now: datetime, limit: int = 100) -> list[int]:
    """Payments still waiting for the processor (processing, or open past ``CHECK_AFTER``) and not asked about
    in the last ``CHECK_EVERY``, least recently asked first.

    The webhook finishes them; this is for the webhook that never came (lost, or sent while the portal was
    down). Bank debits stay processing for days, so each run asks about the ones asked about longest ago.
    """
    waiting = (Payment.status == PROCESSING) | (
        (Payment.status == OPEN)
        & Payment.checkout_id.is_not(None)
        & (Payment.created_at < now - CHECK_AFTER)
        & (Payment.created_at > now - CHECK_OPEN_FOR)
    )
    due = Payment.checked_at.is_(None) | (Payment.checked_at < now - CHECK_EVERY)
    asked = func.coalesce(Payment.checked_at, Payment.created_at)
    query = select(Payment.id).where(waiting, due).order_by(asked, Payment.id).limit(limit)
    return list(session.scalars(query))


def check_payment(session: Session, processor: PaymentProcessor, payment_id: int, *, now: datetime) -> Notice | None:
    """The job's refresh of one waiting payment (``payments_to_check``); the email it calls for."""
    payment = session.get(Payment, payment_id)
    return refresh(session, processor, payment, actor="job", now=now).notice if payment is not None else None


def recent_payments(
    session: Session, *, resident_id: int | None = None, account_no: str | None = None, limit: int = 50
) -> list[Payment]:
    """Payments of one resident or on one account (guest and Auto Pay ones included), newest first."""
    query = select(Payment).order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit)
    if resident_id is not None:
        query = query.where(Payment.resident_id == resident_id)
    if account_no is not None:
        query = query.where(Payment.account_no == account_no)
    return list(session.scalars(query))
