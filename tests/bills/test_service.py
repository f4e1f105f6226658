"""Billing page models: statement, payments overview, consumption history and chart geometry."""

from __future__ import annotations

from datetime import date

from app.billing import demo
from app.billing.client import SqlBillingSource
from app.billing.types import Bill, Payment, Reading, Service, Tenure
from app.bills import service
from app.core.money import Money
from tests.billing.fixtures import TODAY


def test_month_start() -> None:
    assert service.month_start(date(2026, 11, 23)) == date(2026, 11, 1)
    assert service.month_start(date(2026, 1, 31), 1) == date(2025, 12, 1)
    assert service.month_start(date(2026, 3, 5), 24) == date(2024, 3, 1)


def test_payments_overview_sums_payments_on_latest_bill() -> None:
    bills = [
        Bill("B2", date(2026, 10, 5), date(2026, 10, 25), Money(5000), Money(1000), False),
        Bill("B1", date(2026, 9, 5), date(2026, 9, 25), Money(4000), Money(0), False),
    ]
    payments = [
        Payment("B2", date(2026, 10, 20), Money(2500), "Online"),
        Payment("B2", date(2026, 10, 10), Money(1500), "Check"),
        Payment("B1", date(2026, 9, 20), Money(4000), "Online"),
    ]
    overview = service.payments_overview(bills, payments)
    assert overview == service.PaymentsOverview("B2", date(2026, 10, 20), Money(4000))
    assert service.payments_overview([], []).bill_no is None


def test_statement_of_linked_pair(demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    statement = service.get_statement(billing, "100002", "2000001", today=TODAY)
    assert statement is not None
    assert statement.customer is not None and statement.customer.customer_id == "2000001"
    assert statement.summary.account_no == "100002"
    assert [s.service for s in statement.services][:2] == ["WATER", "SEWER"]
    assert service.get_statement(billing, "100002", "2000002", today=TODAY) is None


def test_consumption_history_covers_24_whole_months(demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    history = service.consumption_history(billing, "100001", "2000001", today=TODAY)
    assert len(history.months) == 24
    assert history.months[0] == date(2024, 11, 1) and history.months[-1] == date(2026, 10, 1)
    assert len(history.readings) == 24
    assert history.unit == "gal" and history.service == "WATER"
    assert history.highest is not None and history.lowest is not None
    assert history.lowest.consumption <= (history.average or 0) <= history.highest.consumption
    assert len(history.chart.bars) == 24


def test_consumption_history_of_new_occupant_starts_at_move_in(
    demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    history = service.consumption_history(billing, "100004", "2000400", today=TODAY)
    assert len(history.readings) == 12
    # Issue 15: the months before the move-in are left out, not shown as 12 months without a read.
    assert len(history.months) == 12 and all(bar.consumption is not None for bar in history.chart.bars)
    tenure = billing.summaries([("100004", "2000400")], today=TODAY)[("100004", "2000400")].tenure
    assert history.months[0] == service.month_start(tenure.start)


def test_chart_geometry_scales_to_a_round_maximum() -> None:
    months = [date(2026, m, 1) for m in (1, 2, 3)]
    readings = [Reading("WATER", date(2026, 1, 1), date(2026, 1, 31), 4300, "gal")]
    chart = service.build_chart(months, readings)
    assert [t.value for t in chart.ticks] == [0, 1000, 2000, 3000, 4000, 5000]
    bar = chart.bars[0]
    assert bar.consumption == 4300
    assert bar.y + bar.height == chart.bottom
    assert chart.bars[1].consumption is None and chart.bars[1].height == 0
    assert service.build_chart(months, []).ticks[-1].value == 10


def test_chart_maximum_stays_close_to_the_data() -> None:
    assert service.nice_scale(10190) == (12500, 2500)  # not 20,000
    assert service.nice_scale(6840) == (8000, 2000)
    assert service.nice_scale(5000) == (5000, 1000)
    assert service.nice_scale(7) == (8, 2)
    for value in (1, 9, 99, 101, 4300, 10190, 123456):
        maximum, step = service.nice_scale(value)
        assert value <= maximum < value + step and maximum // step <= 5


def test_consumption_history_of_previous_occupant_ends_at_move_out(
    demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    tenure = billing.summaries([("100004", "2000004")], today=TODAY)[("100004", "2000004")].tenure
    assert tenure.end is not None
    history = service.consumption_history(billing, "100004", "2000004", today=TODAY)
    assert history.months and history.months[-1] == service.month_start(tenure.end)
    assert all(r.period_end <= tenure.end for r in history.readings)


def test_page_number_reads_only_positive_whole_numbers_up_to_the_highest_page() -> None:
    assert [service.page_number(v) for v in (None, "", "abc", "-1", "0", "000", "+2", "2_0", "١", "1.5")] == [1] * 10
    assert [service.page_number(v) for v in ("1", "2", "007", str(service.MAX_PAGE))] == [1, 2, 7, service.MAX_PAGE]
    too_high = (str(service.MAX_PAGE + 1), "2147483648", "9223372036854775808", str(10**30), "9" * 5000)
    assert [service.page_number(v) for v in too_high] == [None] * 5
    assert service.page_number("0" * 5000 + "3") == 3
    assert (service.MAX_PAGE - 1) * service.PAGE_SIZE <= 2**31 - 1  # the highest page's offset fits an INTEGER


def test_services_of_a_previous_occupant_stop_on_their_move_out_day() -> None:
    water = Service("WATER", "1000", date(2020, 1, 1), None, "active", True)
    trash = Service("TRASH", "3000", date(2020, 1, 1), date(2024, 6, 30), "inactive", False)
    sewer = Service("SEWER", "2000", date(2020, 1, 1), date(2026, 1, 31), "inactive", False)
    left = Tenure("100004", "2000004", date(2020, 1, 1), date(2025, 10, 31))
    assert service.services_during([water, trash, sewer], left) == [
        Service("WATER", "1000", date(2020, 1, 1), date(2025, 10, 31), "inactive", True),
        trash,
        Service("SEWER", "2000", date(2020, 1, 1), date(2025, 10, 31), "inactive", False),
    ]
    assert service.services_during([water], Tenure("100001", "2000001", date(2020, 1, 1), None)) == [water]


def test_statement_of_previous_occupant_shows_no_active_service(
    demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    statement = service.get_statement(billing, "100004", "2000004", today=TODAY)
    assert statement is not None and statement.summary.tenure.end is not None
    assert statement.services
    assert {item.status for item in statement.services} == {"inactive"}
    assert all(
        item.stop_date is not None and item.stop_date <= statement.summary.tenure.end for item in statement.services
    )
