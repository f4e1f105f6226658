"""With the development defaults (no SMTP_HOST), a payment's receipt goes to the development mail page."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from app.database.db import db
from app.payments.models import Payment
from tests.billing.pages import add_links, load_demo, resident_id
from tests.support.pages import csrf_token_from, html_page
from tests.support.payments import Processor, pay_on_hosted_page
from tests.support.ports import free_port
from tests.support.signin import open_session
from tests.support.threads import serve


def test_the_receipt_of_a_payment_is_on_the_development_mail_page(
    make_app: Callable[..., Flask], processor: Processor
) -> None:
    port = free_port()
    app = make_app(DEV_PAYMENTS_PORT=processor.port, PORTAL_BASE_URL=f"http://localhost:{port}")
    load_demo(app)
    with serve(app, port):
        client = app.test_client()
        open_session(client, "pat")
        add_links(app, resident_id(app, "pat"), [("100001", "2000001")])
        form = client.get("/accounts/100001/pay").get_data(as_text=True)
        attempt = form.split('name="attempt" type="hidden" value="', 1)[1].split('"', 1)[0]
        data = {"csrf_token": csrf_token_from(form), "attempt": attempt, "amount": "42.50", "method": "card"}
        checkout = client.post("/accounts/100001/pay", data=data).headers["Location"]
        back = pay_on_hosted_page(checkout)
        receipt = html_page(client.get(client.get(back).headers["Location"]))
    with app.app_context():
        payment = db.session.scalars(db.select(Payment)).one()
        receipt_no = payment.receipt_no
    assert "Payment received" in receipt.text and "We emailed a receipt to pat@example.org." in receipt.text
    page = html_page(app.test_client().get("/_dev/mail"))
    (message,) = page.select('section[aria-labelledby^="mail-"]')
    assert message.h2 is not None and receipt_no in message.h2.get_text()
    text = " ".join(message.get_text(" ").split())
    assert "pat@example.org" in text and "$42.50" in text and f"Receipt number: {receipt_no}" in text
