"""The bill pages' models: what the Account Summary, bill and consumption pages show, from a ``BillingSource``.

Functions take plain values (the linked pair, today's date) and return frozen dataclasses; they never touch
the request. Chart geometry is computed here so that templates only print numbers (no inline style).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TypeVar

from app.billing.client import BillingSource
from app.billing.types import AccountSummary, Bill, Customer, Payment, Reading, Service, Tenure
from app.core.money import ZERO, Money

T = TypeVar("T")

#: How many months the consumption history shows.
CONSUMPTION_MONTHS = 24


@dataclass(frozen=True)
class PaymentsOverview:
    """Payments toward the latest bill: which bill, when a payment last posted, and their sum."""

    bill_no: str | None
    last_posted: date | None
    total: Money


@dataclass(frozen=True)
class Statement:
    """Everything on the Account Summary page."""

    summary: AccountSummary
    customer: Customer | None
    services: list[Service]
    payments: PaymentsOverview


@dataclass(frozen=True)
class Bar:
    """One month's bar in the consumption chart, in SVG user units."""

    period_start: date
    consumption: int | None
    x: float
    y: float
    width: float
    height: float
    label_x: float
    show_label: bool
    major_label: bool  #: still labelled on a narrow screen, where only every sixth month is


@dataclass(frozen=True)
class Tick:
    """A horizontal grid line of the chart."""

    value: int
    y: float


@dataclass(frozen=True)
class Chart:
    """Geometry of the consumption bar chart."""

    width: int
    height: int
    left: int
    bottom: float
    right: float
    bars: list[Bar]
    ticks: list[Tick]


@dataclass(frozen=True)
class ConsumptionHistory:
    """Monthly reads of one account over the last months, with the chart and a few plain-language facts."""

    service: str | None
    unit: str
    months: list[date]
    readings: list[Reading]
    chart: Chart
    highest: Reading | None
    lowest: Reading | None
    average: int | None


def month_start(day: date, months_back: int = 0) -> date:
    """The first day of the month ``months_back`` months before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def payments_overview(bills: Sequence[Bill], payments: Sequence[Payment]) -> PaymentsOverview:
    """Summarise the payments applied to the newest bill (``bills`` newest first)."""
    if not bills:
        return PaymentsOverview(None, None, ZERO)
    latest = bills[0].bill_no
    applied = [p for p in payments if p.bill_no == latest]
    total = sum((p.amount for p in applied), ZERO)
    return PaymentsOverview(latest, max((p.posted_on for p in applied), default=None), total)


def latest_payments(billing: BillingSource, account_no: str, customer_id: str) -> PaymentsOverview:
    """Payments toward the newest bill, reading only that bill and its payments (not the whole history)."""
    bills = billing.bills(account_no, customer_id, limit=1)
    if not bills:
        return payments_overview([], [])
    return payments_overview(bills, billing.payments(account_no, customer_id, bill_no=bills[0].bill_no))


@dataclass(frozen=True)
class Page:
    """Which page of a history list is shown, and whether older or newer pages exist."""

    number: int
    has_older: bool

    @property
    def has_newer(self) -> bool:
        """True past the first page."""
        return self.number > 1


#: Bills or payments per page of the bill history.
PAGE_SIZE = 24


#: The highest page number of a history: the SQL offset of a higher one would not fit the INTEGER that
#: PostgreSQL takes for ``OFFSET`` here, and no account has anything like 50 million pages of bills.
MAX_PAGE = (2**31 - 1) // PAGE_SIZE


def page_number(raw: str | None) -> int | None:
    """The page a query string asks for: 1 unless it is a positive whole number; None above :data:`MAX_PAGE`."""
    if raw is None or not (raw.isascii() and raw.isdigit()):
        return 1
    digits = raw.lstrip("0")
    if len(digits) > len(str(MAX_PAGE)):  # before int(): Python refuses to parse very long numbers
        return None
    number = int(digits or "0")
    if number > MAX_PAGE:
        return None
    return max(number, 1)


def page_of(items: list[T], number: int, size: int = PAGE_SIZE) -> tuple[list[T], Page]:
    """Cut one extra item fetched (``size + 1``) off and say whether there are older ones."""
    return items[:size], Page(number, len(items) > size)


def get_statement(billing: BillingSource, account_no: str, customer_id: str, *, today: date) -> Statement | None:
    """The Account Summary of a linked pair, or None when the billing system no longer knows it."""
    summary = billing.summaries([(account_no, customer_id)], today=today).get((account_no, customer_id))
    if summary is None:
        return None
    return Statement(
        summary=summary,
        customer=billing.customer(customer_id),
        services=services_during(billing.services(account_no, customer_id), summary.tenure),
        payments=latest_payments(billing, account_no, customer_id),
    )


def services_during(services: Sequence[Service], tenure: Tenure) -> list[Service]:
    """The services as they were for the customer: after they moved out, each stopped on their move-out day."""
    if tenure.end is None:
        return list(services)
    end = tenure.end
    return [
        service
        if service.stop_date is not None and service.stop_date <= end
        else replace(service, stop_date=end, status="inactive")
        for service in services
    ]


def nice_scale(value: int, most_steps: int = 5) -> tuple[int, int]:
    """A readable axis for values up to ``value``: ``(maximum, step)``.

    The step is the smallest of 1, 2, 2.5 and 5 x 10^n (whole numbers) that reaches ``value`` in at most
    ``most_steps`` steps, so the top of the axis stays close to the data: 10,190 gives 12,500 in steps of 2,500.
    """
    value = max(value, 1)
    magnitude = 1
    while True:
        for factor in (10, 20, 25, 50):
            step = factor * magnitude // 10
            if step and -(-value // step) <= most_steps:
                return -(-value // step) * step, step
        magnitude *= 10


def build_chart(months: Sequence[date], readings: Sequence[Reading]) -> Chart:
    """Bar geometry for one value per month; months without a read get no bar."""
    # The margins fit the longest axis labels at the larger font used on phones (portal.css).
    width, height, left, top, right_margin, bottom_margin = 720, 300, 96, 16, 40, 40
    plot_width, plot_height = width - left - right_margin, height - top - bottom_margin
    by_month: dict[date, int] = {}
    for reading in readings:
        by_month[reading.period_start] = by_month.get(reading.period_start, 0) + reading.consumption
    maximum, step = nice_scale(max(by_month.values(), default=0) or 10)
    slot = plot_width / max(len(months), 1)
    bars: list[Bar] = []
    for i, month in enumerate(months):
        value = by_month.get(month)
        bar_height = round(plot_height * (value or 0) / maximum, 2)
        x = round(left + i * slot + slot * 0.15, 2)
        bars.append(
            Bar(
                period_start=month,
                consumption=value,
                x=x,
                y=round(top + plot_height - bar_height, 2),
                width=round(slot * 0.7, 2),
                height=bar_height,
                label_x=round(left + i * slot + slot / 2, 2),
                show_label=(len(months) - 1 - i) % 3 == 0,
                major_label=(len(months) - 1 - i) % 6 == 0,
            )
        )
    ticks = [Tick(v, round(top + plot_height - plot_height * v / maximum, 2)) for v in range(0, maximum + 1, step)]
    return Chart(width, height, left, top + plot_height, width - right_margin, bars, ticks)


def consumption_history(
    billing: BillingSource, account_no: str, customer_id: str, *, today: date, months: int = CONSUMPTION_MONTHS
) -> ConsumptionHistory:
    """Monthly use over the last ``months`` whole months, within the customer's own time on the account.

    The current month is left out: its read is not taken yet; so are the months before the customer moved in
    and after they moved out, which are not theirs to see (rather than shown as months without a read).
    """
    month_list = [month_start(today, back) for back in range(months, 0, -1)]
    summary = billing.summaries([(account_no, customer_id)], today=today).get((account_no, customer_id))
    if summary is not None:
        tenure = summary.tenure
        moved_out = month_start(tenure.end) if tenure.end else None
        month_list = [m for m in month_list if m >= month_start(tenure.start) and (moved_out is None or m <= moved_out)]
    readings = billing.readings(account_no, customer_id, since=month_list[0]) if month_list else []
    values = [r.consumption for r in readings]
    return ConsumptionHistory(
        service=readings[0].service if readings else None,
        unit=readings[0].unit if readings else "",
        months=month_list,
        readings=readings,
        chart=build_chart(month_list, readings),
        highest=max(readings, key=lambda r: r.consumption, default=None),
        lowest=min(readings, key=lambda r: r.consumption, default=None),
        average=round(sum(values) / len(values)) if values else None,
    )
