"""The connector to the billing system of record.

``BillingSource`` is the one interface the rest of the portal uses. ``SqlBillingSource`` is the first
implementation: a read model in the portal's own database, filled by ``flask billing demo`` or the import
of the billing extract. An HTTP connector can follow by implementing the same methods (with explicit
timeouts) and returning the same frozen dataclasses.

Every method takes the (account number, customer ID) pair that the resident proved by linking, and answers
only about that customer's own time on the account.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Protocol

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session

from app.billing.models import (
    BillingAccount,
    BillingBill,
    BillingBillLine,
    BillingCustomer,
    BillingMeterRead,
    BillingOccupancy,
    BillingPayment,
    BillingService,
)
from app.billing.types import (
    AccountHolder,
    AccountSummary,
    Bill,
    BillLine,
    Customer,
    Payment,
    Reading,
    Service,
    Tenure,
)

Pair = tuple[str, str]


def cents(value: int | None) -> Decimal:
    """Integer cents as a two-place ``Decimal`` of dollars."""
    return (Decimal(value or 0) / 100).quantize(Decimal("0.01"))


class BillingSource(Protocol):
    """What the portal may ask the billing system. Numbers are already normalised strings."""

    def find_tenure(self, account_no: str, customer_id: str) -> Tenure | None:
        """The customer's time on the account, or None when the pair does not exist (verification)."""
        ...

    def account_holder(self, account_no: str) -> AccountHolder | None:
        """The account's current customer, with their last name and last bill (the other linking proofs)."""
        ...

    def summaries(self, pairs: Sequence[Pair], *, today: date) -> dict[Pair, AccountSummary]:
        """Summaries for many pairs at once (in a constant number of round trips); unknown pairs are left out."""
        ...

    def customer(self, customer_id: str) -> Customer | None:
        """The customer's name and mailing address."""
        ...

    def services(self, account_no: str, customer_id: str) -> list[Service]:
        """Services on the account during the customer's time."""
        ...

    def bills(self, account_no: str, customer_id: str, *, limit: int | None = None, offset: int = 0) -> list[Bill]:
        """The customer's bills on the account, newest first, without lines (``limit`` of them from ``offset``)."""
        ...

    def bill(self, account_no: str, customer_id: str, bill_no: str) -> Bill | None:
        """One of the customer's bills with its lines."""
        ...

    def payments(
        self,
        account_no: str,
        customer_id: str,
        *,
        bill_no: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Payment]:
        """The customer's payments on the account (only those applied to ``bill_no`` if given), newest first."""
        ...

    def readings(self, account_no: str, customer_id: str, *, since: date) -> list[Reading]:
        """Monthly reads from ``since`` on, oldest first, limited to the customer's time on the account."""
        ...

    def set_bill_delivery(self, account_no: str, delivery: str) -> None:
        """Send the account's bills by ``"email"`` (paperless) or ``"paper"``; the caller commits."""
        ...

    def forget(self, account_no: str) -> None:
        """Drop anything remembered about the account (after a committed change)."""
        ...


class SqlBillingSource:
    """The billing read model in the portal's database (``app.billing.models``)."""

    def __init__(self, session: Callable[[], Session], writer: Callable[[], Session] | None = None) -> None:
        self._session = session
        self._writer = writer or session

    # --- helpers ------------------------------------------------------------------------------------

    def _occupancies(self, pairs: Iterable[Pair]) -> list[tuple[BillingAccount, BillingOccupancy]]:
        wanted = set(pairs)
        if not wanted:
            return []
        rows = (
            self._session()
            .execute(
                select(BillingAccount, BillingOccupancy)
                .join(BillingOccupancy, BillingOccupancy.account_id == BillingAccount.id)
                .where(
                    BillingAccount.account_no.in_({a for a, _ in wanted}),
                    BillingOccupancy.customer_id.in_({c for _, c in wanted}),
                )
                .order_by(BillingOccupancy.start_date)
            )
            .all()
        )
        return [(acc, occ) for acc, occ in rows if (acc.account_no, occ.customer_id) in wanted]

    @staticmethod
    def _tenures(rows: list[tuple[BillingAccount, BillingOccupancy]]) -> dict[Pair, Tenure]:
        """Merge a customer's occupancies of one account (moved out and back) into one span."""
        tenures: dict[Pair, Tenure] = {}
        for acc, occ in rows:
            key = (acc.account_no, occ.customer_id)
            previous = tenures.get(key)
            if previous is None:
                tenures[key] = Tenure(acc.account_no, occ.customer_id, occ.start_date, occ.end_date)
            else:
                end = None if previous.end is None or occ.end_date is None else max(previous.end, occ.end_date)
                tenures[key] = Tenure(key[0], key[1], min(previous.start, occ.start_date), end)
        return tenures

    # --- BillingSource ------------------------------------------------------------------------------

    def find_tenure(self, account_no: str, customer_id: str) -> Tenure | None:
        """The customer's time on the account, or None when the pair does not exist."""
        return self._tenures(self._occupancies([(account_no, customer_id)])).get((account_no, customer_id))

    def account_holder(self, account_no: str) -> AccountHolder | None:
        """The customer of the account's open occupancy (else of the one that started last), in two queries.

        None when there is no such account or it has no occupancy. The bill is that customer's newest on the
        account, never a previous occupant's, so the amount proves the same customer the link will record.
        """
        session = self._session()
        row = session.execute(
            select(BillingAccount.id, BillingOccupancy.customer_id)
            .join(BillingOccupancy, BillingOccupancy.account_id == BillingAccount.id)
            .where(BillingAccount.account_no == account_no)
            .order_by(
                case((BillingOccupancy.end_date.is_(None), 0), else_=1),
                BillingOccupancy.start_date.desc(),
                BillingOccupancy.id.desc(),
            )
            .limit(1)
        ).first()
        if row is None:
            return None
        account_id, customer_id = row
        last_bill = (
            select(BillingBill.amount_cents)
            .where(BillingBill.account_id == account_id, BillingBill.customer_id == customer_id)
            .order_by(BillingBill.bill_date.desc(), BillingBill.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        name = select(BillingCustomer.last_name).filter_by(customer_id=customer_id).scalar_subquery()
        last_name, amount = session.execute(select(name, last_bill)).one()
        return AccountHolder(account_no, customer_id, last_name or "", None if amount is None else cents(amount))

    def summaries(self, pairs: Sequence[Pair], *, today: date) -> dict[Pair, AccountSummary]:
        """Summaries for many pairs in two queries, however many pairs there are."""
        rows = self._occupancies(pairs)
        if not rows:
            return {}
        tenures = self._tenures(rows)
        accounts = {acc.account_no: acc for acc, _ in rows}
        unpaid = BillingBill.balance_cents > 0
        totals = {
            (account_id, customer_id): (balance, due_now, due_date, last_bill)
            for account_id, customer_id, balance, due_now, due_date, last_bill in self._session()
            .execute(
                select(
                    BillingBill.account_id,
                    BillingBill.customer_id,
                    func.sum(BillingBill.balance_cents),
                    func.sum(case((BillingBill.due_date <= today, BillingBill.balance_cents), else_=0)),
                    func.min(case((unpaid, BillingBill.due_date), else_=None)),
                    func.max(BillingBill.bill_date),
                )
                .where(
                    BillingBill.account_id.in_({acc.id for acc in accounts.values()}),
                    BillingBill.customer_id.in_({c for _, c in tenures}),
                )
                .group_by(BillingBill.account_id, BillingBill.customer_id)
            )
            .all()
        }
        result: dict[Pair, AccountSummary] = {}
        for key, tenure in tenures.items():
            acc = accounts[key[0]]
            balance, due_now, due_date, last_bill = totals.get((acc.id, key[1]), (0, 0, None, None))
            closed = acc.status == "closed" or tenure.end is not None
            result[key] = AccountSummary(
                account_no=acc.account_no,
                customer_id=key[1],
                service_address=acc.service_address,
                route=acc.route,
                status="closed" if closed else acc.status,
                bill_delivery=acc.bill_delivery,
                current_balance=cents(balance),
                amount_due_now=cents(max(due_now or 0, 0)),
                due_date=due_date,
                last_bill_date=last_bill,
                tenure=tenure,
            )
        return result

    def customer(self, customer_id: str) -> Customer | None:
        """The customer's name and mailing address."""
        row = self._session().scalar(select(BillingCustomer).filter_by(customer_id=customer_id))
        if row is None:
            return None
        return Customer(row.customer_id, row.name, row.mailing_address)

    def services(self, account_no: str, customer_id: str) -> list[Service]:
        """Services that overlap the customer's time on the account."""
        tenure = self.find_tenure(account_no, customer_id)
        if tenure is None:
            return []
        conditions = [
            BillingAccount.account_no == account_no,
            or_(BillingService.stop_date.is_(None), BillingService.stop_date >= tenure.start),
        ]
        if tenure.end is not None:
            conditions.append(BillingService.start_date <= tenure.end)
        rows = self._session().scalars(
            select(BillingService)
            .join(BillingAccount, BillingAccount.id == BillingService.account_id)
            .where(*conditions)
            .order_by(BillingService.code, BillingService.start_date)
        )
        return [Service(s.service, s.code, s.start_date, s.stop_date, s.status, s.metered) for s in rows]

    @staticmethod
    def _bill_filter(account_no: str, customer_id: str) -> ColumnElement[bool]:
        return and_(
            BillingBill.account_id == select(BillingAccount.id).filter_by(account_no=account_no).scalar_subquery(),
            BillingBill.customer_id == customer_id,
        )

    @staticmethod
    def _bill(row: BillingBill, lines: tuple[BillLine, ...] = ()) -> Bill:
        return Bill(
            bill_no=row.bill_no,
            bill_date=row.bill_date,
            due_date=row.due_date,
            amount=cents(row.amount_cents),
            balance=cents(row.balance_cents),
            is_final=row.is_final,
            lines=lines,
        )

    def bills(self, account_no: str, customer_id: str, *, limit: int | None = None, offset: int = 0) -> list[Bill]:
        """The customer's bills on the account, newest first (a page of them when ``limit`` is given)."""
        rows = self._session().scalars(
            select(BillingBill)
            .where(self._bill_filter(account_no, customer_id))
            .order_by(BillingBill.bill_date.desc(), BillingBill.id.desc())
            .limit(limit)
            .offset(offset or None)
        )
        return [self._bill(row) for row in rows]

    def bill(self, account_no: str, customer_id: str, bill_no: str) -> Bill | None:
        """One of the customer's bills with its lines."""
        row = self._session().scalar(
            select(BillingBill).where(self._bill_filter(account_no, customer_id), BillingBill.bill_no == bill_no)
        )
        if row is None:
            return None
        lines = self._session().scalars(
            select(BillingBillLine).filter_by(bill_id=row.id).order_by(BillingBillLine.line_no, BillingBillLine.id)
        )
        return self._bill(row, tuple(BillLine(ln.service, ln.description, cents(ln.amount_cents)) for ln in lines))

    def payments(
        self,
        account_no: str,
        customer_id: str,
        *,
        bill_no: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> list[Payment]:
        """The customer's payments on the account, newest first (of one bill, or a page, when asked)."""
        statement = (
            select(BillingPayment, BillingBill.bill_no)
            .join(BillingAccount, BillingAccount.id == BillingPayment.account_id)
            .outerjoin(BillingBill, BillingBill.id == BillingPayment.bill_id)
            .where(BillingAccount.account_no == account_no, BillingPayment.customer_id == customer_id)
            .order_by(BillingPayment.posted_on.desc(), BillingPayment.id.desc())
            .limit(limit)
            .offset(offset or None)
        )
        if bill_no is not None:
            statement = statement.where(BillingBill.bill_no == bill_no)
        rows = self._session().execute(statement).all()
        return [Payment(bill_no, p.posted_on, cents(p.amount_cents), p.method) for p, bill_no in rows]

    def readings(self, account_no: str, customer_id: str, *, since: date) -> list[Reading]:
        """Reads from ``since`` on whose whole period lies inside one of the customer's occupancies."""
        own_time = exists().where(
            BillingOccupancy.account_id == BillingMeterRead.account_id,
            BillingOccupancy.customer_id == customer_id,
            BillingOccupancy.start_date <= BillingMeterRead.period_start,
            or_(BillingOccupancy.end_date.is_(None), BillingOccupancy.end_date >= BillingMeterRead.period_end),
        )
        rows = self._session().scalars(
            select(BillingMeterRead)
            .join(BillingAccount, BillingAccount.id == BillingMeterRead.account_id)
            .where(and_(BillingAccount.account_no == account_no, BillingMeterRead.period_start >= since, own_time))
            .order_by(BillingMeterRead.period_start, BillingMeterRead.service)
        )
        return [Reading(r.service, r.period_start, r.period_end, r.consumption, r.unit) for r in rows]

    def set_bill_delivery(self, account_no: str, delivery: str) -> None:
        """Update the account row in the request's transaction (the view commits it with the audit row)."""
        if delivery not in ("paper", "email"):
            raise ValueError(f"unknown bill delivery {delivery!r}")
        self._writer().execute(
            update(BillingAccount).where(BillingAccount.account_no == account_no).values(bill_delivery=delivery)
        )

    def forget(self, account_no: str) -> None:
        """Nothing is remembered here."""
        return None
