"""The city's billing system as the tests play it: one account's ledger, written out as billing extracts.

It issues bills, posts payments (the portal's, read from the changes file ``flask billing export-changes``
writes, and payments made at the office), and writes full and incremental extracts in the documented format
(``docs/billing-extract.md``), which a test loads with ``flask billing import``: the path real data takes.
A payment is applied to the oldest bills first; what is left over is a credit on the newest bill.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from app.billing.extract import FORMAT_VERSION, FULL, INCREMENTAL, MANIFEST, SPECS
from app.core.money import Money

ACCOUNT = "100001"
CUSTOMER = "2000001"


@dataclass(frozen=True)
class LedgerBill:
    """A bill as the billing system keeps it; ``balance_cents`` falls as payments post."""

    bill_no: str
    bill_date: date
    due_date: date
    amount_cents: int
    balance_cents: int


@dataclass(frozen=True)
class LedgerPayment:
    """A payment the billing system posted; ``reference`` is the processor's, for a payment made in the portal."""

    payment_id: str
    posted_on: date
    amount_cents: int
    method: str
    reference: str | None


@dataclass(frozen=True)
class Snapshot:
    """What the portal was last given: the bills and the references of the payments posted by then."""

    bills: dict[str, LedgerBill]
    references: frozenset[str]

    @property
    def balance_cents(self) -> int:
        """The account's balance as the portal shows it (the sum of its bills' balances)."""
        return sum(b.balance_cents for b in self.bills.values())


@dataclass
class BillingSystem:
    """One customer's account at the billing system, opened on ``opened``."""

    opened: date
    bills: dict[str, LedgerBill] = field(default_factory=dict)
    payments: dict[str, LedgerPayment] = field(default_factory=dict)
    #: Bills and payments new or changed since the last extract the portal imported (an incremental carries them).
    changed_bills: set[str] = field(default_factory=set)
    changed_payments: set[str] = field(default_factory=set)
    #: Names of the changes files already read.
    read_files: set[str] = field(default_factory=set)
    snapshot: Snapshot = field(default_factory=lambda: Snapshot({}, frozenset()))

    def issue_bill(self, *, today: date, amount_cents: int, due_in_days: int) -> LedgerBill:
        """A new bill dated ``today``."""
        bill = LedgerBill(
            f"{ACCOUNT}-{len(self.bills) + 1:04d}",
            today,
            today + timedelta(days=due_in_days),
            amount_cents,
            amount_cents,
        )
        self.bills[bill.bill_no] = bill
        self.changed_bills.add(bill.bill_no)
        return bill

    def post_payment(
        self, *, today: date, amount_cents: int, method: str, reference: str | None = None
    ) -> LedgerPayment:
        """Post a payment: the oldest bills' balances first, the rest as a credit on the newest bill."""
        payment = LedgerPayment(f"P-{len(self.payments) + 1:05d}", today, amount_cents, method, reference)
        self.payments[payment.payment_id] = payment
        self.changed_payments.add(payment.payment_id)
        left = amount_cents
        ordered = sorted(self.bills.values(), key=lambda b: (b.due_date, b.bill_no))
        for bill in ordered:
            if left <= 0:
                break
            applied = min(left, max(bill.balance_cents, 0))
            if applied:
                self._set_balance(bill, bill.balance_cents - applied)
                left -= applied
        if left and ordered:
            newest = self.bills[ordered[-1].bill_no]
            self._set_balance(newest, newest.balance_cents - left)
        return payment

    def _set_balance(self, bill: LedgerBill, balance_cents: int) -> None:
        self.bills[bill.bill_no] = replace(bill, balance_cents=balance_cents)
        self.changed_bills.add(bill.bill_no)

    def posted_references(self) -> set[str]:
        """References of the portal's payments posted so far."""
        return {p.reference for p in self.payments.values() if p.reference}

    def reverse_payment(self, reference: str) -> None:
        """A portal payment the bank returned: what it paid is owed again, on the newest bill."""
        paid = sum(p.amount_cents for p in self.payments.values() if p.reference == reference)
        assert paid, f"the returned payment {reference} was never posted"
        newest = max(self.bills.values(), key=lambda b: (b.due_date, b.bill_no))
        self._set_balance(newest, newest.balance_cents + paid)

    def read_changes(self, folder: Path) -> list[tuple[str, dict[str, str]]]:
        """The ``payment`` and ``payment_returned`` rows of the changes files in ``folder`` not read before, in
        order: each row's kind and JSON value."""
        found = []
        for path in sorted(folder.glob("portal-changes-*.csv")):
            if path.name in self.read_files:
                continue
            self.read_files.add(path.name)
            with path.open(encoding="utf-8", newline="") as handle:
                found += [
                    (row["kind"], json.loads(row["value"]))
                    for row in csv.DictReader(handle)
                    if row["kind"] in ("payment", "payment_returned")
                ]
        return found

    def write_extract(self, folder: Path, *, kind: str, today: date) -> Path:
        """Write a full extract (everything) or an incremental one (bills and payments changed since the last
        import) into ``folder``; ``imported()`` records it once the portal took it."""
        folder.mkdir(parents=True)
        with (folder / MANIFEST).open("w", encoding="utf-8", newline="") as manifest:
            manifest.write(
                "extract_kind,since,generated_at,format_version\n"
                f"{kind},{'' if kind == FULL else today.isoformat()},{today.isoformat()},{FORMAT_VERSION}\n"
            )
        bills = self.bills if kind == FULL else {n: self.bills[n] for n in sorted(self.changed_bills)}
        payments = self.payments if kind == FULL else {n: self.payments[n] for n in sorted(self.changed_payments)}
        rows: dict[str, list[tuple[object, ...]]] = {
            "customers": [(CUSTOMER, "Pat Example", "Example", "12 Elm St\nSpringfield, ST 12345")],
            "accounts": [(ACCOUNT, CUSTOMER, "12 Elm St", "R01", "active", "paper", self.opened.isoformat(), "")],
            "occupancies": [(ACCOUNT, CUSTOMER, self.opened.isoformat(), "")],
            "services": [(ACCOUNT, "WATER", "1000", self.opened.isoformat(), "", "active", "true")],
            "bills": [
                (
                    b.bill_no,
                    ACCOUNT,
                    CUSTOMER,
                    b.bill_date.isoformat(),
                    b.due_date.isoformat(),
                    Money(b.amount_cents).plain(),
                    Money(b.balance_cents).plain(),
                    "false",
                )
                for b in bills.values()
            ],
            "bill_lines": [(b.bill_no, 1, "WATER", "Water", Money(b.amount_cents).plain()) for b in bills.values()],
            "payments": [
                (
                    p.payment_id,
                    ACCOUNT,
                    CUSTOMER,
                    "",
                    p.posted_on.isoformat(),
                    Money(p.amount_cents).plain(),
                    p.method,
                    p.reference or "",
                )
                for p in payments.values()
            ],
            "meter_reads": [],
        }
        for spec in SPECS:
            if kind == INCREMENTAL and not spec.incremental:
                continue
            with (folder / spec.filename).open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(spec.names)
                writer.writerows(rows[spec.kind])
        return folder

    def imported(self) -> None:
        """The portal imported the last extract written: it now shows the ledger as it is."""
        self.snapshot = Snapshot(dict(self.bills), frozenset(self.posted_references()))
        self.changed_bills.clear()
        self.changed_payments.clear()


def cents_of(amount: str) -> int:
    """``"12.34"`` (the changes file's amounts) as cents."""
    return int(Decimal(amount) * 100)
