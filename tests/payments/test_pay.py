"""Paying a bill through the development processor: approve, decline, cancel, processor down, webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from app.billing.models import BillingAccount, BillingPayment, PortalChange
from app.database.db import db
from app.payments.devprocessor import DEV_WEBHOOK_SECRET, SIGNATURE_HEADER
from app.payments.models import Payment, PaymentEvent
from app.payments.processor import sign
from tests.support.pages import csrf_token_from, html_page
from tests.support.payments import APPROVE, DECLINE, NO_FUNDS, Mailbox, Processor, pay_on_hosted_page
from tests.support.ports import free_port
from tests.support.threads import serve


def start_payment(client: FlaskClient, account_no: str = "100001", **fields: str) -> Any:
    """Open the pay page, keep its CSRF and attempt tokens, and submit it (``fields`` override the defaults)."""
    html = client.get(f"/accounts/{account_no}/pay").get_data(as_text=True)
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": csrf_token_from(html), "attempt": attempt, "amount": "42.50", "method": "card", **fields}
    return client.post(f"/accounts/{account_no}/pay", data=data)


def payments(app: Flask) -> list[Payment]:
    with app.app_context():
        rows = list(db.session.scalars(select(Payment).order_by(Payment.id)))
        db.session.expunge_all()
        return rows


def outbox(app: Flask) -> list[PortalChange]:
    with app.app_context():
        rows = list(db.session.scalars(select(PortalChange).order_by(PortalChange.id)))
        db.session.expunge_all()
        return rows


def test_approved_payment_has_a_receipt_a_pending_line_an_email_and_an_outbox_row(
    pay_app: Flask, pat: FlaskClient, mailbox: Mailbox
) -> None:
    page = pat.get("/accounts/100001/pay")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Continue to payment" in html and "No convenience fee" in html
    response = start_payment(pat)
    assert response.status_code == 303
    checkout = response.headers["Location"]
    assert checkout.startswith("http://localhost:") and "/pay/devcs_" in checkout

    back = pay_on_hosted_page(checkout, number=APPROVE)
    (payment,) = payments(pay_app)
    assert payment.status == "succeeded"  # the webhook arrived before the resident came back
    assert payment.amount_cents == 4250 and payment.reference and payment.reference.startswith("devch_")
    assert back == f"/payments/{payment.public_id}/return"

    done = pat.get(back)
    assert done.status_code == 302 and done.headers["Location"] == f"/payments/{payment.public_id}"
    receipt = pat.get(done.headers["Location"]).get_data(as_text=True)
    assert "Payment received" in receipt and payment.receipt_no in receipt and "Card ending 4242" in receipt
    assert "4242 4242" not in receipt

    summary = pat.get("/accounts/100001").get_data(as_text=True)
    assert "Pending payments" in summary and payment.receipt_no in summary and "$42.50" in summary
    home = pat.get("/").get_data(as_text=True)
    assert "Your online payment of $42.50 is still being posted" in home and 'href="/accounts/100001/pay"' in home
    assert 'href="/accounts/100004/pay"' not in home  # the previous occupant's card has no Pay button

    (mail,) = mailbox.to("pat@example.org")
    assert payment.receipt_no in mail["Subject"] and "$42.50" in mail.get_payload()

    (change,) = outbox(pay_app)
    assert (change.kind, change.account_no, change.customer_id) == ("payment", "100001", "2000001")
    assert json.loads(change.value) == {
        "amount": "42.50",
        "fee": "0.00",
        "method": "card",
        "receipt": payment.receipt_no,
        "reference": payment.reference,
    }
    with pay_app.app_context():
        actions = list(db.session.scalars(select(PaymentEvent.action).order_by(PaymentEvent.id)))
    assert actions == ["payment_open", "payment_succeeded"]


def test_the_import_that_carries_the_payment_clears_the_pending_line_once(pay_app: Flask, pat: FlaskClient) -> None:
    back = pay_on_hosted_page(start_payment(pat).headers["Location"])
    pat.get(back)
    (payment,) = payments(pay_app)
    with pay_app.app_context():
        account = db.session.scalar(select(BillingAccount).filter_by(account_no="100001"))
        assert account is not None
        posted: dict[str, Any] = {"payment_id": "EXT-1"} if hasattr(BillingPayment, "payment_id") else {}
        db.session.add(
            BillingPayment(
                account_no=account.account_no,
                customer_id="2000001",
                posted_on=account.opened_on,
                amount_cents=4250,
                method="card",
                reference=payment.reference,
                **posted,
            )
        )
        db.session.commit()
    summary = pat.get("/accounts/100001").get_data(as_text=True)
    assert "Pending payments" not in summary
    result = pay_app.test_cli_runner().invoke(args=["payments", "run"])
    assert result.exit_code == 0, result.output
    assert "1 payments posted" in result.output
    (cleared,) = payments(pay_app)
    assert cleared.posted_at is not None


@pytest.mark.parametrize(
    ("number", "failure", "message"),
    [(DECLINE, "declined", "The payment was declined"), (NO_FUNDS, "insufficient_funds", "insufficient funds")],
)
def test_declined_and_insufficient_funds_charge_nothing(
    pay_app: Flask, pat: FlaskClient, mailbox: Mailbox, number: str, failure: str, message: str
) -> None:
    back = pay_on_hosted_page(start_payment(pat).headers["Location"], number=number)
    page = pat.get(pat.get(back).headers["Location"]).get_data(as_text=True)
    assert message in page and "Nothing was charged" in page
    (payment,) = payments(pay_app)
    assert (payment.status, payment.failure, payment.reference) == ("failed", failure, None)
    assert outbox(pay_app) == [] and mailbox.to("pat@example.org") == []
    assert "Pending payments" not in pat.get("/accounts/100001").get_data(as_text=True)


def test_a_cancelled_hosted_page_charges_nothing(pay_app: Flask, pat: FlaskClient) -> None:
    back = pay_on_hosted_page(start_payment(pat).headers["Location"], action="cancel")
    assert back.endswith("/cancelled")
    page = pat.get(pat.get(back).headers["Location"]).get_data(as_text=True)
    assert "You cancelled the payment. Nothing was charged." in page
    (payment,) = payments(pay_app)
    assert payment.status == "cancelled" and outbox(pay_app) == []


def test_a_double_submit_makes_one_payment(pay_app: Flask, pat: FlaskClient, processor: Processor) -> None:
    html = pat.get("/accounts/100001/pay").get_data(as_text=True)
    attempt = html.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
    data = {"csrf_token": csrf_token_from(html), "attempt": attempt, "amount": "10.00", "method": "card"}
    first = pat.post("/accounts/100001/pay", data=data)
    second = pat.post("/accounts/100001/pay", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert len(payments(pay_app)) == 1
    pay_on_hosted_page(first.headers["Location"])
    again = requests.post(first.headers["Location"], data={"number": APPROVE, "expiry": "12/99", "cvc": "1"}, timeout=5)
    assert "already been used" in again.text
    (payment,) = payments(pay_app)
    charges = [c for c in processor.server.state.charges if c.get("reference") == payment.reference]
    assert len(charges) == 1


def test_amounts_outside_the_limits_are_refused(pay_app: Flask, pat: FlaskClient) -> None:
    for amount in ("0.50", "5000.01", "1.000", "12,345", "abc"):
        response = start_payment(pat, amount=amount)
        assert response.status_code == 200, amount
        assert "usa-error-message" in response.get_data(as_text=True)
    assert payments(pay_app) == []


def test_an_amount_with_a_decimal_comma_is_read_as_the_spanish_pages_show_it(pay_app: Flask, pat: FlaskClient) -> None:
    """ "12,34" (how the Spanish pages write $12.34) is $12.34, never $1,234; "1.000" is no amount at all."""
    response = start_payment(pat, amount="12,34")
    assert response.status_code == 303
    (payment,) = payments(pay_app)
    assert payment.amount_cents == 1234


def test_previous_occupant_and_closed_account_cannot_pay(pay_app: Flask, pat: FlaskClient) -> None:
    for account_no in ("100003", "100004"):
        page = pat.get(f"/accounts/{account_no}/pay").get_data(as_text=True)
        assert "Online payment is not available for this account" in page and "Continue to payment" not in page
        assert f'href="/accounts/{account_no}/pay"' not in pat.get(f"/accounts/{account_no}").get_data(as_text=True)
    html = pat.get("/accounts/100001/pay").get_data(as_text=True)
    forced = pat.post(
        "/accounts/100004/pay",
        data={"csrf_token": csrf_token_from(html), "attempt": "x" * 20, "amount": "5.00", "method": "card"},
    )
    assert forced.status_code == 409 and payments(pay_app) == []
    assert pat.get("/accounts/999999/pay").status_code == 404


@pytest.fixture
def broken_processor() -> Iterator[int]:
    """Something on a port that answers every request with 503, like a processor that is down."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return Response("down", status=503)(environ, start_response)

    port = free_port()
    with serve(app, port):
        yield port


def test_a_processor_that_is_down_gives_a_clear_page_and_keeps_nothing(make_app: Any, broken_processor: int) -> None:
    from tests.billing.pages import add_links, load_demo, resident_id
    from tests.support.signin import open_session

    app = make_app(DEV_PAYMENTS_PORT=broken_processor)
    load_demo(app)
    client = app.test_client()
    open_session(client, "pat")
    add_links(app, resident_id(app, "pat"), [("100001", "2000001")])
    response = start_payment(client)
    html = response.get_data(as_text=True)
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert "Online payments are unavailable right now" in html and "Nothing was charged" in html
    assert payments(app) == [] and outbox(app) == []


def post_webhook(
    pay_app: Flask, event: dict[str, Any], *, secret: str = DEV_WEBHOOK_SECRET, stamp: int | None = None
) -> Any:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, stamp)}
    return pay_app.test_client().post("/payments/webhook", data=body, headers=headers)


def test_webhooks_forged_replayed_or_out_of_order_change_nothing(
    pay_app: Flask, pat: FlaskClient, processor: Processor
) -> None:
    checkout = start_payment(pat).headers["Location"]
    checkout_id = checkout.rsplit("/", 1)[1]
    (payment,) = payments(pay_app)
    success = {"id": "devevt_forged", "type": "checkout.completed", "created": 0}
    success["data"] = {"id": checkout_id, "status": "succeeded", "reference": "devch_forged"}

    assert post_webhook(pay_app, success, secret="not-the-secret").status_code == 400
    assert post_webhook(pay_app, success, stamp=int(time.time()) - 3600).status_code == 400
    unsigned = pay_app.test_client().post("/payments/webhook", data=json.dumps(success))
    assert unsigned.status_code == 400
    assert payments(pay_app)[0].status == "open"

    # A forged return URL proves nothing: the portal asks the processor, which says the page is still open.
    pat.get(f"/payments/{payment.public_id}/return")
    assert payments(pay_app)[0].status == "open"

    pay_on_hosted_page(checkout, number=DECLINE)
    failed_event = next(e for e in processor.server.state.webhooks if e["data"]["id"] == checkout_id)
    replay = post_webhook(pay_app, failed_event)
    assert replay.status_code == 200 and replay.get_json() == {"result": "duplicate"}
    late_success = {**success, "id": "devevt_late"}  # out of order: a success after the failure
    assert post_webhook(pay_app, late_success).get_json() == {"result": "ignored"}
    (final,) = payments(pay_app)
    assert final.status == "failed" and final.reference is None
    assert outbox(pay_app) == []
    assert post_webhook(pay_app, {**success, "id": "devevt_other", "data": {"id": "devcs_unknown"}}).get_json() == {
        "result": "unknown"
    }


def test_someone_else_cannot_see_a_payment(pay_app: Flask, pat: FlaskClient) -> None:
    pay_on_hosted_page(start_payment(pat).headers["Location"])
    (payment,) = payments(pay_app)
    stranger = pay_app.test_client()
    assert stranger.get(f"/payments/{payment.public_id}").status_code == 404
    assert stranger.get(f"/payments/{payment.public_id}/return").status_code == 404
    with pay_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_the_development_processor_refuses_production() -> None:
    from app.dev.payments import DevProcessorUnavailable, start

    with pytest.raises(DevProcessorUnavailable, match="PORTAL_ENV=production"):
        start(free_port(), production=True)


def test_a_production_portal_without_a_processor_answers_503(make_app: Any) -> None:
    from app.payments.configured import payment_processor
    from app.payments.processor import ProcessorUnavailable

    app = make_app(PORTAL_ENV="testing")
    with app.app_context():
        from dataclasses import replace

        from app.core.config import get_settings

        app.extensions["settings"] = replace(get_settings(app), portal_env="production")
        with pytest.raises(ProcessorUnavailable):
            payment_processor()


def test_pay_page_pay_now_and_summary_show_one_amount_owed(pay_app: Flask, pat: FlaskClient) -> None:
    """The balance less the payments not posted yet, never below zero, on every page that says what is owed."""

    def offered(client: FlaskClient, path: str) -> str:
        page = html_page(client.get(path))
        return str(page.select_one("input[name=amount]").get("value") or "")

    def figure(client: FlaskClient, path: str) -> str:
        return html_page(client.get(path)).select_one(".portal-due__figure").get_text(" ", strip=True)

    guest = pay_app.test_client()
    token = csrf_token_from(guest.get("/pay").get_data(as_text=True))
    guest.post("/pay", data={"csrf_token": token, "account_no": "100001", "customer_id": "2000001"})
    balance = round(float(offered(pat, "/accounts/100001/pay")) * 100)
    assert balance > 1000 and offered(guest, "/pay/amount") == f"{balance / 100:.2f}"
    pages = ("/accounts/100001/pay", "/accounts/100001", "/")
    assert len({figure(pat, path) for path in pages} | {figure(guest, "/pay/amount")}) == 1  # the same words
    assert "still being posted" not in pat.get("/accounts/100001").get_data(as_text=True)  # nothing pending

    pat.get(pay_on_hosted_page(start_payment(pat, amount="10.00").headers["Location"]))
    left = balance - 1000
    assert offered(pat, "/accounts/100001/pay") == offered(guest, "/pay/amount") == f"{left / 100:.2f}"
    words = {figure(pat, path) for path in pages} | {figure(guest, "/pay/amount")}
    assert words == {f"${left / 100:,.2f} due Nov 25, 2026"}
    for path in pages:
        assert "Your online payment of $10.00 is still being posted" in html_page(pat.get(path)).text

    pat.get(pay_on_hosted_page(start_payment(pat, amount=f"{left / 100 + 5:.2f}").headers["Location"]))  # $5 too much
    assert offered(pat, "/accounts/100001/pay") == offered(guest, "/pay/amount") == ""  # not "0.00": under $1
    assert {figure(pat, path) for path in pages} == {"Nothing due. You have a credit of $5.00."}
    assert "You can still pay ahead" in html_page(pat.get("/accounts/100001/pay")).text
