"""The sign-in journey against a real OpenID provider over HTTP (oidc-provider-mock)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.auth.models import PortalSession, Resident
from app.database.db import db
from tests.support.pages import csrf_token
from tests.support.signin import authorize_at_provider, open_session, sign_in, start_sign_in


def test_login_redirect_uses_pkce_s256_state_and_nonce(client: FlaskClient, oidc_server: str) -> None:
    url = urlsplit(start_sign_in(client))
    params = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}" == oidc_server
    assert params["code_challenge_method"] == ["S256"]
    assert len(params["code_challenge"][0]) >= 43
    assert len(params["state"][0]) >= 32 and len(params["nonce"][0]) >= 32
    assert params["response_type"] == ["code"]
    assert params["redirect_uri"] == ["http://localhost/auth/callback"]
    assert "openid" in params["scope"][0].split()


def test_login_idp_hint_and_register(client: FlaskClient) -> None:
    params = parse_qs(urlsplit(start_sign_in(client, "/login?idp=google")).query)
    assert params["kc_idp_hint"] == ["google"]
    params = parse_qs(urlsplit(start_sign_in(client, "/login?action=register")).query)
    assert params["prompt"] == ["create"]
    assert "kc_idp_hint" not in params


def test_login_unknown_idp_is_refused(client: FlaskClient) -> None:
    response = client.get("/login?idp=myspace")
    assert response.status_code == 400
    assert "not available" in response.get_data(as_text=True)


def test_sign_in_creates_profile_and_shows_account(client: FlaskClient, oidc_server: str, app: Flask) -> None:
    response = sign_in(client, oidc_server, "alice", email="alice@example.org", given_name="Alice")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = client.get("/account")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "alice@example.org" in html and "Now logged in as" in html
    assert "This is your first sign-in." in html
    with app.app_context():
        resident = db.session.scalar(select(Resident).filter_by(subject="alice"))
        assert resident is not None and resident.issuer == oidc_server and resident.email_verified


def test_account_redirects_anonymous_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=/account"


def test_next_is_followed_only_for_local_paths(client: FlaskClient, oidc_server: str) -> None:
    response = sign_in(client, oidc_server, "bob", path="/login?next=/account")
    assert response.headers["Location"] == "/account"
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    for evil in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"):
        response = sign_in(client, oidc_server, "bob", path=f"/login?next={evil}")
        assert response.headers["Location"] == "/", evil


def test_profile_is_keyed_by_issuer_and_sub_not_email(client: FlaskClient, oidc_server: str, app: Flask) -> None:
    sign_in(client, oidc_server, "carol", email="shared@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    sign_in(client, oidc_server, "mallory", email="shared@example.org")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Resident)) == 2


def test_second_sign_in_shows_previous_login_and_refreshes_claims(
    client: FlaskClient, oidc_server: str, app: Flask
) -> None:
    sign_in(client, oidc_server, "dave", email="old@example.org")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    sign_in(client, oidc_server, "dave", email="new@example.org")
    html = client.get("/account").get_data(as_text=True)
    assert "new@example.org" in html
    assert "This is your first sign-in." not in html
    with app.app_context():
        resident = db.session.scalar(select(Resident).filter_by(subject="dave"))
        assert resident is not None and resident.previous_login_at is not None
        assert resident.email == "new@example.org"


def test_session_id_rotates_at_sign_in(client: FlaskClient, oidc_server: str, app: Flask) -> None:
    authorize_url = start_sign_in(client)
    before = client.get_cookie("session")
    assert before is not None
    callback = authorize_at_provider(authorize_url, "erin")
    client.get(callback)
    after = client.get_cookie("session")
    assert after is not None and after.value != before.value
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 1


def test_state_is_single_use(client: FlaskClient, oidc_server: str) -> None:
    callback = authorize_at_provider(start_sign_in(client), "frank")
    assert client.get(callback).status_code == 302
    replay = client.get(callback)
    assert replay.status_code == 400
    assert "expired or was already used" in replay.get_data(as_text=True)


def test_callback_with_unknown_state_is_400(client: FlaskClient) -> None:
    response = client.get("/auth/callback?code=abc&state=forged")
    assert response.status_code == 400
    assert "Try again" in response.get_data(as_text=True)


def test_provider_error_response_is_friendly(client: FlaskClient) -> None:
    url = start_sign_in(client)
    state = parse_qs(urlsplit(url).query)["state"][0]
    response = client.get(f"/auth/callback?error=access_denied&state={state}")
    assert response.status_code == 400
    assert "Sign-in was cancelled." in response.get_data(as_text=True)


def test_rfc9207_iss_mismatch_is_refused(client: FlaskClient, oidc_server: str) -> None:
    callback = authorize_at_provider(start_sign_in(client), "gina")
    response = client.get(callback + "&iss=https%3A%2F%2Fevil.example")
    assert response.status_code == 400
    assert client.get("/account").status_code == 302


def test_session_cookie_flags_and_no_token_in_cookie(client: FlaskClient, oidc_server: str) -> None:
    response = sign_in(client, oidc_server, "hank")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    value = client.get_cookie("session")
    assert value is not None and "." not in value.value and len(value.value) < 60


def test_sign_out_ends_session_and_posts_to_provider_logout(client: FlaskClient, oidc_server: str, app: Flask) -> None:
    sign_in(client, oidc_server, "ivy")
    token = csrf_token(client, "/account")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    action = re.search(r'<form id="provider-logout" method="post" action="([^"]+)"', html)
    assert action and action.group(1) == f"{oidc_server}/oauth2/end_session"  # the ID token is in no URL
    params = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', html))
    assert params["post_logout_redirect_uri"] == "http://localhost/signed-out"
    assert params["client_id"] == "citizen-portal"
    assert params["state"] and params["id_token_hint"].count(".") == 2
    assert client.get("/account").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 0
    page = client.get("/signed-out").get_data(as_text=True)
    assert "You have signed out" in page and "Close all browser windows" in page


def test_logout_without_csrf_token_is_refused(client: FlaskClient, oidc_server: str) -> None:
    sign_in(client, oidc_server, "jack")
    response = client.post("/logout")
    assert response.status_code == 400
    assert client.get("/account").status_code == 200


def test_logout_get_is_not_allowed(client: FlaskClient) -> None:
    assert client.get("/logout").status_code == 405


def test_unverified_email_sees_activation_notice(client: FlaskClient, oidc_server: str) -> None:
    sign_in(client, oidc_server, "kim", email_verified=False)
    html = client.get("/account").get_data(as_text=True)
    assert "Check your email to activate your account" in html
    assert "Not activated" in html


def test_staff_role_is_read_from_id_token(client: FlaskClient, oidc_server: str) -> None:
    sign_in(client, oidc_server, "lee", realm_access={"roles": ["resident", "staff"]})
    with client.session_transaction() as session:
        assert session["roles"] == ["resident", "staff"]


def test_sign_in_page_links_to_the_providers_reset_page(client: FlaskClient, oidc_server: str) -> None:
    html = client.get("/sign-in?next=/account").get_data(as_text=True)
    assert f'href="{oidc_server}/login-actions/reset-credentials?client_id=citizen-portal"' in html
    assert 'href="/login?action=register&amp;next=/account"' in html
    assert 'href="/login?idp=google&amp;next=/account"' in html
    assert 'href="/help#locked-out"' in html


def test_uncommitted_request_work_does_not_block_the_session_write(make_app, oidc_server: str) -> None:
    app = make_app()

    @app.get("/test-leaves-a-write-open")
    def leaves_a_write_open() -> str:
        from flask import session

        db.session.execute(Resident.__table__.update().values(given_name="Changed"))  # never committed
        session["touched"] = True
        return "ok"

    client = app.test_client()
    sign_in(client, oidc_server, "writer")
    assert client.get("/test-leaves-a-write-open").status_code == 200
    with app.app_context():
        assert db.session.scalar(select(Resident.given_name).filter_by(subject="writer")) == "Test"
    assert client.get("/account").status_code == 200


def test_page_tests_direct_sign_in_leaves_what_the_redirect_flow_leaves(app: Flask, oidc_server: str) -> None:
    """``open_session``, the page tests' quick sign-in, must stay faithful to the callback it stands in for."""
    claims = {
        "email": "same@example.org",
        "given_name": "Sam",
        "family_name": "Same",
        "realm_access": {"roles": ["resident", "staff"]},
    }
    real, direct = app.test_client(), app.test_client()
    assert sign_in(real, oidc_server, "real", **claims).status_code == 302
    open_session(direct, "direct", **claims)
    skipped = {"id", "subject", "created_at", "last_login_at", "previous_login_at"}
    with app.app_context():
        profiles = [
            {
                c.key: getattr(db.session.scalar(select(Resident).filter_by(subject=sub)), c.key)
                for c in Resident.__table__.c
            }
            for sub in ("real", "direct")
        ]
        assert profiles[0]["last_login_at"] is not None and profiles[1]["last_login_at"] is not None
        assert {k: v for k, v in profiles[0].items() if k not in skipped} == {
            k: v for k, v in profiles[1].items() if k not in skipped
        }
        assert db.session.scalar(select(func.count()).select_from(PortalSession)) == 2
    data = []
    for client in (real, direct):
        with client.session_transaction() as session:
            data.append(dict(session))
    assert data[0].keys() == data[1].keys()
    assert [d["roles"] for d in data] == [["resident", "staff"]] * 2
    assert data[0]["provider_sid"] == data[1]["provider_sid"]
    assert data[0]["id_token"] and data[1]["id_token"] is None  # the one difference: no provider, no ID token
    for client in (real, direct):
        assert "same@example.org" in client.get("/account").get_data(as_text=True)
        assert client.get("/staff/").status_code == 200
