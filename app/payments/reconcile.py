"""Daily reconciliation: the processor's own books for one city day against the portal's payments.

``reconcile_day`` asks the processor for every charge and refund it created during the day (the city's day,
``CITY_TIMEZONE``: local midnight to midnight, 23 or 25 hours on the days the clocks change), matches them
with the portal's payments by processor reference, and records the run and each difference in it. A charge
made on the day is compared whenever the portal recorded it; a payment the portal recorded on the day but the
processor charged on another (a page paid after midnight) is looked up at the processor by its reference.
A return or dispute later than the day shows in the portal as ``returned`` and at the processor as a
dispute, which is not in these lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.money import Money
from app.payments.models import Payment, ReconciliationMismatch, ReconciliationRun
from app.payments.processor import PROCESSING, SUCCEEDED, PaymentProcessor, ProcessorRecord, ProcessorUnavailable

#: Statuses in which money has moved (or is moving) on either side.
MOVED = (SUCCEEDED, PROCESSING)
PROCESSOR_ONLY = "processor_only"
PORTAL_ONLY = "portal_only"
AMOUNT = "amount"


@dataclass(frozen=True)
class Difference:
    """One mismatch, as plain values."""

    kind: str
    reference: str
    processor_cents: int | None
    portal_cents: int | None
    receipt_no: str = ""
    account_no: str = ""
    detail: str = ""

    def line(self) -> str:
        """One line of the command's report."""
        money = " ".join(
            f"{side} {Money(cents).plain()}"
            for side, cents in (("processor", self.processor_cents), ("portal", self.portal_cents))
            if cents is not None
        )
        receipt = f" receipt {self.receipt_no} account {self.account_no}" if self.receipt_no else ""
        return f"{self.kind:<15} {self.reference}: {money}{receipt} ({self.detail})"


@dataclass(frozen=True)
class Report:
    """A run's result, read before the commit."""

    day: date
    processor: str
    outcome: str  #: clean, mismatches, failed
    charges: int
    refunds: int
    payments: int
    differences: tuple[Difference, ...]
    error: str = ""

    def lines(self) -> list[str]:
        """The report as the command prints it."""
        if self.outcome == "failed":
            return [f"Reconciliation of {self.day} ({self.processor}) failed: {self.error}"]
        head = (
            f"Reconciliation of {self.day} ({self.processor}): {self.charges} charges and {self.refunds} refunds "
            f"at the processor, {self.payments} payments in the portal."
        )
        tail = f"{len(self.differences)} mismatches." if self.differences else "Clean: no mismatches."
        return [head, *(d.line() for d in self.differences), tail]


def day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants where the city's ``day`` begins and where the next one begins."""
    start = datetime.combine(day, time(0), zone)
    end = datetime.combine(day + timedelta(days=1), time(0), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _by_reference(session: Session, processor: str, references: Iterable[str]) -> dict[str, Payment]:
    wanted = sorted(set(references))
    found: dict[str, Payment] = {}
    for at in range(0, len(wanted), 500):
        query = select(Payment).where(Payment.processor == processor, Payment.reference.in_(wanted[at : at + 500]))
        found.update({p.reference: p for p in session.scalars(query) if p.reference})
    return found


def _charged(payment: Payment) -> int:
    """What the processor should have taken for a payment: its amount and its fee."""
    return payment.amount_cents + payment.fee_cents


def _compare_charge(record: ProcessorRecord, payment: Payment | None) -> Difference | None:
    there, here = record.status in MOVED, payment is not None and payment.status in MOVED
    portal = _charged(payment) if payment is not None else None
    receipt = (payment.receipt_no, payment.account_no) if payment is not None else ("", "")
    status = f"processor {record.status}, portal {payment.status if payment is not None else 'has no payment'}"
    if there and not here:
        return Difference(PROCESSOR_ONLY, record.reference, record.amount_cents, portal, *receipt, status)
    if here and not there:
        return Difference(PORTAL_ONLY, record.reference, record.amount_cents, portal, *receipt, status)
    if here and there and record.amount_cents != portal:
        return Difference(AMOUNT, record.reference, record.amount_cents, portal, *receipt, status)
    return None


def compare(
    session: Session, processor: PaymentProcessor, records: Sequence[ProcessorRecord], start: datetime, end: datetime
) -> tuple[list[Difference], int]:
    """The differences between the processor's records of ``[start, end)`` and the portal's payments of it,
    and how many portal payments of the window count as paid."""
    charges = [r for r in records if r.kind == "charge" and r.reference]
    refunds = [r for r in records if r.kind == "refund"]
    known = _by_reference(session, processor.name, [r.reference for r in [*charges, *refunds]])
    differences = [d for r in charges if (d := _compare_charge(r, known.get(r.reference))) is not None]
    for refund in refunds:
        payment = known.get(refund.reference)
        differences.append(
            Difference(
                PROCESSOR_ONLY,
                refund.reference,
                refund.amount_cents,
                None,
                payment.receipt_no if payment is not None else "",
                payment.account_no if payment is not None else "",
                f"refund {refund.id} ({refund.status}), not recorded in the portal",
            )
        )
    listed = {r.reference for r in charges}
    ours = list(
        session.scalars(
            select(Payment)
            .where(
                Payment.processor == processor.name,
                Payment.status.in_(MOVED),
                Payment.created_at >= start,
                Payment.created_at < end,
            )
            .order_by(Payment.id)
        )
    )
    for payment in ours:
        if payment.reference in listed:
            continue  # compared above
        record = processor.find_charge(payment.reference) if payment.reference else None
        if record is None:
            detail = f"processor has no charge, portal {payment.status}"
            differences.append(
                Difference(
                    PORTAL_ONLY,
                    payment.reference or "",
                    None,
                    _charged(payment),
                    payment.receipt_no,
                    payment.account_no,
                    detail,
                )
            )
        elif (found := _compare_charge(record, payment)) is not None:
            differences.append(found)
    return differences, len(ours)


def reconcile_day(session: Session, processor: PaymentProcessor, *, day: date, zone: ZoneInfo, now: datetime) -> Report:
    """Reconcile the city's ``day`` and record the run (the caller commits); a processor that cannot be
    asked records a failed run."""
    start, end = day_bounds(day, zone)
    run = ReconciliationRun(day=day, processor=processor.name, ran_at=now, outcome="failed")
    session.add(run)
    try:
        records = processor.records(start, end)
        differences, payments = compare(session, processor, records, start, end)
    except ProcessorUnavailable as exc:
        run.error = str(exc)[:200]
        session.flush()
        return Report(day, processor.name, "failed", 0, 0, 0, (), run.error)
    run.outcome = "mismatches" if differences else "clean"
    run.processor_charges = sum(r.kind == "charge" for r in records)
    run.processor_refunds = sum(r.kind == "refund" for r in records)
    run.portal_payments = payments
    session.flush()
    for d in differences:
        session.add(
            ReconciliationMismatch(
                run_id=run.id,
                kind=d.kind,
                reference=d.reference[:200],
                receipt_no=d.receipt_no,
                account_no=d.account_no,
                processor_cents=d.processor_cents,
                portal_cents=d.portal_cents,
                detail=d.detail[:200],
            )
        )
    session.flush()
    return Report(
        day,
        processor.name,
        run.outcome,
        run.processor_charges,
        run.processor_refunds,
        payments,
        tuple(differences),
    )


def last_run(session: Session) -> tuple[ReconciliationRun | None, list[ReconciliationMismatch]]:
    """The latest reconciliation run and its mismatches (for the staff console)."""
    latest = select(ReconciliationRun).order_by(ReconciliationRun.ran_at.desc(), ReconciliationRun.id.desc())
    run = session.scalar(latest)
    if run is None:
        return None, []
    mismatches = session.scalars(
        select(ReconciliationMismatch).filter_by(run_id=run.id).order_by(ReconciliationMismatch.id)
    )
    return run, list(mismatches)
