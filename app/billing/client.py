"""The connector to the billing system of record.

``BillingSource`` is the one interface the rest of the portal uses. ``SqlBillingSource`` is the first
implementation: a read model in the portal's own database, filled by ``flask billing demo`` or the import
of the billing extract. An HTTP connector can follow by implementing the same methods (with explicit
timeouts) and returning the same frozen dataclasses.

Every method takes the (account number, customer ID) pair that the resident proved by linking, and answers
only about that customer's own time on the account.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, Protocol

from sqlalchemy import Date, Integer, String, and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select
from sqlalchemy.sql.expression import BindParameter, Executable

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
from app.core.money import Money

Pair = tuple[str, str]


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


def _summaries_statement() -> Select[Any]:
    """Every summary of the pairs among ``accounts`` x ``customers``, in one statement built once.

    One row per (account, customer): the account's columns, the customer's time on it (occupancies merged:
    the earliest start, and no end while any occupancy is open) and the sums over the customer's bills.
    """
    account, occupancy, bill = BillingAccount.__table__, BillingOccupancy.__table__, BillingBill.__table__
    accounts: BindParameter[str] = bindparam("accounts", expanding=True)
    customers: BindParameter[str] = bindparam("customers", expanding=True)
    totals = (
        select(
            bill.c.account_no,
            bill.c.customer_id,
            func.sum(bill.c.balance_cents).label("balance"),
            func.sum(case((bill.c.due_date <= bindparam("today"), bill.c.balance_cents), else_=0)).label("due_now"),
            func.min(case((bill.c.balance_cents > 0, bill.c.due_date), else_=None)).label("due_date"),
            func.max(bill.c.bill_date).label("last_bill"),
        )
        .where(
            bill.c.account_no.in_(accounts),
            bill.c.customer_id.in_(customers),
        )
        .group_by(bill.c.account_no, bill.c.customer_id)
        .subquery("totals")
    )
    return (
        select(
            account.c.account_no,
            occupancy.c.customer_id,
            account.c.service_address,
            account.c.route,
            account.c.status,
            account.c.bill_delivery,
            func.min(occupancy.c.start_date).label("start"),
            case((func.count(occupancy.c.end_date) == func.count(), func.max(occupancy.c.end_date)), else_=None).label(
                "end"
            ),
            func.max(totals.c.balance).label("balance"),
            func.max(totals.c.due_now).label("due_now"),
            func.max(totals.c.due_date).label("due_date"),
            func.max(totals.c.last_bill).label("last_bill"),
        )
        .select_from(
            account.join(occupancy, occupancy.c.account_no == account.c.account_no).outerjoin(
                totals,
                and_(totals.c.account_no == account.c.account_no, totals.c.customer_id == occupancy.c.customer_id),
            )
        )
        .where(account.c.account_no.in_(accounts), occupancy.c.customer_id.in_(customers))
        .group_by(
            account.c.account_no,
            occupancy.c.customer_id,
            account.c.service_address,
            account.c.route,
            account.c.status,
            account.c.bill_delivery,
        )
    )


SUMMARIES = _summaries_statement()

_ACCOUNT, _OCCUPANCY, _BILL = BillingAccount.__table__, BillingOccupancy.__table__, BillingBill.__table__
_CUSTOMER, _SERVICE = BillingCustomer.__table__, BillingService.__table__
_PAYMENT, _READ = BillingPayment.__table__, BillingMeterRead.__table__
#: The account number every per-account statement binds.
_ACCOUNT_NO = bindparam("account_no", type_=String)
#: One customer's time on one account (occupancies merged as in ``SUMMARIES``); no row when it has none.
TENURE = (
    select(
        func.min(_OCCUPANCY.c.start_date).label("start"),
        case((func.count(_OCCUPANCY.c.end_date) == func.count(), func.max(_OCCUPANCY.c.end_date)), else_=None).label(
            "end"
        ),
    )
    .where(_OCCUPANCY.c.account_no == _ACCOUNT_NO, _OCCUPANCY.c.customer_id == bindparam("customer_id"))
    .having(func.count() > 0)
)
CUSTOMER = select(_CUSTOMER.c.customer_id, _CUSTOMER.c.name, _CUSTOMER.c.mailing_address).where(
    _CUSTOMER.c.customer_id == bindparam("customer_id")
)
_BILL_COLUMNS = (
    _BILL.c.bill_no,
    _BILL.c.bill_date,
    _BILL.c.due_date,
    _BILL.c.amount_cents,
    _BILL.c.balance_cents,
    _BILL.c.is_final,
)
_OWN_BILLS = (_BILL.c.account_no == _ACCOUNT_NO, _BILL.c.customer_id == bindparam("customer_id"))
BILL = select(*_BILL_COLUMNS).where(*_OWN_BILLS, _BILL.c.bill_no == bindparam("bill_no"))
BILL_LINES = (
    select(BillingBillLine.service, BillingBillLine.description, BillingBillLine.amount_cents)
    .where(BillingBillLine.bill_no == bindparam("bill_no"))
    .order_by(BillingBillLine.line_no)
)
READINGS = (
    select(_READ.c.service, _READ.c.period_start, _READ.c.period_end, _READ.c.consumption, _READ.c.unit)
    .where(
        _READ.c.account_no == _ACCOUNT_NO,
        _READ.c.period_start >= bindparam("since"),
        exists().where(
            _OCCUPANCY.c.account_no == _READ.c.account_no,
            _OCCUPANCY.c.customer_id == bindparam("customer_id"),
            _OCCUPANCY.c.start_date <= _READ.c.period_start,
            or_(_OCCUPANCY.c.end_date.is_(None), _OCCUPANCY.c.end_date >= _READ.c.period_end),
        ),
    )
    .order_by(_READ.c.period_start, _READ.c.service)
)


@functools.cache
def _bills_statement(limited: bool, offset: bool) -> Select[Any]:
    """The customer's bills newest first; with ``limit`` / ``offset`` bound when asked (built once per shape)."""
    statement = select(*_BILL_COLUMNS).where(*_OWN_BILLS).order_by(_BILL.c.bill_date.desc(), _BILL.c.bill_no.desc())
    if limited:
        statement = statement.limit(bindparam("limit", type_=Integer))
    if offset:
        statement = statement.offset(bindparam("offset", type_=Integer))
    return statement


@functools.cache
def _payments_statement(by_bill: bool, limited: bool, offset: bool) -> Select[Any]:
    """The customer's payments newest first, with the bill number each was applied to (built once per shape)."""
    statement = (
        select(_PAYMENT.c.bill_no, _PAYMENT.c.posted_on, _PAYMENT.c.amount_cents, _PAYMENT.c.method)
        .where(_PAYMENT.c.account_no == _ACCOUNT_NO, _PAYMENT.c.customer_id == bindparam("customer_id"))
        .order_by(_PAYMENT.c.posted_on.desc(), _PAYMENT.c.payment_id.desc())
    )
    if by_bill:
        statement = statement.where(_PAYMENT.c.bill_no == bindparam("bill_no"))
    if limited:
        statement = statement.limit(bindparam("limit", type_=Integer))
    if offset:
        statement = statement.offset(bindparam("offset", type_=Integer))
    return statement


@functools.cache
def _services_statement(ended: bool) -> Select[Any]:
    """Services of an account overlapping a time from ``start`` (to ``end`` when ``ended``), built once per shape."""
    statement = (
        select(
            _SERVICE.c.service,
            _SERVICE.c.code,
            _SERVICE.c.start_date,
            _SERVICE.c.stop_date,
            _SERVICE.c.status,
            _SERVICE.c.metered,
        )
        .where(
            _SERVICE.c.account_no == _ACCOUNT_NO,
            or_(_SERVICE.c.stop_date.is_(None), _SERVICE.c.stop_date >= bindparam("start", type_=Date)),
        )
        .order_by(_SERVICE.c.code, _SERVICE.c.start_date)
    )
    if ended:
        statement = statement.where(_SERVICE.c.start_date <= bindparam("end", type_=Date))
    return statement


class SqlBillingSource:
    """The billing read model in the portal's database (``app.billing.models``)."""

    def __init__(self, session: Callable[[], Session], writer: Callable[[], Session] | None = None) -> None:
        self._session = session
        self._writer = writer or session

    # --- BillingSource ------------------------------------------------------------------------------

    def _read(self, statement: Executable, **params: Any) -> Any:
        """Run a statement built once, on the read session's connection (no ORM objects)."""
        return self._session().connection().execute(statement, params)

    def find_tenure(self, account_no: str, customer_id: str) -> Tenure | None:
        """The customer's time on the account, or None when the pair does not exist."""
        row = self._read(TENURE, account_no=account_no, customer_id=customer_id).first()
        return Tenure(account_no, customer_id, row.start, row.end) if row is not None else None

    def account_holder(self, account_no: str) -> AccountHolder | None:
        """The customer of the account's open occupancy (else of the one that started last), in two queries.

        None when there is no such account or it has no occupancy. The bill is that customer's newest on the
        account, never a previous occupant's, so the amount proves the same customer the link will record.
        """
        session = self._session()
        row = session.execute(
            select(BillingOccupancy.customer_id)
            .where(BillingOccupancy.account_no == account_no)
            .order_by(
                case((BillingOccupancy.end_date.is_(None), 0), else_=1),
                BillingOccupancy.start_date.desc(),
                BillingOccupancy.customer_id.desc(),
            )
            .limit(1)
        ).first()
        if row is None:
            return None
        (customer_id,) = row
        last_bill = (
            select(BillingBill.amount_cents)
            .where(BillingBill.account_no == account_no, BillingBill.customer_id == customer_id)
            .order_by(BillingBill.bill_date.desc(), BillingBill.bill_no.desc())
            .limit(1)
            .scalar_subquery()
        )
        name = select(BillingCustomer.last_name).filter_by(customer_id=customer_id).scalar_subquery()
        last_name, amount = session.execute(select(name, last_bill)).one()
        return AccountHolder(account_no, customer_id, last_name or "", None if amount is None else Money(amount))

    def summaries(self, pairs: Sequence[Pair], *, today: date) -> dict[Pair, AccountSummary]:
        """Summaries for many pairs in one prepared statement, however many pairs there are."""
        wanted = set(pairs)
        if not wanted:
            return {}
        rows = (
            self._session()
            .connection()
            .execute(
                SUMMARIES,
                {
                    "accounts": sorted({a for a, _ in wanted}),
                    "customers": sorted({c for _, c in wanted}),
                    "today": today,
                },
            )
        )
        result: dict[Pair, AccountSummary] = {}
        for row in rows:
            key = (row.account_no, row.customer_id)
            if key not in wanted:
                continue
            tenure = Tenure(row.account_no, row.customer_id, row.start, row.end)
            closed = row.status == "closed" or row.end is not None
            result[key] = AccountSummary(
                account_no=row.account_no,
                customer_id=row.customer_id,
                service_address=row.service_address,
                route=row.route,
                status="closed" if closed else row.status,
                bill_delivery=row.bill_delivery,
                current_balance=Money.of(row.balance),
                amount_due_now=Money(max(row.due_now or 0, 0)),
                due_date=row.due_date,
                last_bill_date=row.last_bill,
                tenure=tenure,
            )
        return result

    def customer(self, customer_id: str) -> Customer | None:
        """The customer's name and mailing address."""
        row = self._read(CUSTOMER, customer_id=customer_id).first()
        return Customer(*row) if row is not None else None

    def services(self, account_no: str, customer_id: str) -> list[Service]:
        """Services that overlap the customer's time on the account."""
        tenure = self.find_tenure(account_no, customer_id)
        if tenure is None:
            return []
        params: dict[str, Any] = {"account_no": account_no, "start": tenure.start}
        if tenure.end is not None:
            params["end"] = tenure.end
        return [Service(*row) for row in self._read(_services_statement(tenure.end is not None), **params)]

    @staticmethod
    def _bill(row: Any, lines: tuple[BillLine, ...] = ()) -> Bill:
        return Bill(
            bill_no=row.bill_no,
            bill_date=row.bill_date,
            due_date=row.due_date,
            amount=Money.of(row.amount_cents),
            balance=Money.of(row.balance_cents),
            is_final=row.is_final,
            lines=lines,
        )

    @staticmethod
    def _window(limit: int | None, offset: int) -> dict[str, int]:
        window = {"limit": limit} if limit is not None else {}
        return window | ({"offset": offset} if offset else {})

    def bills(self, account_no: str, customer_id: str, *, limit: int | None = None, offset: int = 0) -> list[Bill]:
        """The customer's bills on the account, newest first (a page of them when ``limit`` is given)."""
        statement = _bills_statement(limit is not None, bool(offset))
        rows = self._read(statement, account_no=account_no, customer_id=customer_id, **self._window(limit, offset))
        return [self._bill(row) for row in rows]

    def bill(self, account_no: str, customer_id: str, bill_no: str) -> Bill | None:
        """One of the customer's bills with its lines."""
        row = self._read(BILL, account_no=account_no, customer_id=customer_id, bill_no=bill_no).first()
        if row is None:
            return None
        lines = self._read(BILL_LINES, bill_no=row.bill_no)
        return self._bill(row, tuple(BillLine(service, text, Money.of(amount)) for service, text, amount in lines))

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
        statement = _payments_statement(bill_no is not None, limit is not None, bool(offset))
        params: dict[str, Any] = {"account_no": account_no, "customer_id": customer_id, **self._window(limit, offset)}
        if bill_no is not None:
            params["bill_no"] = bill_no
        return [
            Payment(number, posted, Money.of(amount), method)
            for number, posted, amount, method in self._read(statement, **params)
        ]

    def readings(self, account_no: str, customer_id: str, *, since: date) -> list[Reading]:
        """Reads from ``since`` on whose whole period lies inside one of the customer's occupancies."""
        rows = self._read(READINGS, account_no=account_no, customer_id=customer_id, since=since)
        return [Reading(*row) for row in rows]

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
