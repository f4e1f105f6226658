"""Values the billing connector returns: frozen dataclasses, never ORM rows or JSON dicts.

Money is :class:`app.core.money.Money` (integer cents); dates are calendar dates in the utility's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from app.core.money import Money


@dataclass(frozen=True)
class Tenure:
    """A customer's own time on an account: move-in to move-out (``end`` is None while they live there)."""

    account_no: str
    customer_id: str
    start: date
    end: date | None

    @property
    def is_current(self) -> bool:
        """True while the customer still lives at the service address."""
        return self.end is None


@dataclass(frozen=True)
class AccountHolder:
    """An account's current customer (of its open occupancy, else its latest) and what linking may check.

    ``last_bill_amount`` is the amount of that customer's most recent bill on the account (None: no bill yet).
    """

    account_no: str
    customer_id: str
    last_name: str
    last_bill_amount: Money | None


@dataclass(frozen=True)
class Customer:
    """The billing system's customer: whoever is responsible for paying."""

    customer_id: str
    name: str
    mailing_address: str


@dataclass(frozen=True)
class AccountSummary:
    """One account as seen by one of its customers, over that customer's own time on it."""

    account_no: str
    customer_id: str
    service_address: str
    route: str
    status: str  #: "active" or "closed" (closed also when this customer moved out)
    bill_delivery: str  #: "paper" or "email"
    current_balance: Money
    amount_due_now: Money
    due_date: date | None
    last_bill_date: date | None
    tenure: Tenure

    @property
    def is_closed(self) -> bool:
        """True when the account is closed for this customer."""
        return self.status == "closed"


@dataclass(frozen=True)
class Service:
    """A service on an account, such as WATER 1000."""

    service: str
    code: str
    start_date: date
    stop_date: date | None
    status: str  #: "active" or "inactive"
    metered: bool


@dataclass(frozen=True)
class BillLine:
    """One charge on a bill."""

    service: str
    description: str
    amount: Money


@dataclass(frozen=True)
class Bill:
    """A bill; ``lines`` is filled only when one bill is asked for."""

    bill_no: str
    bill_date: date
    due_date: date
    amount: Money
    balance: Money
    is_final: bool
    lines: tuple[BillLine, ...] = field(default=())


@dataclass(frozen=True)
class Payment:
    """A posted payment, applied to a bill when ``bill_no`` is set."""

    bill_no: str | None
    posted_on: date
    amount: Money
    method: str


@dataclass(frozen=True)
class Reading:
    """A monthly meter read: the consumption between two reads."""

    service: str
    period_start: date
    period_end: date
    consumption: int
    unit: str
