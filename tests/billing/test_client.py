"""The embedded billing source: verification, tenure, summaries and a constant number of queries."""

from __future__ import annotations

from datetime import date

from flask import Flask

from app.billing import demo
from app.billing.client import SqlBillingSource
from app.core.money import Money
from tests.billing.fixtures import TODAY, count_queries


def test_find_tenure_needs_both_halves(demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    assert billing.find_tenure("100001", "2000001") is not None
    assert billing.find_tenure("100001", "2000003") is None
    assert billing.find_tenure("999999", "2000001") is None
    assert billing.find_tenure("100003", "2000003") is not None  # closed accounts can still be linked


def test_new_occupant_never_sees_previous_occupant(demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    old = billing.find_tenure("100004", "2000004")
    new = billing.find_tenure("100004", "2000400")
    assert old is not None and new is not None and old.end is not None and new.is_current
    old_bills = billing.bills("100004", "2000004")
    new_bills = billing.bills("100004", "2000400")
    assert old_bills and new_bills
    assert not {b.bill_no for b in old_bills} & {b.bill_no for b in new_bills}
    assert old_bills[0].is_final and not any(b.is_final for b in new_bills)
    assert all(b.bill_date > new.start for b in new_bills)
    old_reads = billing.readings("100004", "2000004", since=date(2000, 1, 1))
    new_reads = billing.readings("100004", "2000400", since=date(2000, 1, 1))
    assert old_reads and new_reads
    assert max(r.period_end for r in old_reads) <= old.end
    assert min(r.period_start for r in new_reads) >= new.start
    old_paid = {(p.bill_no, p.posted_on) for p in billing.payments("100004", "2000004")}
    new_paid = {(p.bill_no, p.posted_on) for p in billing.payments("100004", "2000400")}
    assert not old_paid & new_paid
    assert {p[0] for p in new_paid} <= {b.bill_no for b in new_bills}
    summaries = billing.summaries([("100004", "2000004"), ("100004", "2000400")], today=TODAY)
    assert summaries[("100004", "2000004")].is_closed
    assert not summaries[("100004", "2000400")].is_closed


def test_summary_balances(demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    summary = billing.summaries([("100001", "2000001")], today=TODAY)[("100001", "2000001")]
    bills = billing.bills("100001", "2000001")
    assert summary.current_balance == sum((b.balance for b in bills), Money(0))
    assert summary.due_date == min(b.due_date for b in bills if b.balance.cents > 0)
    assert summary.last_bill_date == bills[0].bill_date
    late = billing.summaries([("100001", "2000001")], today=date(2027, 1, 1))[("100001", "2000001")]
    assert late.amount_due_now == late.current_balance


def test_bill_lines_add_up(demo_data: demo.DemoCounts, billing: SqlBillingSource) -> None:
    latest = billing.bills("100001", "2000001")[0]
    bill = billing.bill("100001", "2000001", latest.bill_no)
    assert bill is not None and bill.lines
    assert sum((line.amount for line in bill.lines), Money(0)) == bill.amount
    assert billing.bill("100002", "2000001", latest.bill_no) is None
    assert billing.bill("100001", "2000003", latest.bill_no) is None


def test_summaries_use_a_constant_number_of_queries(
    app: Flask, demo_data: demo.DemoCounts, billing: SqlBillingSource
) -> None:
    pairs = [(str(100000 + n), str(2000000 + n)) for n in range(5, 15)]
    with count_queries(app) as one:
        assert len(billing.summaries(pairs[:1], today=TODAY)) == 1
    with count_queries(app) as ten:
        assert len(billing.summaries(pairs, today=TODAY)) == 10
    assert one() == ten() == 1
