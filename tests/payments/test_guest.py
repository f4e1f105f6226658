"""Pay Now without signing in: the linking proof, the same attempt limits, a masked address, an emailed receipt."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.activity.models import AccountEvent
from app.database.db import db
from app.payments.models import Payment
from tests.support.pages import csrf_token, csrf_token_from
from tests.support.payments import Mailbox, pay_on_hosted_page


def lookup(client: FlaskClient, account_no: str, customer_id: str) -> object:
    token = csrf_token(client, "/pay")
    return client.post("/pay", data={"csrf_token": token, "account_no": account_no, "customer_id": customer_id})


def test_guest_pays_with_the_pair_from_the_bill_and_gets_a_receipt_by_email(pay_app: Flask, mailbox: Mailbox) -> None:
    client = pay_app.test_client()
    assert client.get("/pay").status_code == 200
    assert client.get("/pay/amount").headers["Location"] == "/pay"  # not verified yet
    response = lookup(client, "100-001", "2000001")
    assert response.status_code == 302 and response.headers["Location"] == "/pay/amount"  # type: ignore[attr-defined]
    page = client.get("/pay/amount")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Amount due" in html and "Service address:" in html
    assert "•" in html
    with pay_app.app_context():
        from app.billing.models import BillingAccount, BillingCustomer

        account = db.session.scalar(select(BillingAccount).filter_by(account_no="100001"))
        customer = db.session.scalar(select(BillingCustomer).filter_by(customer_id="2000001"))
        assert account is not None and customer is not None
        assert account.service_address not in html and customer.name not in html  # only the masked address

    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": csrf_token_from(html), "attempt": attempt, "amount": "20.00", "method": "card"}
    refused = client.post("/pay/amount", data={**data, "email": "not an email"})
    assert refused.status_code == 200 and "Enter an email address" in refused.get_data(as_text=True)
    started = client.post("/pay/amount", data={**data, "email": "guest@example.net"})
    assert started.status_code == 303
    back = pay_on_hosted_page(started.headers["Location"])
    receipt = client.get(client.get(back).headers["Location"]).get_data(as_text=True)
    with pay_app.app_context():
        payment = db.session.scalar(select(Payment))
        assert payment is not None
        assert (payment.source, payment.resident_id, payment.status) == ("guest", None, "succeeded")
        assert payment.receipt_no in receipt and "Make another payment" in receipt
    (mail,) = mailbox.to("guest@example.net")
    assert payment.receipt_no in mail["Subject"]
    assert pay_app.test_client().get(f"/payments/{payment.public_id}").status_code == 404  # another browser


def test_wrong_pairs_are_limited_like_linking(pay_app: Flask) -> None:
    client = pay_app.test_client()
    said = []
    for n in range(5):
        response = lookup(client, "100001", f"999999{n}")
        assert response.status_code == 200  # type: ignore[attr-defined]
        said.append(response.get_data(as_text=True))  # type: ignore[attr-defined]
        assert "find an account with that account number" in said[-1]
    assert not any("tries left" in page or "1 try left" in page for page in said[:2])
    assert "2 tries left" in said[2] and "1 try left" in said[3]
    assert "that was the last try for now" in said[4] and "Central Standard Time" in said[4]
    blocked = lookup(client, "100001", "2000001")  # even the right pair now waits
    assert blocked.status_code == 429 and blocked.headers["Retry-After"]  # type: ignore[attr-defined]
    page = blocked.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Too many attempts to find your account" in page and "Pay Now is paused" in page
    assert "link" not in page.split("<main", 1)[1].split("</main>", 1)[0].lower().replace("usa-link", "")
    assert "Central Standard Time" in page
    with pay_app.app_context():
        outcomes = list(db.session.scalars(select(AccountEvent.outcome).order_by(AccountEvent.id)))
    assert outcomes == ["failed_guest_not_found"] * 5 + ["failed_guest_rate_limited"]


def test_a_previous_occupant_cannot_pay_now(pay_app: Flask) -> None:
    client = pay_app.test_client()
    assert lookup(client, "100004", "2000004").status_code == 302  # type: ignore[attr-defined]
    html = client.get("/pay/amount").get_data(as_text=True)
    assert "Online payment is not available for this account" in html and "Continue to payment" not in html
