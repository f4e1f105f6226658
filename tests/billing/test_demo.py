"""The demo dataset: documented pairs, determinism, idempotency and the CLI command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.billing import demo
from app.billing.client import SqlBillingSource
from app.billing.models import Announcement, BillingAccount, BillingBill
from app.database.db import db
from tests.billing.fixtures import TODAY


def _snapshot(session: Session, today: date) -> list[object]:
    """Everything a resident could see of every (account, customer) pair, independent of row ids."""
    source = SqlBillingSource(lambda: session)
    pairs = [
        (account_no, customer_id)
        for account_no, customer_id in session.execute(
            select(BillingAccount.account_no, BillingAccount.customer_id).order_by(BillingAccount.account_no)
        )
    ]
    summaries = source.summaries(pairs, today=today)
    return [
        (
            pair,
            summaries[pair],
            source.customer(pair[1]),
            source.services(*pair),
            [source.bill(*pair, b.bill_no) for b in source.bills(*pair)],
            source.payments(*pair),
            source.readings(*pair, since=date(2000, 1, 1)),
        )
        for pair in pairs
    ]


def test_demo_has_documented_pairs(db_session: Session) -> None:
    counts = demo.load_demo(db_session, today=TODAY)
    source = SqlBillingSource(lambda: db_session)
    assert counts.accounts == 300
    assert counts.bills > 300 * 20
    summaries = source.summaries([("100001", "2000001"), ("100002", "2000001"), ("100003", "2000003")], today=TODAY)
    assert summaries[("100001", "2000001")].status == "active"
    assert summaries[("100001", "2000001")].current_balance.cents > 0
    assert summaries[("100002", "2000001")].status == "active"
    assert summaries[("100003", "2000003")].status == "closed"
    assert source.bills("100003", "2000003")[0].is_final
    assert source.find_tenure("100001", "2000003") is None
    assert source.find_tenure("100002", "2000002") is None
    services = {s.service: s.code for s in source.services("100001", "2000001")}
    assert services["WATER"] == "1000" and services["SEWER"] == "2000"
    assert {"WATER", "SEWER", "SANITATION", "MXU"} <= {
        s for (s,) in db_session.execute(select(demo.BillingService.service).distinct())
    }


def test_demo_is_deterministic(db_session: Session) -> None:
    demo.load_demo(db_session, today=TODAY, accounts=60)
    first = _snapshot(db_session, TODAY)
    demo.load_demo(db_session, today=TODAY, accounts=60)
    assert _snapshot(db_session, TODAY) == first


def test_demo_reload_replaces_rows(db_session: Session) -> None:
    demo.load_demo(db_session, today=TODAY, accounts=10)
    demo.load_demo(db_session, today=TODAY, accounts=10)
    assert db_session.scalar(select(func.count()).select_from(BillingAccount)) == 10
    assert db_session.scalar(select(func.count()).select_from(BillingBill)) < 10 * 25
    assert db_session.scalar(select(func.count()).select_from(Announcement)) == 3


def test_demo_covers_24_months_before_today(db_session: Session) -> None:
    demo.load_demo(db_session, today=TODAY, accounts=5)
    source = SqlBillingSource(lambda: db_session)
    bills = source.bills("100001", "2000001")
    assert len(bills) == 24
    assert bills[0].bill_date <= TODAY
    assert demo.billing_periods(date(2026, 11, 3))[-1] == date(2026, 10, 1)
    demo.load_demo(db_session, today=date(2026, 11, 4), accounts=5)
    early = source.bills("100001", "2000001")
    assert len(early) == 23 and early[0].bill_date == date(2026, 10, 5)  # October's bill is not out yet
    assert len(source.readings("100001", "2000001", since=date(2024, 11, 1))) == 24


def test_cli_demo_if_empty_loads_once(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["billing", "demo", "--if-empty", "--accounts", "6"])
    assert result.exit_code == 0, result.output
    assert "Loaded demo billing data: 6 accounts" in result.output
    result = runner.invoke(args=["billing", "demo", "--if-empty"])
    assert result.exit_code == 0
    assert "nothing to do" in result.output
    result = runner.invoke(args=["billing", "demo", "--accounts", "8"])
    assert "8 accounts" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(BillingAccount)) == 8


def test_cli_demo_refuses_production(make_app: Callable[..., Flask]) -> None:
    # The test provider is http://localhost, hence OIDC_ALLOW_HTTP_ISSUER.
    app = make_app(PORTAL_ENV="production", OIDC_ALLOW_HTTP_ISSUER=True, PORTAL_BASE_URL="https://pay.example.gov")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["billing", "demo"])
    assert result.exit_code == 1
    assert "never goes into a production database" in result.output
    result = runner.invoke(args=["billing", "demo", "--if-empty"])
    assert result.exit_code == 0 and "never loaded" in result.output
    with app.app_context():
        assert not demo.is_loaded(db.session())
