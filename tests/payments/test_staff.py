"""Staff see payments and Auto Pay enrolments per resident and per account; residents without the role get 403."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from tests.billing.pages import resident_id
from tests.payments.test_autopay import enrol
from tests.payments.test_pay import payments, start_payment
from tests.support.payments import pay_on_hosted_page
from tests.support.signin import open_session


def test_staff_see_payments_and_enrolments(pay_app: Flask, pat: FlaskClient) -> None:
    pay_on_hosted_page(start_payment(pat).headers["Location"])
    enrol(pat, max_amount="80")
    (payment,) = payments(pay_app)
    assert pat.get(f"/staff/residents/{resident_id(pay_app, 'pat')}").status_code == 403

    staff = pay_app.test_client()
    open_session(staff, "sam", realm_access={"roles": ["resident", "staff"]})
    page = staff.get(f"/staff/residents/{resident_id(pay_app, 'pat')}").get_data(as_text=True)
    assert payment.receipt_no in page and str(payment.reference) in page and "$42.50" in page
    assert "Auto Pay" in page and "$80.00" in page and "Card ending 4242" in page
    account = staff.get("/staff/accounts/100001/payments")
    html = account.get_data(as_text=True)
    assert account.status_code == 200 and payment.receipt_no in html and "dashboard, by the processor reference" in html
    assert "No payments." in staff.get("/staff/accounts/100002/payments").get_data(as_text=True)
