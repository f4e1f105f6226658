"""Bill delivery: paperless or paper, chosen by the account's current customer, recorded and audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.activity.models import AccountEvent
from app.billing.models import BillingAccount
from app.database.db import db
from tests.billing.pages import add_links, assert_csp_clean, load_demo, resident_id
from tests.support.pages import csrf_token, html_page
from tests.support.signin import open_session

CHANGE_LINK = 'a[href="/accounts/{}/delivery"]'


def delivery_of(app: Flask, account_no: str) -> str:
    with app.app_context():
        found = db.session.scalar(select(BillingAccount.bill_delivery).filter_by(account_no=account_no))
        assert found is not None
        return found


def set_delivery(app: Flask, account_no: str, value: str) -> None:
    with app.app_context():
        db.session.execute(
            BillingAccount.__table__.update()
            .where(BillingAccount.__table__.c.account_no == account_no)
            .values(bill_delivery=value)
        )
        db.session.commit()


def events(app: Flask) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(AccountEvent.outcome).order_by(AccountEvent.id)))


@pytest.fixture
def pat(app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]) -> FlaskClient:
    """Signed in as "pat" with an open account, a closed one and a moved-out occupant's account linked."""
    load_demo(app)
    signed_in_as("pat")
    add_links(app, resident_id(app, "pat"), [("100001", "2000001"), ("100003", "2000003"), ("100004", "2000004")])
    return client


def post_delivery(client: FlaskClient, account_no: str, value: str | None) -> Any:
    token = csrf_token(client, f"/accounts/{account_no}/delivery")
    data = {"csrf_token": token} | ({"delivery": value} if value is not None else {})
    return client.post(f"/accounts/{account_no}/delivery", data=data)


def test_only_the_current_customer_of_an_open_account_is_offered_the_change(pat: FlaskClient) -> None:
    assert html_page(pat.get("/accounts/100001")).select(CHANGE_LINK.format("100001"))
    assert not html_page(pat.get("/accounts/100003")).select(CHANGE_LINK.format("100003"))  # closed
    assert not html_page(pat.get("/accounts/100004")).select(CHANGE_LINK.format("100004"))  # moved out


def test_paperless_on_then_back_to_paper(app: Flask, pat: FlaskClient) -> None:
    set_delivery(app, "100001", "paper")
    page = html_page(pat.get("/accounts/100001/delivery"))
    assert page.status == 200
    assert page.select_one('input[value="paper"]').has_attr("checked") and "pat@example.org" in page.text
    assert_csp_clean(page.html)

    response = post_delivery(pat, "100001", "email")
    assert response.status_code == 302 and response.headers["Location"] == "/accounts/100001"
    summary = pat.get("/accounts/100001").get_data(as_text=True)
    assert "Paperless billing is on for account 100001." in summary
    assert "<dd>Email" in summary
    assert delivery_of(app, "100001") == "email"

    assert post_delivery(pat, "100001", "paper").status_code == 302
    assert delivery_of(app, "100001") == "paper"
    assert events(app)[-2:] == ["paperless_on", "paperless_off"]
    settings = pat.get("/account").get_data(as_text=True)
    assert "Paperless billing turned on" in settings and "Paper bills by mail turned on" in settings


def test_choosing_the_current_delivery_changes_nothing(app: Flask, pat: FlaskClient) -> None:
    set_delivery(app, "100001", "paper")
    before = events(app)
    assert post_delivery(pat, "100001", "paper").status_code == 302
    assert "Nothing changed" in pat.get("/accounts/100001").get_data(as_text=True)
    assert events(app) == before


def test_paperless_needs_an_activated_email(app: Flask, pat: FlaskClient) -> None:
    set_delivery(app, "100001", "paper")
    open_session(pat, "pat", email_verified=False)  # signed in again: the email is unverified now
    page = html_page(post_delivery(pat, "100001", "email"))
    assert page.status == 200
    assert page.title.startswith("Error: Bill delivery") and page.select('[role="alert"]')
    assert "not activated yet" in page.text
    assert delivery_of(app, "100001") == "paper"
    assert "paperless_on" not in events(app)


@pytest.mark.parametrize("account_no", ["100003", "100004"])
def test_closed_or_moved_out_accounts_refuse_with_409(app: Flask, pat: FlaskClient, account_no: str) -> None:
    before = delivery_of(app, account_no)
    page = html_page(pat.get(f"/accounts/{account_no}/delivery"))
    assert "You can't change bill delivery for this account" in page.text and not page.select("form.usa-form")
    token = csrf_token(pat, "/accounts/100001/delivery")
    other = "paper" if before == "email" else "email"
    response = pat.post(f"/accounts/{account_no}/delivery", data={"csrf_token": token, "delivery": other})
    assert response.status_code == 409
    assert delivery_of(app, account_no) == before


def test_no_choice_is_explained_and_a_forged_one_is_400(app: Flask, pat: FlaskClient) -> None:
    before = delivery_of(app, "100001")
    missing = post_delivery(pat, "100001", None)
    assert missing.status_code == 200
    assert "Choose how you want to get your bills." in missing.get_data(as_text=True)
    forged = post_delivery(pat, "100001", "carrier-pigeon")
    assert forged.status_code == 400
    assert "Choose how you want to get your bills." in forged.get_data(as_text=True)
    assert pat.post("/accounts/100001/delivery", data={"delivery": "email"}).status_code == 400  # no CSRF token
    assert delivery_of(app, "100001") == before


def test_someone_elses_account_is_404(app: Flask, pat: FlaskClient) -> None:
    other = app.test_client()
    open_session(other, "sam")
    assert other.get("/accounts/100001/delivery").status_code == 404
    token = csrf_token(other, "/account")
    response = other.post("/accounts/100001/delivery", data={"csrf_token": token, "delivery": "email"})
    assert response.status_code == 404
