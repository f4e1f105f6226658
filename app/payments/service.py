"""Payments: starting a payment at the processor, applying what it reports, pending lines and Auto Pay.

Functions take plain values and a session and ``flush()``; the caller commits. Every state change writes an
audit row (``PaymentEvent``) and, when the billing system must learn of it, an outbox row, in the caller's
transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.orm import Session

from app.accounts.service import retire_kept_pages
from app.billing.client import BillingSource
from app.billing.models import BillingPayment
from app.billing.types import AccountSummary
from app.core.fees import Fee
from app.payments import outbox
from app.payments.models import AutopayCharge, AutopayEnrolment, Payment, PaymentEvent, ProcessorWebhook
from app.payments.processor import (
    CANCELLED,
    FAILED,
    OPEN,
    PROCESSING,
    RETURNED,
    SUCCEEDED,
    Outcome,
    PaymentProcessor,
    WebhookEvent,
)

METHODS = ("card", "ach")
#: Claimed Auto Pay charges older than this are taken again (the instance that claimed them died);
#: the processor's idempotency key makes sure the charge happens once.
CLAIM_TIMEOUT = timedelta(minutes=15)


class PaymentError(Exception):
    """A payment cannot be made; ``reason`` says why (amount, method, not_allowed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PaymentRules:
    """Limits and fees from configuration."""

    min_cents: int = 100
    max_cents: int = 500_000
    fees: tuple[tuple[str, Fee], ...] = (("card", Fee()), ("ach", Fee()))

    def fee(self, method: str) -> Fee:
        """The fee for ``method``."""
        return dict(self.fees).get(method, Fee())


@dataclass(frozen=True)
class Urls:
    """Where the processor sends the resident back, and where it posts webhooks."""

    success: str
    cancel: str
    webhook: str


def to_cents(amount: Decimal) -> int:
    """Dollars (two places) to integer cents."""
    return int((amount * 100).to_integral_value(rounding=ROUND_HALF_UP))


def can_pay(summary: AccountSummary) -> bool:
    """Only the customer who still lives at an open account pays it here (a previous occupant calls the office)."""
    return not summary.is_closed and summary.tenure.is_current


def _audit(
    session: Session,
    action: str,
    *,
    account_no: str,
    actor: str,
    now: datetime,
    resident_id: int | None = None,
    payment: Payment | None = None,
    enrolment: AutopayEnrolment | None = None,
    detail: str = "",
) -> None:
    session.add(
        PaymentEvent(
            occurred_at=now,
            resident_id=resident_id,
            account_no=account_no,
            payment_id=payment.id if payment is not None else None,
            enrolment_id=enrolment.id if enrolment is not None else None,
            action=action,
            actor=actor,
            detail=detail[:500],
        )
    )


def _lock(session: Session, model: type[Payment] | type[AutopayEnrolment], row_id: int) -> None:
    """Make the webhook, the return page and the job take turns on one row (row lock; SQLite's write lock)."""
    session.execute(update(model).where(model.id == row_id).values(id=model.id))


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
    key = f"pay-{attempt}"
    existing = session.scalar(select(Payment).filter_by(idempotency_key=key))
    if existing is not None:
        return existing
    payment = Payment(
        public_id=secrets.token_urlsafe(18),
        idempotency_key=key,
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
    _audit(
        session,
        "payment_open",
        account_no=account_no,
        actor=source,
        now=now,
        resident_id=resident_id,
        payment=payment,
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


def apply_outcome(session: Session, payment: Payment, outcome: Outcome, *, actor: str, now: datetime) -> bool:
    """Move a payment to what the processor reports; True when it changed (see ``_MOVES``).

    A finished payment does not change again, so a replayed, late or out-of-order report does nothing;
    only a succeeded one can still be taken back (``returned``). A success is written to the billing
    outbox with its processor reference, once; a return is written as its own change (``payment_returned``).
    """
    return _apply(session, payment, outcome, actor=actor, now=now) is not None


#: The state a payment moves to from its current one on each outcome; anything else changes nothing. A bank
#: debit goes open -> processing -> succeeded or failed, days apart; a return after success is ``returned``.
_MOVES: dict[str, dict[str, str]] = {
    OPEN: {PROCESSING: PROCESSING, SUCCEEDED: SUCCEEDED, FAILED: FAILED, CANCELLED: CANCELLED, RETURNED: FAILED},
    PROCESSING: {SUCCEEDED: SUCCEEDED, FAILED: FAILED, RETURNED: FAILED},
    SUCCEEDED: {RETURNED: RETURNED},
}


def _apply(session: Session, payment: Payment, outcome: Outcome, *, actor: str, now: datetime) -> str | None:
    """Apply ``outcome`` under the row lock; the state the payment was in when it changed, else None."""
    _lock(session, Payment, payment.id)
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
            {
                "amount": f"{payment.amount_cents / 100:.2f}",
                "fee": f"{payment.fee_cents / 100:.2f}",
                "method": payment.method,
                "receipt": payment.receipt_no,
                "reference": payment.reference,
            },
            resident_id=payment.resident_id,
            now=now,
        )
    _audit(
        session,
        f"payment_{after}",
        account_no=payment.account_no,
        actor=actor,
        now=now,
        resident_id=payment.resident_id,
        payment=payment,
        detail=outcome.failure,
    )
    session.flush()
    return before


def _record_return(session: Session, payment: Payment, *, now: datetime) -> None:
    """Tell the billing system that a payment it was sent was taken back, so that it reverses it."""
    outbox.record_payload(
        session,
        outbox.PAYMENT_RETURNED,
        payment.account_no,
        payment.customer_id,
        {
            "amount": f"{payment.amount_cents / 100:.2f}",
            "fee": f"{payment.fee_cents / 100:.2f}",
            "method": payment.method,
            "reason": payment.failure,
            "receipt": payment.receipt_no,
            "reference": payment.reference,
        },
        resident_id=payment.resident_id,
        now=now,
    )


@dataclass(frozen=True)
class Settled:
    """Whether a payment changed on what the processor reported, and the email that calls for."""

    changed: bool = False
    notice: Notice | None = None


def settle(session: Session, payment: Payment, outcome: Outcome, *, actor: str, now: datetime) -> Settled:
    """Apply what the processor reports, as ``apply_outcome``, and say what to email after the commit.

    An Auto Pay bank debit that fails or is returned after the job took it marks the bill's charge failed.
    """
    before = _apply(session, payment, outcome, actor=actor, now=now)
    return Settled(True, _settled(session, payment, before)) if before is not None else Settled()


def _settled(session: Session, payment: Payment, before: str) -> Notice | None:
    if payment.source == "autopay" and before != OPEN and payment.status in (FAILED, RETURNED):
        session.execute(update(AutopayCharge).where(AutopayCharge.payment_id == payment.id).values(status=FAILED))
    return notice_for(payment, before)


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


def refresh_payment(session: Session, processor: PaymentProcessor, payment: Payment, *, now: datetime) -> bool:
    """On return from the hosted page: ask the processor (a return URL proves nothing) and apply its answer."""
    return refresh(session, processor, payment, actor="return", now=now).changed


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


@dataclass(frozen=True)
class Handled:
    """What a webhook did (``applied``, ``ignored``, ``duplicate``, ``unknown``) and the email it calls for."""

    result: str
    notice: Notice | None = None


def handle_webhook(session: Session, event: WebhookEvent, *, now: datetime) -> str:
    """Apply a verified webhook once: ``duplicate`` for a replay, ``unknown`` for a checkout we never made."""
    return handle_event(session, event, now=now).result


def handle_event(session: Session, event: WebhookEvent, *, now: datetime) -> Handled:
    """Apply a verified webhook once, about a checkout (by its id) or a charge (by its reference).

    The event id is recorded in the same transaction as its effect; the same event delivered twice at the
    same moment makes the second commit fail on the unique id (IntegrityError: the caller rolls back).
    """
    if session.scalar(select(ProcessorWebhook.id).filter_by(event_id=event.id[:200])) is not None:
        return Handled("duplicate")
    session.add(ProcessorWebhook(event_id=event.id[:200], received_at=now))
    session.flush()
    payment = None
    if event.checkout_id:
        payment = session.scalar(select(Payment).filter_by(checkout_id=event.checkout_id))
        if payment is None:
            enrolment = session.scalar(select(AutopayEnrolment).filter_by(setup_id=event.checkout_id))
            if enrolment is not None:
                changed = apply_setup(session, enrolment, event.outcome, actor="webhook", now=now)
                return Handled("applied" if changed else "ignored")
    if payment is None and event.reference:
        payment = session.scalar(select(Payment).filter_by(reference=event.reference))
    if payment is None:
        return Handled("unknown")
    before = _apply(session, payment, event.outcome, actor="webhook", now=now)
    return Handled("ignored") if before is None else Handled("applied", _settled(session, payment, before))


# --- pending lines --------------------------------------------------------------------------------------


#: Built once: the Account Summary runs it on every visit.
PENDING_PAYMENTS = (
    select(Payment)
    .where(
        Payment.account_no == bindparam("account_no"),
        Payment.customer_id == bindparam("customer_id"),
        Payment.status.in_((SUCCEEDED, PROCESSING)),
        Payment.posted_at.is_(None),
        ~exists().where(BillingPayment.reference == Payment.reference),
    )
    .order_by(Payment.created_at.desc(), Payment.id.desc())
)


def pending_payments(session: Session, account_no: str, customer_id: str) -> list[Payment]:
    """Portal payments no import has carried yet (by processor reference), newest first: succeeded ones, and
    bank debits still processing (they are on their way: paying again would pay twice)."""
    return list(session.scalars(PENDING_PAYMENTS, {"account_no": account_no, "customer_id": customer_id}))


#: Built once (the home page runs it on every visit): pending payments (as above) of some accounts.
PENDING_QUERY = select(Payment.account_no, Payment.customer_id, Payment.amount_cents).where(
    Payment.account_no.in_(bindparam("accounts", expanding=True)),
    Payment.status.in_((SUCCEEDED, PROCESSING)),
    Payment.posted_at.is_(None),
    ~exists().where(BillingPayment.reference == Payment.reference),
)


def pending_totals(session: Session, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
    """Pending cents per (account, customer), in one query."""
    if not pairs:
        return {}
    wanted = set(pairs)
    rows = session.connection().execute(PENDING_QUERY, {"accounts": sorted({a for a, _ in wanted})}).all()
    totals: dict[tuple[str, str], int] = {}
    for account_no, customer_id, cents in rows:
        if (account_no, customer_id) in wanted:
            totals[(account_no, customer_id)] = totals.get((account_no, customer_id), 0) + cents
    return totals


@dataclass(frozen=True)
class Owed:
    """What a customer owes on an account now, and the portal's payments the billing system has not posted yet."""

    balance_cents: int
    pending: tuple[Payment, ...]

    @property
    def pending_cents(self) -> int:
        """The pending payments' amounts (fees are the processor's, not the account's)."""
        return sum(p.amount_cents for p in self.pending)

    @property
    def cents(self) -> int:
        """The balance less the pending payments, never below zero (a credit is not owed back)."""
        return max(self.balance_cents - self.pending_cents, 0)


def amount_owed(session: Session, summary: AccountSummary) -> Owed:
    """The one rule for what is owed: the billing system's balance less the portal's succeeded payments it has
    not posted yet. The Pay page, Pay Now, the Account Summary and Auto Pay all ask this, and nothing else."""
    pending = pending_payments(session, summary.account_no, summary.customer_id)
    return Owed(to_cents(summary.current_balance), tuple(pending))


def match_posted(session: Session, *, now: datetime) -> int:
    """Mark succeeded payments that an import carried (same processor reference) as posted; return how many."""
    result = session.execute(
        update(Payment)
        .where(
            Payment.status == SUCCEEDED,
            Payment.posted_at.is_(None),
            exists().where(BillingPayment.reference == Payment.reference),
        )
        .values(posted_at=now)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- Auto Pay -------------------------------------------------------------------------------------------


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
    _audit(
        session,
        "autopay_setup",
        account_no=summary.account_no,
        actor="resident",
        now=now,
        resident_id=resident_id,
        enrolment=enrolment,
    )
    session.flush()
    return enrolment


def _autopay_change(session: Session, enrolment: AutopayEnrolment, status: str, now: datetime) -> None:
    payload: dict[str, object] = {"status": status}
    if status == "active":
        payload["max"] = f"{enrolment.max_cents / 100:.2f}" if enrolment.max_cents is not None else ""
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
    _lock(session, AutopayEnrolment, enrolment.id)
    session.refresh(enrolment)
    if enrolment.status != "setup" or outcome.status == OPEN:
        return False
    if outcome.status != SUCCEEDED or not outcome.method_id:
        enrolment.status, enrolment.updated_at = CANCELLED, now
        _audit(
            session,
            "autopay_setup_failed",
            account_no=enrolment.account_no,
            actor=actor,
            now=now,
            resident_id=enrolment.resident_id,
            enrolment=enrolment,
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
    _audit(
        session,
        "autopay_active",
        account_no=enrolment.account_no,
        actor=actor,
        now=now,
        resident_id=enrolment.resident_id,
        enrolment=enrolment,
        detail=outcome.method_label,
    )
    _autopay_change(session, enrolment, "active", now)
    session.flush()
    return True


def _move_charges(session: Session, old: AutopayEnrolment, new: AutopayEnrolment) -> None:
    """Charges scheduled on the old method are taken with the new one; those it took stay its own, and
    scheduling knows them (``_known_bills``), so a bill is still charged once."""
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
    _lock(session, AutopayEnrolment, enrolment.id)
    enrolment.max_cents, enrolment.updated_at = max_cents, now
    _audit(
        session,
        "autopay_changed",
        account_no=enrolment.account_no,
        actor="resident",
        now=now,
        resident_id=resident_id,
        enrolment=enrolment,
        detail=f"max {max_cents}",
    )
    _autopay_change(session, enrolment, "active", now)
    session.flush()


def cancel_enrolment(session: Session, enrolment: AutopayEnrolment, *, resident_id: int, now: datetime) -> None:
    """Stop Auto Pay: nothing scheduled is charged any more."""
    _lock(session, AutopayEnrolment, enrolment.id)
    enrolment.status, enrolment.updated_at = CANCELLED, now
    session.execute(
        update(AutopayCharge)
        .where(AutopayCharge.enrolment_id == enrolment.id, AutopayCharge.status == "scheduled")
        .values(status=CANCELLED)
    )
    _audit(
        session,
        "autopay_cancelled",
        account_no=enrolment.account_no,
        actor="resident",
        now=now,
        resident_id=resident_id,
        enrolment=enrolment,
    )
    _autopay_change(session, enrolment, CANCELLED, now)
    session.flush()


@dataclass(frozen=True)
class Notice:
    """An email to send after the job's commit."""

    to: str
    kind: str  #: over_max, charged, failed; receipt, processing, bank_failed, returned (``notice_for``)
    account_no: str
    amount_cents: int
    max_cents: int | None = None
    receipt_no: str = ""
    failure: str = ""


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
            if bill.bill_no in known or bill.balance <= 0 or bill.bill_date < enrolment.starts_on:
                continue
            amount = to_cents(bill.balance)
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
            _audit(
                session,
                action,
                account_no=enrolment.account_no,
                actor="job",
                now=now,
                resident_id=enrolment.resident_id,
                enrolment=enrolment,
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
        amount = min(charge.amount_cents, to_cents(bill.balance), amount_owed(session, summary).cents)
    if amount <= 0:
        charge.status = "paid"
        _audit(
            session,
            "autopay_not_needed",
            account_no=enrolment.account_no,
            actor="job",
            now=now,
            enrolment=enrolment,
            detail=charge.bill_no,
        )
        return None
    if enrolment.max_cents is not None and amount > enrolment.max_cents:
        charge.status = "over_max"
        _audit(
            session,
            "autopay_over_max",
            account_no=enrolment.account_no,
            actor="job",
            now=now,
            enrolment=enrolment,
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
        _audit(
            session,
            "payment_open",
            account_no=enrolment.account_no,
            actor="job",
            now=now,
            resident_id=enrolment.resident_id,
            payment=payment,
            detail=charge.bill_no,
        )
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


# --- staff console -------------------------------------------------------------------------------------


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
