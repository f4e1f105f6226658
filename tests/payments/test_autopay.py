"""Auto Pay: enrol with a method saved at the processor, re-authentication, the job, the maximum, two jobs at once."""

from __future__ import annotations

import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.billing.models import PortalChange
from app.database.db import db
from app.payments.models import AutopayCharge, AutopayEnrolment, Payment
from tests.support.pages import csrf_token_from, html_page
from tests.support.payments import DECLINE, Mailbox, Processor, enrol, new_bill, pay_on_hosted_page, run_job


def enrolment(app: Flask) -> AutopayEnrolment:
    with app.app_context():
        found = db.session.scalar(select(AutopayEnrolment).filter_by(status="active"))
        assert found is not None
        db.session.expunge(found)
        return found


def test_enrol_with_a_saved_card_and_a_maximum_then_the_job_pays_new_bills(
    pay_app: Flask, pat: FlaskClient, processor: Processor, mailbox: Mailbox
) -> None:
    page = pat.get("/accounts/100001/autopay").get_data(as_text=True)
    assert "Turn on Auto Pay" in page
    done = enrol(pat, max_amount="100.00")
    assert done.status_code == 302 and done.headers["Location"] == "/accounts/100001/autopay"
    active = enrolment(pay_app)
    assert active.max_cents == 10000 and active.method_label == "Card ending 4242" and active.method_id
    page = pat.get("/accounts/100001/autopay").get_data(as_text=True)
    assert "Auto Pay is on" in page and "Card ending 4242" in page and "$100.00" in page

    assert "0 due" in run_job(pay_app)  # bills from before enrolment are not charged
    new_bill(pay_app, "B-AP-1", 4321)
    new_bill(pay_app, "B-AP-2", 25000)  # over the maximum
    new_bill(pay_app, "B-AP-3", 1500, due_in_days=10)  # not due yet
    output = run_job(pay_app)
    assert "1 due, 1 charged" in output
    with pay_app.app_context():
        charges = {c.bill_no: c.status for c in db.session.scalars(select(AutopayCharge))}
        paid = db.session.scalar(select(Payment).filter_by(source="autopay"))
        assert paid is not None and paid.status == "succeeded" and paid.amount_cents == 4321
        kinds = [c.kind for c in db.session.scalars(select(PortalChange).order_by(PortalChange.id))]
    assert charges == {"B-AP-1": "charged", "B-AP-2": "over_max", "B-AP-3": "scheduled"}
    assert kinds == ["autopay", "payment"]
    subjects = sorted(m["Subject"] for m in mailbox.to("pat@example.org"))
    assert any("did not pay" in s for s in subjects) and any(paid.receipt_no in s for s in subjects)
    assert "0 due" in run_job(pay_app)  # each bill once
    assert len([c for c in processor.server.state.charges if c.get("amount_cents") == 4321]) == 1


def test_change_the_maximum_and_cancel(pay_app: Flask, pat: FlaskClient) -> None:
    enrol(pat)
    html = pat.get("/accounts/100001/autopay").get_data(as_text=True)
    token = csrf_token_from(html)
    assert (
        pat.post("/accounts/100001/autopay/maximum", data={"csrf_token": token, "max_amount": "75"}).status_code == 302
    )
    assert enrolment(pay_app).max_cents == 7500
    pat.post("/accounts/100001/autopay/maximum", data={"csrf_token": token, "max_amount": ""})
    assert enrolment(pay_app).max_cents is None
    new_bill(pay_app, "B-AP-9", 1000, due_in_days=5)
    run_job(pay_app)
    assert pat.post("/accounts/100001/autopay/cancel", data={"csrf_token": token}).status_code == 302
    with pay_app.app_context():
        assert db.session.scalar(select(AutopayEnrolment.status)) == "cancelled"
        assert db.session.scalar(select(AutopayCharge.status)) == "cancelled"
    assert "Turn on Auto Pay" in pat.get("/accounts/100001/autopay").get_data(as_text=True)


def test_a_declined_saved_card_is_emailed_and_not_retried(pay_app: Flask, pat: FlaskClient, mailbox: Mailbox) -> None:
    enrol(pat, number=DECLINE)  # saving works; the charge shows how the card behaves
    new_bill(pay_app, "B-AP-D", 2000)
    assert "1 due, 0 charged, 1 declined" in run_job(pay_app)
    assert any("could not pay" in m["Subject"] for m in mailbox.to("pat@example.org"))
    assert "0 due" in run_job(pay_app)


def test_changing_auto_pay_needs_a_recent_sign_in(pay_app: Flask, pat: FlaskClient) -> None:
    with pat.session_transaction() as session:
        session["auth_time"] = session["login_at"] = int(time.time()) - 3600
    html = pat.get("/accounts/100001/autopay").get_data(as_text=True)
    assert "sign in again" in html
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    response = pat.post(
        "/accounts/100001/autopay",
        data={"csrf_token": csrf_token_from(html), "attempt": attempt, "method": "card"},
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?reauth=1&next=/accounts/100001/autopay"
    to_provider = pat.get(response.headers["Location"])
    query = parse_qs(urlsplit(to_provider.headers["Location"]).query)
    assert query["prompt"] == ["login"] and query["max_age"] == [str(5 * 60)]
    with pay_app.app_context():
        assert db.session.scalar(select(AutopayEnrolment)) is None


def test_previous_occupant_gets_no_auto_pay(pay_app: Flask, pat: FlaskClient) -> None:
    html = pat.get("/accounts/100004/autopay").get_data(as_text=True)
    assert "Online payment is not available for this account" in html and "Turn on Auto Pay" not in html
    token = csrf_token_from(pat.get("/accounts/100001/autopay").get_data(as_text=True))
    forced = pat.post("/accounts/100004/autopay", data={"csrf_token": token, "attempt": "y" * 20, "method": "card"})
    assert forced.status_code == 409


def test_two_jobs_at_once_take_each_charge_once(
    pay_app: Flask, pat: FlaskClient, make_app: Any, processor: Processor
) -> None:
    jobs = 3
    earlier = len(processor.server.state.charges)  # the processor serves the whole session: count only ours
    enrol(pat)
    for n in range(6):
        new_bill(pay_app, f"B-TWO-{n}", 1000 + n)
    apps = [make_app(DEV_PAYMENTS_PORT=pay_app.config["DEV_PAYMENTS_PORT"]) for _ in range(jobs)]
    barrier = threading.Barrier(jobs)
    outputs: list[str] = []

    def job(app: Flask) -> None:
        barrier.wait()
        outputs.append(app.test_cli_runner().invoke(args=["payments", "run"]).output)

    threads = [threading.Thread(target=job, args=(app,)) for app in apps]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with pay_app.app_context():
        statuses = [c.status for c in db.session.scalars(select(AutopayCharge))]
        amounts = sorted(p.amount_cents for p in db.session.scalars(select(Payment).filter_by(source="autopay")))
    assert statuses == ["charged"] * 6, outputs
    assert amounts == [1000 + n for n in range(6)]
    charged = [c["amount_cents"] for c in processor.server.state.charges[earlier:] if c.get("amount_cents") in amounts]
    assert sorted(charged) == amounts


def pay_what_is_due(client: FlaskClient) -> str:
    """Pay the amount the Pay page offers (what it says is due) with an approved card; return that amount."""
    page = html_page(client.get("/accounts/100001/pay"))
    amount = str(page.select_one("input[name=amount]")["value"])
    form = {
        "csrf_token": csrf_token_from(page.html),
        "attempt": str(page.select_one("input[name=attempt]")["value"]),
        "amount": amount,
        "method": "card",
    }
    started = client.post("/accounts/100001/pay", data=form)
    assert started.status_code == 303, started.get_data(as_text=True)
    client.get(pay_on_hosted_page(started.headers["Location"]))
    return amount


def test_a_bill_paid_online_before_the_run_is_not_charged_again(
    pay_app: Flask, pat: FlaskClient, processor: Processor
) -> None:
    enrol(pat)
    new_bill(pay_app, "B-AP-PAID", 4321)  # due today: the run takes it (AUTOPAY_DAYS_BEFORE_DUE=0)
    paid = pay_what_is_due(pat)  # the whole balance, this bill's included; not posted by billing yet
    assert not html_page(pat.get("/accounts/100001/pay")).select_one("input[name=amount]").get("value")
    taken = len(processor.server.state.charges)

    assert "1 due, 0 charged" in run_job(pay_app)
    with pay_app.app_context():
        charge = db.session.scalar(select(AutopayCharge).filter_by(bill_no="B-AP-PAID"))
        assert charge is not None and charge.status == "paid" and charge.payment_id is None
        assert db.session.scalar(select(Payment).filter_by(source="autopay")) is None
        (payment,) = db.session.scalars(select(Payment))
    assert f"{payment.amount_cents / 100:.2f}" == paid
    assert processor.server.state.charges[taken:] == []  # the processor was not asked for money


def test_a_new_auto_pay_method_does_not_charge_a_bill_the_old_one_charged(
    pay_app: Flask, pat: FlaskClient, processor: Processor
) -> None:
    earlier = len(processor.server.state.charges)  # the processor serves the whole session: count only ours
    enrol(pat)
    new_bill(pay_app, "B-AP-ONCE", 1234)
    assert "1 due, 1 charged" in run_job(pay_app)
    first = enrolment(pay_app)
    # The account still owes its older balance (this charge is pending, not posted), so only the record of
    # the charge keeps the bill from being taken again.
    assert html_page(pat.get("/accounts/100001/pay")).select_one("input[name=amount]")["value"] != "0.00"

    enrol(pat)  # a new card: saving it ends the first enrolment
    second = enrolment(pay_app)
    assert second.id != first.id
    assert "0 due" in run_job(pay_app)
    with pay_app.app_context():
        amounts = [p.amount_cents for p in db.session.scalars(select(Payment).filter_by(source="autopay"))]
        rows = [
            (c.enrolment_id, c.status) for c in db.session.scalars(select(AutopayCharge).filter_by(bill_no="B-AP-ONCE"))
        ]
    assert amounts == [1234] and rows == [(first.id, "charged")]
    assert len([c for c in processor.server.state.charges[earlier:] if c.get("amount_cents") == 1234]) == 1
