"""The staff console needs the staff role from the ID token; it shows residents, links and activity."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.accounts.models import AccountLink
from app.activity.models import AccountEvent
from app.auth.models import Resident
from app.core.clock import utcnow
from app.database.db import db
from tests.support.apps import count_queries
from tests.support.pages import csrf_token, html_page
from tests.support.signin import open_session, sign_in

STAFF = {"realm_access": {"roles": ["resident", "staff"]}}
STAFF_PAGES = ("/staff/", "/staff/residents", "/staff/residents?q=a")


def _resident_id(app: Flask, sub: str) -> int:
    with app.app_context():
        resident = db.session.scalar(select(Resident).filter_by(subject=sub))
        assert resident is not None
        return resident.id


def _add_activity(app: Flask, resident_id: int, links: int = 1) -> None:
    with app.app_context():
        for n in range(links):
            db.session.add(AccountLink(resident_id=resident_id, account_no=f"1000{n:02d}", customer_id="2000001"))
        db.session.add(
            AccountEvent(
                resident_id=resident_id,
                account_no="999999",
                client_addr="203.0.113.9",
                outcome="failed_not_found",
                occurred_at=utcnow(),
            )
        )
        db.session.commit()


def test_anonymous_is_sent_to_sign_in(client: FlaskClient) -> None:
    for path in STAFF_PAGES:
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in"), path


def test_resident_without_staff_role_gets_403(client: FlaskClient, app: Flask) -> None:
    open_session(client, "plain", realm_access={"roles": ["resident"]})
    for path in (*STAFF_PAGES, f"/staff/residents/{_resident_id(app, 'plain')}"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/account")
    assert (
        client.post(f"/staff/residents/{_resident_id(app, 'plain')}/sign-out", data={"csrf_token": token}).status_code
        == 403
    )
    assert "Staff console" not in client.get("/account").get_data(as_text=True)


def test_staff_sees_overview_and_activity(client: FlaskClient, oidc_server: str, app: Flask) -> None:
    """Signed in through the redirect flow: the staff role comes from the ID token."""
    other = app.test_client()
    sign_in(other, oidc_server, "neighbour", email="neighbour@example.org")
    _add_activity(app, _resident_id(app, "neighbour"))
    sign_in(client, oidc_server, "clerk", **STAFF)
    html = client.get("/staff/").get_data(as_text=True)
    assert "Staff console" in html and "neighbour@example.org" in html
    assert "Not linked: the numbers didn't match" in html and "failed_not_found" not in html  # words, not codes
    assert "203.0.113.9" in html


def test_staff_finds_resident_and_ends_their_sessions(client: FlaskClient, app: Flask) -> None:
    other = app.test_client()
    open_session(other, "lostphone", email="lost.phone@example.org", given_name="Lois")
    assert other.get("/account").status_code == 200
    open_session(client, "clerk", **STAFF)
    results = client.get("/staff/residents?q=LOST.PHONE").get_data(as_text=True)
    resident_id = _resident_id(app, "lostphone")
    assert f"/staff/residents/{resident_id}" in results
    page = client.get(f"/staff/residents/{resident_id}").get_data(as_text=True)
    assert "lost.phone@example.org" in page and "Signed-in sessions" in page
    response = client.post(
        f"/staff/residents/{resident_id}/sign-out",
        data={"csrf_token": csrf_token(client, f"/staff/residents/{resident_id}")},
        follow_redirects=True,
    )
    assert "Ended 1 portal session(s)" in response.get_data(as_text=True)
    assert other.get("/account").status_code == 302
    assert client.get("/staff/").status_code == 200  # staff's own session is untouched


def test_sign_out_resident_needs_csrf(client: FlaskClient, app: Flask) -> None:
    open_session(client, "clerk", **STAFF)
    response = client.post(f"/staff/residents/{_resident_id(app, 'clerk')}/sign-out")
    assert response.status_code == 400


def test_unknown_resident_is_404(client: FlaskClient) -> None:
    open_session(client, "clerk", **STAFF)
    assert client.get("/staff/residents/999999").status_code == 404


def test_overlong_search_is_rejected_kindly(client: FlaskClient) -> None:
    open_session(client, "clerk", **STAFF)
    page = html_page(client.get("/staff/residents?q=" + "x" * 500))
    assert page.status == 200
    assert "Field cannot be longer than 200 characters" in page.text


def test_pages_query_count_is_constant(make_app: Callable[..., Flask]) -> None:
    counts = []
    for links in (1, 10):
        app = make_app()
        client = app.test_client()
        open_session(client, f"clerk{links}", **STAFF)
        resident_id = _resident_id(app, f"clerk{links}")
        _add_activity(app, resident_id, links)
        client.get("/staff/")  # let the session's "last seen" write happen outside the count
        with count_queries(app) as queries:
            for path in ("/staff/", f"/staff/residents/{resident_id}", "/staff/residents?q=clerk"):
                assert client.get(path).status_code == 200
            counts.append(queries())
    assert counts[0] == counts[1]


def test_sign_out_everywhere_asks_first(client: FlaskClient, app: Flask) -> None:
    other = app.test_client()
    open_session(other, "lostphone2", email="lost2@example.org", given_name="Lee")
    open_session(client, "clerk", **STAFF)
    resident_id = _resident_id(app, "lostphone2")
    page = html_page(client.get(f"/staff/residents/{resident_id}"))
    assert page.select(f'a[href="/staff/residents/{resident_id}/sign-out"]') and not page.select(
        'main form[method="post"]'
    )
    confirm = html_page(client.get(f"/staff/residents/{resident_id}/sign-out"))
    assert (
        confirm.status == 200
        and confirm.h1.endswith("out everywhere?")
        and "This ends this resident's one signed-in portal session" in confirm.text
    )
    assert confirm.select(f'form[action="/staff/residents/{resident_id}/sign-out"]')
    assert other.get("/account").status_code == 200  # asking ends nothing


def test_staff_sees_billing_imports(client: FlaskClient, app: Flask, tmp_path) -> None:
    from app.billing import demo
    from tests.billing.fixtures import TODAY

    open_session(client, "clerk", **STAFF)
    assert "No billing data has been imported yet." in client.get("/staff/").get_data(as_text=True)
    demo.synth_extract(tmp_path / "x", today=TODAY, accounts=4)
    assert app.test_cli_runner().invoke(args=["billing", "import", str(tmp_path / "x")]).exit_code == 0
    html = client.get("/staff/").get_data(as_text=True)
    assert "Last successful import:" in html and "Imported (full)" in html and "4 accounts" in html


def test_staff_find_residents_by_linked_account_number_and_holder_name(make_app: Callable[..., Flask]) -> None:
    from app.billing.models import BillingCustomer
    from tests.billing.pages import load_demo

    app = make_app()
    load_demo(app)
    other, client = app.test_client(), app.test_client()
    open_session(other, "holder", email="h@example.org", given_name="Hal", family_name="Holder")
    resident_id = _resident_id(app, "holder")
    with app.app_context():
        db.session.add(AccountLink(resident_id=resident_id, account_no="100001", customer_id="2000001"))
        db.session.commit()
        holder = db.session.get(BillingCustomer, "2000001")
        assert holder is not None
        surname = holder.name.split()[-1]
    open_session(client, "clerk", **STAFF)
    for query in ("100001", " 100001 ", surname.upper(), "hal holder"):
        results = client.get("/staff/residents", query_string={"q": query}).get_data(as_text=True)
        assert f"/staff/residents/{resident_id}" in results, query
    assert "/staff/accounts/100001/payments" in client.get("/staff/residents?q=100001").get_data(as_text=True)
    assert f"/staff/residents/{resident_id}" not in client.get("/staff/residents?q=100002").get_data(as_text=True)


def test_staff_console_names_pay_now_guests_and_speaks_spanish(client: FlaskClient, app: Flask) -> None:
    with app.app_context():
        for outcome in ("failed_guest_not_found", "guest_verified", "failed_not_found"):
            db.session.add(
                AccountEvent(
                    resident_id=None,
                    account_no="100001",
                    client_addr="203.0.113.9",
                    outcome=outcome,
                    occurred_at=utcnow(),
                )
            )
        db.session.commit()
    open_session(client, "clerk", **STAFF)
    page = html_page(client.get("/staff/"))
    assert page.text.count("Pay Now guest (not signed in)") == 2 and page.text.count("(deleted)") == 1
    assert "Pay Now: the numbers didn't match" in page.text and "Not linked" in page.text
    spanish = html_page(client.get("/staff/", headers={"Accept-Language": "es"}))
    assert (
        "Invitado de Pagar ahora (sin sesión)" in spanish.text
        and "Pagar ahora: los números no coincidieron" in spanish.text
    )
    confirm = html_page(client.get(f"/staff/residents/{_resident_id(app, 'clerk')}/sign-out"))
    assert "This ends this resident's one signed-in portal session" in confirm.text
