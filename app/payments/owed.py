"""What is owed: the one rule, and the portal's payments the billing system has not posted yet (pending lines)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.orm import Session

from app.billing.models import BillingPayment
from app.billing.types import AccountSummary
from app.core.money import Money
from app.payments.models import Payment
from app.payments.processor import PROCESSING, SUCCEEDED

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
        return owed_cents(self.balance_cents, self.pending_cents)


def owed_cents(balance_cents: int, pending_cents: int) -> int:
    """The rule itself, on plain cents: the balance less the pending payments, never below zero."""
    return max(balance_cents - pending_cents, 0)


@dataclass(frozen=True)
class Due:
    """The one figure the pages show for what is due: the amount, its date, the part past due, what is posting."""

    amount: Money
    due_date: date | None
    past_due: Money
    pending: Money
    credit: Money

    @property
    def nothing_due(self) -> bool:
        """True when nothing is owed now (paid up, covered by pending payments, or in credit)."""
        return not self.amount


def what_is_due(balance_cents: int, pending_cents: int, past_due_cents: int, due_date: date | None) -> Due:
    """What is due from plain values: the balance less pending payments (``owed_cents``); the past-due part
    (bills whose due date has passed) less the same payments, since they pay the oldest bill first."""
    amount = owed_cents(balance_cents, pending_cents)
    past_due = min(max(past_due_cents - pending_cents, 0), amount)
    return Due(
        amount=Money(amount),
        due_date=due_date if amount else None,
        past_due=Money(past_due),
        pending=Money(max(pending_cents, 0)),
        credit=Money(max(pending_cents - balance_cents, 0)),
    )


def amount_owed(session: Session, summary: AccountSummary) -> Owed:
    """The one rule for what is owed: the billing system's balance less the portal's succeeded payments it has
    not posted yet. The Pay page, Pay Now, the Account Summary and Auto Pay all ask this, and nothing else."""
    pending = pending_payments(session, summary.account_no, summary.customer_id)
    return Owed(summary.current_balance.cents, tuple(pending))


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
