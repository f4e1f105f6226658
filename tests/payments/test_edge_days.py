"""The calendar's hard days in ``CITY_TIMEZONE`` (America/Chicago): the demo, every account page, the pay form
and Auto Pay's schedule on each, by a clock the test sets (``@pytest.mark.clock``), never by today's date.
"""

from __future__ import annotations

from datetime import UTC, date, timedelta

import pytest
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.billing import city_today, demo
from app.billing.models import BillingBill
from app.core.clock import current_clock
from app.database.db import db
from app.payments.models import AutopayCharge
from tests.support.pages import html_page
from tests.support.payments import enrol, new_bill, run_job

#: name -> (CLOCK_START, the city's date then, whether UTC is on another date at that instant)
EDGES = {
    "month end, UTC already in December": ("2026-11-30T23:30:00", date(2026, 11, 30), True),
    "29 February": ("2028-02-29T12:00:00", date(2028, 2, 29), False),
    "31 December, 23:30": ("2026-12-31T23:30:00", date(2026, 12, 31), True),
    "the hour after spring forward": ("2027-03-14T03:30:00", date(2027, 3, 14), False),
    "the repeated hour of fall back, second time": ("2026-11-01T01:30:00-06:00", date(2026, 11, 1), False),
    "the repeated hour of fall back, first time": ("2026-11-01T01:30:00-05:00", date(2026, 11, 1), False),
}
#: The demo pairs a resident may link: an open account, a closed one, a previous occupant's.
PAIRS = (("100001", "2000001"), ("100003", "2000003"), ("100004", "2000004"))


def _money(page_text: str, label: str) -> str:
    """The amount that follows ``label`` in a page's text (``$12.34``)."""
    after = page_text.split(label, 1)[1].strip()
    return after.split(" ", 1)[0]


@pytest.mark.parametrize(
    "edge",
    [pytest.param(name, marks=pytest.mark.clock(start), id=name) for name, (start, _, _) in EDGES.items()],
)
def test_every_page_and_auto_pay_are_right_on_the_edge_days(pay_app: Flask, pat: FlaskClient, edge: str) -> None:
    _, today, utc_elsewhere = EDGES[edge]
    with pay_app.app_context():
        clock = current_clock()
        assert clock is not None and city_today() == today
        assert (clock.now().astimezone(UTC).date() != today) is utc_elsewhere
        bills = {
            account: db.session.scalars(
                select(BillingBill)
                .filter_by(account_no=account, customer_id=customer)
                .order_by(BillingBill.bill_date.desc())
            ).all()
            for account, customer in PAIRS
        }
    newest_period = max(p for p in demo.billing_periods(today) if demo.bill_date_of(p) <= today)
    newest = bills["100001"][0]
    assert newest.bill_date == demo.bill_date_of(newest_period) <= today
    assert newest.due_date == newest.bill_date + timedelta(days=20)

    assert pat.get("/").status_code == 200
    for account, _ in PAIRS:
        for path in ("", "/bills", "/consumption", f"/bills/{bills[account][0].bill_no}", "/pay", "/autopay"):
            response = pat.get(f"/accounts/{account}{path}")
            assert response.status_code == 200, f"/accounts/{account}{path} on {edge}"

    summary = html_page(pat.get("/accounts/100001"))
    pay_form = html_page(pat.get("/accounts/100001/pay"))
    assert _money(summary.text, "Amount due") == _money(pay_form.text, "Amount due") != "$0.00"
    assert format_date(newest.due_date, "medium", locale="en") in summary.text

    # Auto Pay charges a bill on its due date (AUTOPAY_DAYS_BEFORE_DUE=0) in the city's calendar.
    enrol(pat)
    new_bill(pay_app, "B-EDGE-TODAY", 1234)
    new_bill(pay_app, "B-EDGE-TOMORROW", 2345, due_in_days=1)
    output = run_job(pay_app)
    assert "1 due, 1 charged" in output
    with pay_app.app_context():
        charges = {c.bill_no: (c.status, c.run_on) for c in db.session.scalars(select(AutopayCharge))}
    assert charges == {
        "B-EDGE-TODAY": ("charged", today),
        "B-EDGE-TOMORROW": ("scheduled", today + timedelta(days=1)),
    }
