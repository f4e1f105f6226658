"""Request tests: home page, Account Settings, Account Link Setup, removal, limits and authorization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import AccountLink
from app.database.db import db
from tests.billing.fixtures import count_queries
from tests.billing.pages import add_links, assert_csp_clean, load_demo, post_link, resident_id
from tests.support.pages import csrf_token, html_page
from tests.support.signin import open_session

NOT_FOUND = "We couldn't find an account with that account number and customer ID."


@pytest.fixture
def demo(app: Flask) -> None:
    load_demo(app)


@pytest.mark.parametrize("path", ["/account", "/accounts/link", "/accounts/100001", "/accounts/100001/remove"])
def test_pages_need_sign_in(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/sign-in")


def test_home_redirects_anonymous_to_sign_in(client: FlaskClient) -> None:
    assert client.get("/").headers["Location"].startswith("/sign-in")


def test_link_page_explains_where_the_numbers_are(client: FlaskClient, signed_in_as: Callable[..., Any]) -> None:
    signed_in_as("pat")
    page = html_page(client.get("/accounts/link"))
    assert page.h1 == "Account Link Setup"
    assert "What is the account number?" in page.text and "What is the customer ID?" in page.text
    assert "account_no-hint" in str(page.select_one("#account_no")["aria-describedby"]).split()
    assert page.select_one('[role="img"][aria-labelledby="bill-sample-title bill-sample-desc"]')
    assert_csp_clean(page.html)


def test_link_then_see_it_everywhere(
    app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any], demo: None
) -> None:
    signed_in_as("pat")
    response = post_link(client, " 100-001 ", "2.000.001")
    assert response.status_code == 302
    assert response.headers["Location"] == "/accounts/100001"
    summary = client.get("/accounts/100001").get_data(as_text=True)
    assert "Account 100001 is now linked to your profile." in summary
    home = client.get("/").get_data(as_text=True)
    assert "Account 100001" in home and "Amount due" in home and "portal-due__figure" in home
    assert "Announcements" in home and "Link your utility accounts online" in home
    assert_csp_clean(home)
    settings = client.get("/account").get_data(as_text=True)
    assert 'href="/accounts/100001"' in settings
    assert 'href="/accounts/100001/remove"' in settings
    assert "Recent activity" in settings and "Linked" in settings
    assert_csp_clean(settings)


def test_account_number_without_leading_zeros_is_padded(
    app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any]
) -> None:
    signed_in_as("pat")
    # no such account in the demo, but the padded number is what was looked up and audited
    post_link(client, "1234", "2000001")
    with app.app_context():
        from app.activity.models import AccountEvent

        assert db.session.scalar(select(AccountEvent.account_no)) == "001234"


@pytest.mark.parametrize(
    ("account_no", "customer_id", "message"),
    [
        ("", "2000001", "Enter the account number."),
        ("100001", "", "Enter the customer ID."),
        ("   ", "  ", "Enter the account number."),
        ("1" * 41, "2000001", "The account number is too long. It has 6 digits."),
        ("1000011", "2000001", "The account number is too long. It has 6 digits."),
        ("100001", "20000011", "The customer ID is too long. It has 7 digits."),
        ("ABC123", "2000001", "Enter the account number using only the numbers 0 to 9."),
        ("100001", "2OOOOO1", "Enter the customer ID using only the numbers 0 to 9."),
        ("\uff11\uff10\uff10\uff10\uff10\uff11", "2000001", "Enter the account number using only the numbers 0 to 9."),
        ("100001", "2000001\U0001f600", "Enter the customer ID using only the numbers 0 to 9."),
        ("100001", "2000003", NOT_FOUND),  # a real customer ID, of another account
        ("999999", "2000001", NOT_FOUND),
        ("100002", "2000003", NOT_FOUND),
    ],
)
def test_bad_input_is_explained_next_to_the_form(
    app: Flask,
    client: FlaskClient,
    signed_in_as: Callable[..., Any],
    demo: None,
    account_no: str,
    customer_id: str,
    message: str,
) -> None:
    signed_in_as("pat")
    page = html_page(post_link(client, account_no, customer_id))
    assert page.status == 200
    assert message in page.text
    assert page.select('[role="alert"]')
    assert page.title.startswith("Error: Account Link Setup")
    if message != NOT_FOUND:
        assert page.select('[aria-invalid="true"]') and page.select(".usa-input--error")
    else:
        assert "(555) 010-0100" in page.text
    with app.app_context():
        assert db.session.scalar(select(AccountLink)) is None


def test_wrong_pair_message_does_not_say_which_half(
    client: FlaskClient, signed_in_as: Callable[..., Any], demo: None
) -> None:
    signed_in_as("pat")
    wrong_customer = html_page(post_link(client, "100001", "2000003"))
    wrong_account = html_page(post_link(client, "100009", "2000001"))
    assert NOT_FOUND in wrong_customer.text and NOT_FOUND in wrong_account.text
    assert not wrong_customer.select('[aria-invalid="true"]') and not wrong_account.select('[aria-invalid="true"]')


def test_closed_account_can_be_linked_and_shows_closed(
    client: FlaskClient, signed_in_as: Callable[..., Any], demo: None
) -> None:
    signed_in_as("pat")
    assert post_link(client, "100003", "2000003").status_code == 302  # type: ignore[attr-defined]
    summary = client.get("/accounts/100003").get_data(as_text=True)
    assert "Closed" in summary and "final bill" in summary
    assert "Final bill" in client.get("/accounts/100003/bills").get_data(as_text=True)


def test_already_linked_is_said_kindly(client: FlaskClient, signed_in_as: Callable[..., Any], demo: None) -> None:
    signed_in_as("pat")
    post_link(client, "100001", "2000001")
    page = html_page(post_link(client, "100001", "2000001"))
    assert "Account 100001 is already linked to your profile." in page.text


def test_unverified_email_cannot_link(client: FlaskClient, signed_in_as: Callable[..., Any], demo: None) -> None:
    signed_in_as("una", email_verified=False)
    html = post_link(client, "100001", "2000001").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Activate your email address before you link an account" in html


def test_link_limit_from_config(make_app: Callable[..., Flask]) -> None:
    app = make_app(MAX_LINKED_ACCOUNTS=1)
    load_demo(app)
    client = app.test_client()
    open_session(client, "pat")
    assert post_link(client, "100001", "2000001").status_code == 302  # type: ignore[attr-defined]
    html = post_link(client, "100002", "2000001").get_data(as_text=True)  # type: ignore[attr-defined]
    assert "You can link up to 1 accounts." in html
    assert "You have linked the most accounts allowed (1)." in client.get("/account").get_data(as_text=True)


def test_too_many_failures_answer_429_with_when(make_app: Callable[..., Flask]) -> None:
    app = make_app(LINK_FAILURES_PER_RESIDENT=2)
    load_demo(app)
    client = app.test_client()
    open_session(client, "pat")
    for _ in range(2):
        assert post_link(client, "100001", "2999999").status_code == 200  # type: ignore[attr-defined]
    response = post_link(client, "100001", "2000001")
    assert response.status_code == 429  # type: ignore[attr-defined]
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert "Too many attempts to link an account" in html and "Please try again after" in html
    assert 800 < int(response.headers["Retry-After"]) <= 901  # type: ignore[attr-defined]
    activity = client.get("/account").get_data(as_text=True)
    assert "Not linked: too many attempts" in activity


def test_failures_per_address_are_shared(make_app: Callable[..., Flask]) -> None:
    app = make_app(LINK_FAILURES_PER_ADDRESS=2)
    load_demo(app)
    first, second = app.test_client(), app.test_client()
    open_session(first, "pat")
    open_session(second, "sam")
    post_link(first, "100001", "2999999")
    post_link(first, "100001", "2999998")
    assert post_link(second, "100001", "2000001").status_code == 429  # type: ignore[attr-defined]


def test_remove_needs_confirmation_and_csrf(
    app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any], demo: None
) -> None:
    signed_in_as("pat")
    post_link(client, "100001", "2000001")
    page = html_page(client.get("/accounts/100001/remove"))
    assert page.status == 200
    assert page.h1 == "Remove account 100001 from your profile?"
    assert_csp_clean(page.html)
    assert client.post("/accounts/100001/remove").status_code == 400  # no CSRF token
    token = csrf_token(client, "/accounts/100001/remove")
    response = client.post("/accounts/100001/remove", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    settings = client.get("/account").get_data(as_text=True)
    assert "Account 100001 was removed from your profile." in settings
    assert "Removed" in settings
    assert client.get("/accounts/100001").status_code == 404
    assert client.get("/accounts/100001/remove").status_code == 404


def test_two_residents_see_only_their_own(app: Flask, demo: None) -> None:
    pat, sam = app.test_client(), app.test_client()
    open_session(pat, "pat")
    open_session(sam, "sam")
    post_link(pat, "100001", "2000001")
    post_link(sam, "100002", "2000001")
    bill_no = db_bill_no(app, "100001")
    for path in (
        "/accounts/100001",
        "/accounts/100001/bills",
        f"/accounts/100001/bills/{bill_no}",
        "/accounts/100001/consumption",
        "/accounts/100001/remove",
        "/accounts/999999",
        "/accounts/100003",
    ):
        assert sam.get(path).status_code == 404, path
    assert sam.post("/accounts/100001/remove", data={"csrf_token": csrf_token(sam, "/account")}).status_code == 404
    assert pat.get(f"/accounts/100002/bills/{db_bill_no(app, '100002')}").status_code == 404
    assert pat.get(f"/accounts/100001/bills/{db_bill_no(app, '100002')}").status_code == 404
    assert "100002" not in pat.get("/").get_data(as_text=True)
    # a household: both link the same account; removing one link leaves the other
    post_link(sam, "100001", "2000001")
    pat.post("/accounts/100001/remove", data={"csrf_token": csrf_token(pat, "/accounts/100001/remove")})
    assert pat.get("/accounts/100001").status_code == 404
    assert sam.get("/accounts/100001").status_code == 200


def db_bill_no(app: Flask, account_no: str) -> str:
    from app.billing.models import BillingBill

    with app.app_context():
        found = db.session.scalar(select(BillingBill.bill_no).where(BillingBill.account_no == account_no).limit(1))
        assert found is not None
        return found


@pytest.mark.parametrize("path", ["/", "/account"])
def test_query_count_does_not_grow_with_links(
    app: Flask, client: FlaskClient, signed_in_as: Callable[..., Any], demo: None, path: str
) -> None:
    signed_in_as("pat")
    rid = resident_id(app, "pat")
    pairs = [(str(100004 + n), str(2000004 + n)) for n in range(1, 11)]
    client.get(path)  # warm up: first-use queries such as the provider's discovery are not per page
    add_links(app, rid, pairs[:1])  # each add raises the links version: the home page is built again
    with count_queries(app) as one:
        assert client.get(path).status_code == 200
    add_links(app, rid, pairs[1:])
    with count_queries(app) as ten:
        html = client.get(path).get_data(as_text=True)
    assert all(account_no in html for account_no, _ in pairs)
    assert one() == ten() > 0


def test_simultaneous_links_respect_the_limit(make_app: Callable[..., Flask]) -> None:
    """Two tabs submit at the same moment: the resident's row lock lets only one link past a limit of 1."""
    import threading

    app = make_app(MAX_LINKED_ACCOUNTS=1)
    load_demo(app)
    first = app.test_client()
    open_session(first, "pat")
    second = app.test_client()
    cookie = first.get_cookie("session")
    assert cookie is not None
    second.set_cookie("session", cookie.value)  # the same browser session, in a second tab
    tokens = [csrf_token(c, "/accounts/link") for c in (first, second)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def submit(client: FlaskClient, token: str, account_no: str) -> None:
        barrier.wait()
        response = client.post(
            "/accounts/link", data={"csrf_token": token, "account_no": account_no, "customer_id": "2000001"}
        )
        statuses.append(response.status_code)

    threads = [
        threading.Thread(target=submit, args=(c, t, a))
        for c, t, a in zip((first, second), tokens, ("100001", "100002"), strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(statuses) == [200, 302]  # one linked, the other told about the limit; never a 500
    with app.app_context():
        assert len(db.session.scalars(select(AccountLink)).all()) == 1
