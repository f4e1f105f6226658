"""``flask payments reconcile``: the processor's own books for a city day against the portal's payments.

Each test runs a development processor of its own whose clock is the portal's, so that a charge made now is in
the books of the portal's today (the return page records each payment's outcome: its webhooks are held back);
charges are planted through the processor's own API and hosted page, as if someone had used its dashboard,
and payments the processor never saw are written into the portal's database.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from app.billing import city_today
from app.core.clock import utcnow
from app.database.db import db
from app.dev.payments import DevProcessorServer
from app.payments.devprocessor import DEV_API_KEY, DevProcessor
from app.payments.models import Payment, ReconciliationMismatch, ReconciliationRun
from app.payments.reconcile import day_bounds
from tests.billing.pages import add_links, load_demo, resident_id
from tests.support.bank import pay_by_bank
from tests.support.pages import csrf_token_from
from tests.support.ports import free_port
from tests.support.signin import open_session
from tests.support.threads import serve

CARD = {"number": "4242 4242 4242 4242", "expiry": "12/99", "cvc": "123", "action": "pay"}
STAFF = {"realm_access": {"roles": ["resident", "staff"]}}


@dataclass
class Books:
    """A portal, the development processor it pays through, and that processor's URL."""

    app: Flask
    server: DevProcessorServer
    url: str


@pytest.fixture
def books(make_app: Any) -> Iterator[Books]:
    """A portal on a development processor of its own that keeps its books by the portal's clock."""
    server = DevProcessorServer(deliver_webhooks=False)
    with serve(server) as url:
        app = make_app(DEV_PAYMENTS_PORT=urlsplit(url).port)
        server.now = app.extensions["clock"].now
        load_demo(app)
        yield Books(app, server, url)


def _resident(books: Books) -> FlaskClient:
    client = books.app.test_client()
    open_session(client, "pat")
    add_links(books.app, resident_id(books.app, "pat"), [("100001", "2000001")])
    return client


def _pay(client: FlaskClient, amount: str, *, method: str = "card") -> str:
    """Pay on account 100001 through the portal and the hosted page; the payment's processor reference."""
    html = client.get("/accounts/100001/pay").get_data(as_text=True)
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    form = {"csrf_token": csrf_token_from(html), "attempt": attempt, "amount": amount, "method": method}
    checkout = client.post("/accounts/100001/pay", data=form).headers["Location"]
    if method == "ach":
        back = pay_by_bank(checkout)
    else:
        back = urlsplit(requests.post(checkout, data=CARD, allow_redirects=False, timeout=10).headers["Location"]).path
    client.get(back)
    public_id = back.split("/")[2]
    with client.application.app_context():
        reference = db.session.scalar(select(Payment.reference).filter_by(public_id=public_id))
    assert reference, public_id
    return reference


def city_today_of(app: Flask) -> date:
    with app.app_context():
        return city_today()


def _reconcile(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["payments", "reconcile", *args])


def test_a_clean_day_exits_0(books: Books) -> None:
    client = _resident(books)
    card = _pay(client, "42.50")
    bank = _pay(client, "17.25", method="ach")  # processing on both sides: on its way, not a mismatch
    today = city_today_of(books.app)
    result = _reconcile(books.app, "--date", today.isoformat())
    assert result.exit_code == 0, result.output
    assert f"Reconciliation of {today} (dev): 2 charges and 0 refunds at the processor" in result.output
    assert "2 payments in the portal" in result.output and "Clean: no mismatches." in result.output
    assert card not in result.output and bank not in result.output
    yesterday = _reconcile(books.app)  # the default: yesterday, the last whole day
    assert yesterday.exit_code == 0, yesterday.output
    assert f"Reconciliation of {today - timedelta(days=1)} (dev): 0 charges" in yesterday.output
    with books.app.app_context():
        runs = db.session.scalars(select(ReconciliationRun).order_by(ReconciliationRun.id))
        outcomes = [(r.day, r.outcome) for r in runs]
    assert outcomes == [(today, "clean"), (today - timedelta(days=1), "clean")]


def test_mismatches_on_either_side_and_in_amounts_exit_1_and_reach_the_staff_console(books: Books) -> None:
    client = _resident(books)
    good = _pay(client, "42.50")
    differs = _pay(client, "10.00")
    # A charge at the processor that the portal never recorded (made on its dashboard, or lost here).
    dev = DevProcessor(books.url)
    page = dev.create_checkout(
        amount_cents=1999,
        method="card",
        description="not through the portal",
        idempotency_key="planted-1",
        success_url="http://localhost/x",
        cancel_url="http://localhost/y",
        webhook_url="",
        email="",
    )
    assert requests.post(page.url, data=CARD, allow_redirects=False, timeout=10).status_code == 303
    (planted,) = [c["reference"] for c in books.server.state.charges if c["amount_cents"] == 1999]
    # A payment the portal counts that the processor never charged, and one whose amount differs.
    with books.app.app_context():
        db.session.add(
            Payment(
                public_id="only-here",
                idempotency_key="pay-only-here",
                receipt_no="PONLYHERE01",
                source="resident",
                account_no="100001",
                customer_id="2000001",
                method="card",
                amount_cents=3000,
                status="succeeded",
                processor="dev",
                reference="devch_only_here",
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        db.session.execute(update(Payment).where(Payment.reference == differs).values(amount_cents=1100))
        db.session.commit()
    refund = requests.post(
        f"{books.url}/v1/refunds",
        json={"reference": good, "amount_cents": 500},
        headers={"Authorization": f"Bearer {DEV_API_KEY}", "Idempotency-Key": "refund-1"},
        timeout=10,
    )
    assert refund.status_code == 200, refund.text

    result = _reconcile(books.app, "--date", city_today_of(books.app).isoformat())
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "3 charges and 1 refunds at the processor, 3 payments in the portal" in lines[0]
    assert lines[-1] == "4 mismatches."

    def line(reference: str, kind: str) -> str:
        (found,) = [x for x in lines if reference in x and x.startswith(kind)]
        return found

    assert "processor 19.99 (processor succeeded, portal has no payment)" in line(planted, "processor_only")
    assert "portal 30.00 receipt PONLYHERE01" in line("devch_only_here", "portal_only")
    assert "processor 10.00 portal 11.00" in line(differs, "amount")
    assert "refund devre_" in line(good, "processor_only") and "processor 5.00" in line(good, "processor_only")
    with books.app.app_context():
        kinds = sorted(m.kind for m in db.session.scalars(select(ReconciliationMismatch)))
    assert kinds == ["amount", "portal_only", "processor_only", "processor_only"]

    staff = books.app.test_client()
    open_session(staff, "clerk", **STAFF)
    console = staff.get("/staff/").get_data(as_text=True)
    assert "found 4 mismatches between the payment processor and the portal" in console
    report = staff.get("/staff/reconciliation").get_data(as_text=True)
    for reference in (planted, "devch_only_here", differs, good):
        assert reference in report
    assert "At the processor, not in the portal" in report and "In the portal, not at the processor" in report
    assert "Amounts differ" in report and "$11.00" in report and "PONLYHERE01" in report
    assert client.get("/staff/reconciliation").status_code == 403  # a resident without the staff role


def test_a_processor_that_cannot_be_asked_exits_2_and_staff_see_it(make_app: Any) -> None:
    app = make_app(DEV_PAYMENTS_PORT=free_port())  # nothing listens there
    result = _reconcile(app, "--date", "2026-11-20")
    assert result.exit_code == 2, result.output
    assert "Reconciliation of 2026-11-20 (dev) failed: ConnectionError" in result.output
    staff = app.test_client()
    open_session(staff, "clerk", **STAFF)
    assert "could not ask the payment processor" in staff.get("/staff/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("day", "hours", "start"),
    [
        (date(2026, 11, 1), 25, "2026-11-01T05:00:00+00:00"),  # the clocks fall back: a 25-hour day
        (date(2026, 3, 8), 23, "2026-03-08T06:00:00+00:00"),  # they spring forward: 23 hours
        (date(2026, 11, 23), 24, "2026-11-23T06:00:00+00:00"),
    ],
)
def test_the_day_is_the_citys_from_midnight_to_midnight(day: date, hours: int, start: str) -> None:
    begins, ends = day_bounds(day, ZoneInfo("America/Chicago"))
    assert begins.isoformat() == start and ends - begins == timedelta(hours=hours)
