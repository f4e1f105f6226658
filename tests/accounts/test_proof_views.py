"""Account Link Setup and Pay Now under each ``LINK_PROOF``: the field shown, the one message, the limits."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from app import create_app
from app.accounts.models import AccountLink
from app.activity.models import AccountEvent
from app.billing.models import BillingBill, BillingCustomer
from app.core.config import ConfigError, settings_from_env
from app.database.db import db
from tests.billing.pages import assert_csp_clean, load_demo
from tests.support.pages import csrf_token, html_page
from tests.support.signin import open_session

LABELS = {
    "customer_id": "What is the customer ID?",
    "last_name": "What is the last name on the account?",
    "last_bill_amount": "What was the amount of your last bill?",
}
SPANISH_LABELS = {
    "customer_id": "¿Cuál es el número de cliente?",
    "last_name": "¿Cuál es el apellido del titular de la cuenta?",
    "last_bill_amount": "¿Cuál fue el monto de su última factura?",
}
#: The input's attributes besides id, name, type, value and class.
ATTRIBUTES = {
    "customer_id": {"inputmode": "numeric", "autocomplete": "off"},
    "last_name": {"autocomplete": "family-name", "autocapitalize": "words"},
    "last_bill_amount": {"inputmode": "decimal", "autocomplete": "off"},
}
NOT_FOUND = {
    "last_name": "We couldn't find an account with that account number and last name.",
    "last_bill_amount": "We couldn't find an account with that account number and last bill amount.",
}


def proof_app(make_app: Callable[..., Flask], proof: str) -> Flask:
    app = make_app(LINK_PROOF=proof)
    load_demo(app)
    with app.app_context():
        db.session.execute(update(BillingCustomer).filter_by(customer_id="2000001").values(last_name="O'Brien"))
        db.session.commit()
    return app


def last_amount(app: Flask, account_no: str = "100001", customer_id: str = "2000001") -> int:
    with app.app_context():
        found = db.session.scalar(
            select(BillingBill.amount_cents)
            .where(BillingBill.account_no == account_no, BillingBill.customer_id == customer_id)
            .order_by(BillingBill.bill_date.desc(), BillingBill.bill_no.desc())
            .limit(1)
        )
        assert found is not None
        return found


def submit(client: FlaskClient, path: str, account_no: str, field: str, value: str) -> TestResponse:
    token = csrf_token(client, path)
    return client.post(path, data={"csrf_token": token, "account_no": account_no, field: value})


def input_of(html: str, name: str) -> dict[str, str]:
    match = re.search(rf'<input [^>]*name="{name}"[^>]*>', html)
    assert match, f"no {name} input"
    return dict(re.findall(r'([a-z-]+)="([^"]*)"', match.group(0)))


@pytest.mark.parametrize("proof", ["customer_id", "last_name", "last_bill_amount"])
@pytest.mark.parametrize("path", ["/accounts/link", "/pay"])
def test_the_form_asks_for_the_citys_proof(make_app: Callable[..., Flask], proof: str, path: str) -> None:
    app = make_app(LINK_PROOF=proof)
    client = app.test_client()
    open_session(client, "pat")
    html = client.get(path).get_data(as_text=True)
    assert LABELS[proof] in html
    assert [label for other, label in LABELS.items() if other != proof and label in html] == []
    field = input_of(html, proof)
    assert field["id"] == proof and field["aria-describedby"] == f"{proof}-hint"
    assert {k: field.get(k) for k in ATTRIBUTES[proof]} == ATTRIBUTES[proof]
    assert f'<label class="usa-label" for="{proof}">' in html
    assert_csp_clean(html)
    spanish = client.get(path, headers={"Accept-Language": "es"}).get_data(as_text=True)
    assert '<html lang="es">' in spanish and SPANISH_LABELS[proof] in spanish


def test_the_sample_bill_points_at_the_proof(make_app: Callable[..., Flask]) -> None:
    app = make_app(LINK_PROOF="last_bill_amount")
    client = app.test_client()
    open_session(client, "pat")
    html = client.get("/accounts/link").get_data(as_text=True)
    assert "Where to find the account number and total on your bill" in html and "$84.50" in html
    assert "Customer ID" not in html


@pytest.mark.parametrize("proof", ["last_name", "last_bill_amount"])
def test_link_with_the_proof_then_see_the_account(make_app: Callable[..., Flask], proof: str) -> None:
    app = proof_app(make_app, proof)
    cents = last_amount(app)
    typed = " o brien " if proof == "last_name" else f"${cents // 100:,}.{cents % 100:02d}"
    client = app.test_client()
    open_session(client, "pat")
    response = submit(client, "/accounts/link", "100-001", proof, typed)
    assert response.status_code == 302 and response.headers["Location"] == "/accounts/100001"
    assert client.get("/accounts/100001").status_code == 200
    with app.app_context():
        stored = db.session.scalar(select(AccountLink))
        assert stored is not None and (stored.account_no, stored.customer_id) == ("100001", "2000001")
        assert db.session.scalar(select(AccountEvent.outcome)) == "linked"


@pytest.mark.parametrize(
    ("proof", "wrong_proof", "right_proof"),
    [("last_name", "Obrian", "OBRIEN"), ("last_bill_amount", "99999.99", None)],
)
def test_wrong_pairs_get_one_message_and_hit_the_limit(
    make_app: Callable[..., Flask], proof: str, wrong_proof: str, right_proof: str | None
) -> None:
    app = make_app(LINK_PROOF=proof, LINK_FAILURES_PER_RESIDENT=3)
    load_demo(app)
    with app.app_context():
        db.session.execute(update(BillingCustomer).filter_by(customer_id="2000001").values(last_name="O'Brien"))
        db.session.commit()
    right = right_proof or f"{last_amount(app) / 100:.2f}"
    client = app.test_client()
    open_session(client, "pat")
    pages = [
        submit(client, "/accounts/link", "100001", proof, wrong_proof),  # right account, wrong proof
        submit(client, "/accounts/link", "100009", proof, right),  # wrong account, right proof
        submit(client, "/accounts/link", "999999", proof, right),  # no such account
    ]
    for page in map(html_page, pages):
        assert page.status == 200 and NOT_FOUND[proof] in page.text and "(555) 010-0100" in page.text
        assert not page.select('[aria-invalid="true"]') and page.title.startswith("Error: Account Link Setup")
    blocked = submit(client, "/accounts/link", "100001", proof, right)
    assert blocked.status_code == 429 and "Too many attempts to link an account" in blocked.get_data(as_text=True)
    with app.app_context():
        outcomes = list(db.session.scalars(select(AccountEvent.outcome).order_by(AccountEvent.id)))
        assert db.session.scalar(select(AccountLink)) is None
    assert outcomes == ["failed_not_found"] * 3 + ["rate_limited"]


@pytest.mark.parametrize(
    ("proof", "typed", "message"),
    [
        ("last_name", "", "Enter the last name."),
        ("last_name", " - ' ", "Enter the last name."),
        ("last_name", "x" * 101, "The last name is too long."),
        ("last_bill_amount", "", "Enter the amount of your last bill."),
        ("last_bill_amount", "about 80", "Enter the amount in dollars and cents, for example 42.50."),
        ("last_bill_amount", "12.345", "Enter the amount in dollars and cents, for example 42.50."),
    ],
)
def test_malformed_proofs_are_explained_at_the_field_and_not_counted(
    make_app: Callable[..., Flask], proof: str, typed: str, message: str
) -> None:
    app = make_app(LINK_PROOF=proof)
    client = app.test_client()
    open_session(client, "pat")
    page = html_page(submit(client, "/accounts/link", "100001", proof, typed))
    assert message in page.text
    assert page.select(f'a.usa-link[href="#{proof}"]')
    assert page.select_one(f'input[name="{proof}"]')["aria-invalid"] == "true"
    with app.app_context():
        assert db.session.scalar(select(AccountEvent)) is None  # a typo is not a guess


def test_spanish_generic_message(make_app: Callable[..., Flask]) -> None:
    app = make_app(LINK_PROOF="last_name")
    client = app.test_client()
    open_session(client, "pat")
    client.get("/language/es?next=/")
    html = submit(client, "/accounts/link", "100001", "last_name", "Nadie").get_data(as_text=True)
    assert "No encontramos una cuenta con ese número de cuenta y ese apellido." in html


def test_pay_now_by_last_bill_amount(make_app: Callable[..., Flask]) -> None:
    app = proof_app(make_app, "last_bill_amount")
    cents = last_amount(app, "100004", "2000400")  # the newcomer's bill: their own account to pay
    client = app.test_client()
    html = client.get("/pay").get_data(as_text=True)
    assert "Enter the account number and the total of your most recent bill." in html
    wrong = html_page(submit(client, "/pay", "100004", "last_bill_amount", "1.00"))
    assert wrong.status == 200 and NOT_FOUND["last_bill_amount"] in wrong.text
    response = submit(client, "/pay", "100004", "last_bill_amount", f" {cents / 100:.2f} ")
    assert response.status_code == 302 and response.headers["Location"] == "/pay/amount"
    with client.session_transaction() as session:
        assert session["guest_pay"]["customer_id"] == "2000400"
    page = client.get("/pay/amount")
    assert page.status_code == 200 and "Amount due" in page.get_data(as_text=True)
    with app.app_context():
        outcomes = list(db.session.scalars(select(AccountEvent.outcome).order_by(AccountEvent.id)))
    assert outcomes == ["failed_guest_not_found", "guest_verified"]


def test_pay_now_by_last_name_is_limited_per_account(make_app: Callable[..., Flask]) -> None:
    app = make_app(LINK_PROOF="last_name", LINK_FAILURES_PER_RESIDENT=2)
    load_demo(app)
    client = app.test_client()
    for guess in ("Smith", "Jones"):
        assert submit(client, "/pay", "100001", "last_name", guess).status_code == 200
    assert submit(client, "/pay", "100001", "last_name", "anything").status_code == 429


def test_a_bad_proof_setting_refuses_to_start() -> None:
    config = {"PORTAL_ENV": "testing", "DATABASE_URL": "sqlite://", "OIDC_ISSUER": "http://localhost:1"}
    with pytest.raises(ConfigError) as error:
        create_app({**config, "LINK_PROOF": "birth_date"})
    assert "LINK_PROOF must be customer_id, last_name or last_bill_amount, not 'birth_date'" in str(error.value)
    assert settings_from_env({"LINK_PROOF": "last_name"}) == {"LINK_PROOF": "last_name"}
    assert create_app({**config, "LINK_PROOF": "last_bill_amount"}).extensions["link_rules"].proof == "last_bill_amount"
