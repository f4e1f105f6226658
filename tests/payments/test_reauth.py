"""Re-authentication before Auto Pay changes: ``prompt=login`` and ``max_age`` sent, ``auth_time`` checked."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from tests.auth.provider import DROP, HostileProvider, running
from tests.support.pages import html_page
from tests.support.signin import sign_in as sign_in_at


@pytest.fixture
def provider() -> Iterator[HostileProvider]:
    with running(HostileProvider()) as p:
        yield p


def sign_in(client: FlaskClient, path: str) -> tuple[int, str, dict[str, list[str]]]:
    """Run the flow from ``path``; return the callback's status, its Location and the authorize query."""
    start = client.get(path)
    assert start.status_code == 302
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    at_provider = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    location = urlsplit(at_provider.headers["Location"])
    response = client.get(f"{location.path}?{location.query}")
    return response.status_code, response.headers.get("Location", ""), query


def test_reauthentication_needs_a_fresh_auth_time(make_app: Callable[..., Flask], provider: HostileProvider) -> None:
    client = make_app(OIDC_ISSUER=provider.issuer, REAUTH_MINUTES=5).test_client()
    provider.claims = {"auth_time": int(time.time()) - 3600}  # the provider's single sign-on session is old
    status, location, query = sign_in(client, "/login")
    assert status == 302 and "prompt" not in query  # an ordinary sign-in accepts it
    with client.session_transaction() as session:
        assert session["auth_time"] == provider.claims["auth_time"]

    status, location, query = sign_in(client, "/login?reauth=1&next=/account")
    assert query["prompt"] == ["login"] and query["max_age"] == ["300"]
    assert status != 302  # the provider did not ask again: refused, the session stays as it was (not fresh)
    with client.session_transaction() as session:
        assert session["auth_time"] == provider.claims["auth_time"]

    provider.claims = {"auth_time": int(time.time()) - 10}
    status, location, _ = sign_in(client, "/login?reauth=1&next=/account")
    assert status == 302 and location == "/account"
    with client.session_transaction() as session:
        assert time.time() - session["auth_time"] < 60


def test_reauth_without_auth_time_is_refused(make_app: Callable[..., Flask], provider: HostileProvider) -> None:
    """OIDC Core 3.1.2.1: after ``max_age`` the ID token must carry ``auth_time``; one without it proves nothing."""
    client = make_app(OIDC_ISSUER=provider.issuer, REAUTH_MINUTES=5).test_client()
    provider.claims = {"auth_time": DROP}
    status, _, _ = sign_in(client, "/login")
    assert status == 302  # an ordinary sign-in needs no auth_time
    with client.session_transaction() as session:
        session["auth_time"] = session["login_at"] = signed_in_at = int(time.time()) - 3600

    start = client.get("/login?reauth=1&next=/account")
    at_provider = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    location = urlsplit(at_provider.headers["Location"])
    page = html_page(client.get(f"{location.path}?{location.query}"))
    assert page.status == 400
    assert "couldn't confirm that you signed in again" in page.text and "Nothing was changed" in page.text
    with client.session_transaction() as session:
        assert session["auth_time"] == signed_in_at  # still an hour old: Auto Pay asks again


def test_the_test_provider_sends_auth_time_so_reauthentication_works(client: FlaskClient, oidc_server: str) -> None:
    """oidc-provider-mock (tests and ``flask dev run``) stamps ``auth_time``, so re-authentication still passes."""
    response = sign_in_at(client, oidc_server, "pat", path="/login?reauth=1&next=/account")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    with client.session_transaction() as session:
        assert abs(time.time() - session["auth_time"]) < 60
