"""Request tests: Account Summary, bill history, one bill and consumption history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.bills.service import MAX_PAGE
from tests.billing.pages import add_links, assert_csp_clean, load_demo, resident_id
from tests.support.pages import Page, html_page


@pytest.fixture
def pat(app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]) -> FlaskClient:
    """Signed in as "pat" with 100001 / 2000001 and the new occupant's 100004 / 2000400 linked."""
    load_demo(app)
    signed_in_as("pat")
    add_links(app, resident_id(app, "pat"), [("100001", "2000001"), ("100004", "2000400")])
    return client


def test_account_summary_shows_everything(pat: FlaskClient) -> None:
    page = html_page(pat.get("/accounts/100001"))
    assert page.status == 200
    assert page.h1 == "Account Summary"
    for text in (
        "Service address",
        "Account number",
        "Bill delivery",
        "Amount due",
        "Auto Pay",
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
        assert text in page.text, text
    assert page.select('a[href="/accounts/100001/consumption"]')
    assert page.select('a[href="/accounts/100001/bills"]')
    assert_csp_clean(page.html)


def bill_links(page: Page, account_no: str) -> list[str]:
    """The bill numbers a bill history page links to, in order."""
    prefix = f"/accounts/{account_no}/bills/"
    hrefs = [str(a["href"]) for a in page.select(f'a[href^="{prefix}"]')]
    return [h[len(prefix) :] for h in hrefs if h[len(prefix) :].isdigit()]


def test_bill_history_and_bill_details(pat: FlaskClient) -> None:
    page = html_page(pat.get("/accounts/100001/bills"))
    bill_numbers = bill_links(page, "100001")
    assert len(bill_numbers) in (23, 24)  # early in the month the last read is not billed yet
    assert "Payments" in page.text and "Date posted" in page.text
    assert_csp_clean(page.html)
    detail = html_page(pat.get(f"/accounts/100001/bills/{bill_numbers[1]}"))
    assert detail.status == 200
    assert "Charges" in detail.text and "Water base charge and usage" in detail.text and "Total" in detail.text
    assert "Payments on this bill" in detail.text
    assert_csp_clean(detail.html)
    assert pat.get("/accounts/100001/bills/0000000000").status_code == 404


def test_consumption_history_has_chart_and_table(pat: FlaskClient) -> None:
    page = html_page(pat.get("/accounts/100001/consumption"))
    chart = page.select_one("svg.portal-chart__svg")
    assert chart["role"] == "img" and chart["aria-labelledby"] == "chart-title chart-desc"
    assert page.text_of("svg #chart-title").startswith("Monthly water use,")
    assert page.text_of("svg #chart-desc").startswith("Bar chart of 24 monthly reads. Highest:")
    assert len(page.select("rect.portal-chart__bar")) == 24
    table = page.select_one('[aria-labelledby="reads-heading"]')
    assert len(table.select('th[scope="row"]')) == 24
    assert "No read" not in table.get_text()
    assert_csp_clean(page.html)


def test_new_occupant_sees_only_their_own_time(app: Flask, pat: FlaskClient) -> None:
    bills = html_page(pat.get("/accounts/100004/bills"))
    own = bill_links(bills, "100004")
    assert 0 < len(own) <= 13
    assert "Final bill" not in bills.text  # the final bill belongs to the previous occupant
    with app.app_context():
        from app.billing.client import SqlBillingSource
        from app.database.db import db

        previous = [b.bill_no for b in SqlBillingSource(lambda: db.session()).bills("100004", "2000004")]
    assert previous and not set(previous) & set(own)
    assert pat.get(f"/accounts/100004/bills/{previous[0]}").status_code == 404
    consumption = html_page(pat.get("/accounts/100004/consumption"))
    bars = consumption.select("rect.portal-chart__bar")
    assert len(bars) < 14
    reads = consumption.select_one('[aria-labelledby="reads-heading"]')
    assert "No read" not in reads.get_text()  # months before the move-in are not listed (issue 15)
    assert len(reads.select('th[scope="row"]')) == len(bars)


def test_vanished_account_says_so(app: Flask, pat: FlaskClient) -> None:
    from sqlalchemy import delete

    from app.billing.models import BillingAccount
    from app.database.db import db

    client = pat
    with app.app_context():
        db.session.execute(delete(BillingAccount).where(BillingAccount.account_no == "100001"))
        db.session.commit()
    page = html_page(client.get("/accounts/100001"))
    assert page.status == 404
    assert "no longer in the billing system" in page.text
    assert "no longer in the billing system" in client.get("/").get_data(as_text=True)


def _pager(page: Page, label: str) -> list[str]:
    """The links of the pager named ``label`` ([] when the page has none)."""
    return [a.get_text(strip=True) for nav in page.select(f'nav[aria-label="{label}"]') for a in nav.select("a")]


def test_bill_history_is_paginated(app: Flask, pat: FlaskClient) -> None:
    from datetime import date

    from app.billing.models import BillingBill, BillingPayment
    from app.database.db import db

    with app.app_context():
        payments = len(db.session.scalars(db.select(BillingPayment).filter_by(account_no="100001")).all())
        for n in range(1, 4):  # three bills older than the demo's 24 months
            db.session.add(
                BillingBill(
                    bill_no=f"OLD{n}",
                    account_no="100001",
                    customer_id="2000001",
                    bill_date=date(2020, n, 5),
                    due_date=date(2020, n, 25),
                    amount_cents=1000,
                    balance_cents=0,
                )
            )
        db.session.commit()
    assert 24 < payments <= 48, "on the suite's day 100001 has two pages of payments"
    first = html_page(pat.get("/accounts/100001/bills"))
    assert "OLD1" not in first.text
    assert _pager(first, "Pages of bills") == ["Older"] and _pager(first, "Pages of payments") == ["Older"]
    second = html_page(pat.get("/accounts/100001/bills?page=2"))
    assert "OLD1" in second.text and _pager(second, "Pages of bills") == ["Newer"]
    assert _pager(second, "Pages of payments") == ["Older"]  # each pager keeps its own place
    last = html_page(pat.get("/accounts/100001/bills?page=2&payments_page=2"))
    assert _pager(last, "Pages of payments") == ["Newer"] and _pager(last, "Pages of bills") == ["Newer"]
    assert pat.get("/accounts/100001/bills?page=0").status_code == 200
    assert pat.get("/accounts/100001/bills?page=abc").status_code == 200


PAST_THE_LAST = ["1000", "2147483648", "9223372036854775808", str(10**30), "9" * 5000, str(MAX_PAGE), str(MAX_PAGE + 1)]
NOT_A_PAGE = ["-1", "0", "abc", "", "1.5", "+2", "2_0", "١", "-9223372036854775809"]


@pytest.mark.parametrize("name", ["page", "payments_page"])
def test_a_page_past_the_last_is_not_found(pat: FlaskClient, name: str) -> None:
    for value in PAST_THE_LAST:
        response = pat.get("/accounts/100001/bills", query_string={name: value})
        assert response.status_code == 404, value
    assert pat.get("/accounts/100001/bills", query_string={name: "1"}).status_code == 200


@pytest.mark.parametrize("name", ["page", "payments_page"])
def test_a_page_number_that_is_not_one_shows_the_first_page(pat: FlaskClient, name: str) -> None:
    first = html_page(pat.get("/accounts/100001/bills"))
    for value in NOT_A_PAGE:
        page = html_page(pat.get("/accounts/100001/bills", query_string={name: value}))
        assert page.status == 200, value
        assert bill_links(page, "100001") == bill_links(first, "100001"), value
