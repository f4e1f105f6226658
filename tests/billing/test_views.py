"""Request tests: Account Summary, bill history, one bill and consumption history."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.billing.pages import add_links, assert_csp_clean, load_demo, resident_id


@pytest.fixture
def pat(app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]) -> FlaskClient:
    """Signed in as "pat" with 100001 / 2000001 and the new occupant's 100004 / 2000400 linked."""
    load_demo(app)
    signed_in_as("pat")
    add_links(app, resident_id(app, "pat"), [("100001", "2000001"), ("100004", "2000400")])
    return client


def test_account_summary_shows_everything(pat: FlaskClient) -> None:
    response = pat.get("/accounts/100001")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for text in (
        "Account Summary",
        "Service address",
        "Account number",
        "Bill delivery",
        "Current balance",
        "Amount due now",
        "Payment due date",
        "Sum of payments",
        "Last posted",
        "Customer information",
        "Mailing address",
        "2000001",
        "WATER",
        "1000",
        "SEWER",
        "2000",
        "SANITATION",
        "Start date",
        "Stop date",
    ):
        assert text in html, text
    assert 'href="/accounts/100001/consumption"' in html
    assert 'href="/accounts/100001/bills"' in html
    assert_csp_clean(html)


def test_bill_history_and_bill_details(pat: FlaskClient) -> None:
    html = pat.get("/accounts/100001/bills").get_data(as_text=True)
    bill_numbers = re.findall(r'href="/accounts/100001/bills/(\d+)"', html)
    assert len(bill_numbers) in (23, 24)  # early in the month the last read is not billed yet
    assert "Payments" in html and "Date posted" in html
    assert_csp_clean(html)
    detail = pat.get(f"/accounts/100001/bills/{bill_numbers[1]}")
    text = detail.get_data(as_text=True)
    assert detail.status_code == 200
    assert "Charges" in text and "Water base charge and usage" in text and "Total" in text
    assert "Payments on this bill" in text
    assert_csp_clean(text)
    assert pat.get("/accounts/100001/bills/0000000000").status_code == 404


def test_consumption_history_has_chart_and_table(pat: FlaskClient) -> None:
    html = pat.get("/accounts/100001/consumption").get_data(as_text=True)
    assert '<svg class="portal-chart__svg"' in html
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in html
    assert '<title id="chart-title">Monthly water use,' in html
    assert '<desc id="chart-desc">Bar chart of 24 monthly reads. Highest:' in html
    assert html.count('class="portal-chart__bar"') == 24
    table = html[html.index('id="reads-heading"') :]
    assert table.count('<th scope="row">') == 24
    assert "No read" not in table
    assert_csp_clean(html)


def test_new_occupant_sees_only_their_own_time(app: Flask, pat: FlaskClient) -> None:
    bills = pat.get("/accounts/100004/bills").get_data(as_text=True)
    own = re.findall(r'href="/accounts/100004/bills/(\d+)"', bills)
    assert 0 < len(own) <= 13
    assert "Final bill" not in bills  # the final bill belongs to the previous occupant
    with app.app_context():
        from app.billing.client import SqlBillingSource
        from app.extensions import db

        previous = [b.bill_no for b in SqlBillingSource(lambda: db.session()).bills("100004", "2000004")]
    assert previous and not set(previous) & set(own)
    assert pat.get(f"/accounts/100004/bills/{previous[0]}").status_code == 404
    consumption = pat.get("/accounts/100004/consumption").get_data(as_text=True)
    assert consumption.count('class="portal-chart__bar"') < 14
    reads = consumption[consumption.index('id="reads-heading"') :]
    assert "No read" not in reads  # months before the move-in are not listed (issue 15)
    assert reads.count('<th scope="row">') == consumption.count('class="portal-chart__bar"')


def test_vanished_account_says_so(app: Flask, pat: FlaskClient) -> None:
    from sqlalchemy import delete

    from app.billing.models import BillingAccount
    from app.extensions import db

    client = pat
    with app.app_context():
        db.session.execute(delete(BillingAccount).where(BillingAccount.account_no == "100001"))
        db.session.commit()
    response = client.get("/accounts/100001")
    assert response.status_code == 404
    assert "no longer in the billing system" in response.get_data(as_text=True)
    assert "no longer in the billing system" in client.get("/").get_data(as_text=True)


def test_bill_history_is_paginated(app: Flask, pat: FlaskClient) -> None:
    from datetime import date

    from app.billing.models import BillingAccount, BillingBill
    from app.extensions import db

    with app.app_context():
        account_id = db.session.scalar(select(BillingAccount.id).filter_by(account_no="100001"))
        for n in range(1, 4):  # three bills older than the demo's 24 months
            db.session.add(
                BillingBill(
                    bill_no=f"OLD{n}",
                    account_id=account_id,
                    customer_id="2000001",
                    bill_date=date(2020, n, 5),
                    due_date=date(2020, n, 25),
                    amount_cents=1000,
                    balance_cents=0,
                )
            )
        db.session.commit()
    first = pat.get("/accounts/100001/bills").get_data(as_text=True)
    assert "OLD1" not in first and "Older" in first and "Newer" not in first
    second = pat.get("/accounts/100001/bills?page=2").get_data(as_text=True)
    assert "OLD1" in second and "Newer" in second and "Older" not in second
    assert pat.get("/accounts/100001/bills?page=0").status_code == 200
    assert pat.get("/accounts/100001/bills?page=abc").status_code == 200
