"""Bank (ACH) debits settle days later, or fail then, or come back after they succeeded (a return).

The development processor's account 000222222227 answers like a real bank debit: processing, until the test
settles it (``tests/support/bank.py``), which sends the webhook a real processor would. One-time payments and
Auto Pay charges are driven through the portal over HTTP; the portal's job finishes a debit whose webhook
was lost.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.billing.models import PortalChange
from app.database.db import db
from app.payments.models import AutopayCharge, Payment, PaymentEvent
from tests.support.bank import SETTLES_LATER, pay_by_bank, settle
from tests.support.pages import csrf_token_from
from tests.support.payments import new_bill, run_job


def _attempt(html: str) -> str:
    return html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]


def pay_by_bank_on_the_portal(client: FlaskClient, amount: str = "42.50") -> str:
    """Pay ``amount`` on account 100001 by bank; the portal path the processor sends the resident back to."""
    html = client.get("/accounts/100001/pay").get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(html), "attempt": _attempt(html), "amount": amount, "method": "ach"}
    started = client.post("/accounts/100001/pay", data=data)
    assert started.status_code == 303, started.get_data(as_text=True)
    return pay_by_bank(started.headers["Location"])


def the_payment(app: Flask) -> Payment:
    with app.app_context():
        (payment,) = db.session.scalars(select(Payment))
        db.session.expunge(payment)
        return payment


def changes(app: Flask) -> list[tuple[str, dict[str, Any]]]:
    with app.app_context():
        rows = db.session.scalars(select(PortalChange).where(PortalChange.kind != "autopay").order_by(PortalChange.id))
        return [(row.kind, json.loads(row.value)) for row in rows]


def subjects(mailbox: Any) -> list[str]:
    return [str(m["Subject"]) for m in mailbox.to("pat@example.org")]


def test_a_processing_debit_is_not_declined_then_settles_then_is_returned(
    pay_app: Flask, pat: FlaskClient, processor: Any, mailbox: Any
) -> None:
    back = pay_by_bank_on_the_portal(pat)
    processing = the_payment(pay_app)
    assert processing.status == "processing" and processing.failure == ""
    assert processing.reference and processing.reference.startswith("devch_")  # the reference is kept
    page = pat.get(pat.get(back).headers["Location"]).get_data(as_text=True)
    assert "We are processing your bank payment" in page and processing.receipt_no in page
    assert "declined" not in page and "Nothing was charged" not in page
    assert changes(pay_app) == []  # the billing system hears of it once the money has arrived
    assert subjects(mailbox) == [f"We are processing your bank payment {processing.receipt_no}"]
    summary = pat.get("/accounts/100001").get_data(as_text=True)
    assert "Bank payment processing" in summary and processing.receipt_no in summary  # counted as on its way

    settled = settle(processor.url, processing.reference, "succeeded")
    assert settled.status_code == 200, settled.text
    paid = the_payment(pay_app)
    assert (paid.status, paid.reference) == ("succeeded", processing.reference)
    payment_row = {
        "amount": "42.50",
        "fee": "0.00",
        "method": "ach",
        "receipt": paid.receipt_no,
        "reference": paid.reference,
    }
    assert changes(pay_app) == [("payment", payment_row)]
    assert subjects(mailbox)[-1] == f"Payment receipt {paid.receipt_no}"
    assert "Payment received" in pat.get(f"/payments/{paid.public_id}").get_data(as_text=True)

    # The same event delivered again, and the processor asked to settle twice, change nothing.
    event = next(e for e in processor.server.state.webhooks if e["type"] == "charge.succeeded")
    again = pay_app.test_client().post(
        "/payments/webhook", data=json.dumps(event), headers=_signed(json.dumps(event).encode())
    )
    assert again.get_json() == {"result": "duplicate"}
    assert settle(processor.url, processing.reference, "succeeded").status_code == 409
    assert len(changes(pay_app)) == 1

    returned = settle(processor.url, processing.reference, "returned", failure="account_closed")
    assert returned.status_code == 200, returned.text
    late = the_payment(pay_app)
    assert (late.status, late.failure) == ("returned", "account_closed")
    assert changes(pay_app) == [
        ("payment", payment_row),
        ("payment_returned", {**payment_row, "reason": "account_closed"}),
    ]
    assert subjects(mailbox)[-1] == "Your payment for account 100001 was returned"
    page = pat.get(f"/payments/{late.public_id}").get_data(as_text=True)
    assert "Payment returned" in page and "no longer counts toward your bill" in page
    assert late.receipt_no not in pat.get("/accounts/100001").get_data(as_text=True)  # no longer pending
    with pay_app.app_context():
        actions = list(db.session.scalars(select(PaymentEvent.action).order_by(PaymentEvent.id)))
    assert actions == ["payment_open", "payment_processing", "payment_succeeded", "payment_returned"]


def test_a_debit_that_fails_days_later_is_recorded_and_emailed_once(
    pay_app: Flask, pat: FlaskClient, processor: Any, mailbox: Any
) -> None:
    pay_by_bank_on_the_portal(pat)
    reference = the_payment(pay_app).reference
    assert reference is not None
    assert settle(processor.url, reference, "failed", failure="insufficient_funds").status_code == 200
    failed = the_payment(pay_app)
    assert (failed.status, failed.failure, failed.reference) == ("failed", "insufficient_funds", reference)
    assert changes(pay_app) == []
    assert subjects(mailbox)[-1] == "Your bank payment for account 100001 did not go through"
    assert len(subjects(mailbox)) == 2  # "we are processing it", then this; no receipt
    assert failed.receipt_no not in pat.get("/accounts/100001").get_data(as_text=True)
    assert settle(processor.url, reference, "succeeded").status_code == 409  # a failed debit stays failed


def _signed(body: bytes) -> dict[str, str]:
    from app.payments.devprocessor import DEV_WEBHOOK_SECRET, SIGNATURE_HEADER
    from app.payments.processor import sign

    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(DEV_WEBHOOK_SECRET, body)}


def _enrol_by_bank(client: FlaskClient) -> None:
    html = client.get("/accounts/100001/autopay").get_data(as_text=True)
    data = {"csrf_token": csrf_token_from(html), "attempt": _attempt(html), "method": "ach", "max_amount": ""}
    started = client.post("/accounts/100001/autopay", data=data)
    assert started.status_code == 303, started.get_data(as_text=True)
    back = pay_by_bank(started.headers["Location"], SETTLES_LATER)
    assert client.get(back).status_code == 302


def test_auto_pay_bank_debit_is_taken_not_declined_and_the_job_finishes_it(
    pay_app: Flask, pat: FlaskClient, processor: Any, mailbox: Any
) -> None:
    _enrol_by_bank(pat)
    new_bill(pay_app, "B-ACH-1", 6150)
    output = run_job(pay_app)
    assert "1 due, 0 charged, 0 declined, 1 bank debits processing" in output, output
    assert not any("could not pay" in s for s in subjects(mailbox))  # never "declined" while it goes ahead
    payment = the_payment(pay_app)
    assert (payment.status, payment.source, payment.amount_cents) == ("processing", "autopay", 6150)
    assert payment.reference and payment.reference.startswith("devch_")
    with pay_app.app_context():
        assert db.session.scalar(select(AutopayCharge.status)) == "charged"
    assert changes(pay_app) == []
    assert subjects(mailbox)[-1] == f"We are processing your bank payment {payment.receipt_no}"

    # The bank settles it but the webhook never arrives: the next run asks the processor.
    assert settle(processor.url, payment.reference, "succeeded", notify=False).status_code == 200
    assert the_payment(pay_app).status == "processing"
    assert "1 waiting payments checked" in run_job(pay_app)
    paid = the_payment(pay_app)
    assert paid.status == "succeeded" and paid.reference == payment.reference
    assert [kind for kind, _ in changes(pay_app)] == ["payment"]
    assert subjects(mailbox)[-1] == f"Payment receipt {paid.receipt_no}"
    assert "0 waiting payments checked" in run_job(pay_app)  # finished: nothing more to ask, nothing sent twice
    assert [kind for kind, _ in changes(pay_app)] == ["payment"]
    charges = [c for c in processor.server.state.charges if c.get("reference") == paid.reference]
    assert len(charges) == 1 and charges[0]["amount_cents"] == 6150


def test_auto_pay_bank_debit_failing_later_marks_the_charge_and_tells_the_resident(
    pay_app: Flask, pat: FlaskClient, processor: Any, mailbox: Any
) -> None:
    _enrol_by_bank(pat)
    new_bill(pay_app, "B-ACH-2", 2500)
    run_job(pay_app)
    reference = the_payment(pay_app).reference
    assert reference is not None
    assert settle(processor.url, reference, "failed", failure="insufficient_funds").status_code == 200
    assert the_payment(pay_app).status == "failed"
    with pay_app.app_context():
        assert db.session.scalar(select(AutopayCharge.status)) == "failed"
    assert subjects(mailbox)[-1] == "Your bank payment for account 100001 did not go through"
    assert changes(pay_app) == []


def test_the_job_asks_about_each_waiting_payment_in_turn_and_not_on_every_run(make_app: Any) -> None:
    from app.core.clock import utcnow
    from app.payments.charges import payments_to_check

    app = make_app()
    with app.app_context():
        now = utcnow()

        def payment(n: int, status: str, *, age: timedelta, checked: timedelta | None = None) -> Payment:
            row = Payment(
                public_id=f"p{n}",
                idempotency_key=f"pay-{n}",
                receipt_no=f"P{n:010d}",
                source="resident",
                account_no="100001",
                customer_id="2000001",
                method="ach",
                amount_cents=1000,
                status=status,
                processor="dev",
                checkout_id=f"devcs_{n}",
                created_at=now - age,
                updated_at=now - age,
                checked_at=now - checked if checked is not None else None,
            )
            db.session.add(row)
            return row

        payment(1, "processing", age=timedelta(days=3), checked=timedelta(minutes=30))
        payment(2, "processing", age=timedelta(days=1))  # never asked: first
        payment(3, "processing", age=timedelta(days=2), checked=timedelta(minutes=5))  # asked just now
        payment(4, "open", age=timedelta(minutes=3))  # the resident may still be on the page
        payment(5, "open", age=timedelta(hours=1))
        payment(6, "open", age=timedelta(days=3))  # the page expired long ago
        payment(7, "succeeded", age=timedelta(days=1))
        db.session.commit()
        ids = {p.id: p.public_id for p in db.session.scalars(select(Payment))}
        asked = [ids[i] for i in payments_to_check(db.session, now=now)]
        assert asked == ["p2", "p5", "p1"]  # least recently asked (or made) first: a day, an hour, 30 minutes ago
        assert [ids[i] for i in payments_to_check(db.session, now=now, limit=1)] == ["p2"]
