"""Back-channel logout (OpenID Connect Back-Channel Logout 1.0, section 2.6) with valid and hostile tokens."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.auth.provider import DROP, HostileProvider, new_key, running
from tests.auth.test_hostile_tokens import attempt_sign_in

ENDPOINT = "/auth/backchannel-logout"


@pytest.fixture
def provider() -> Iterator[HostileProvider]:
    with running(HostileProvider()) as p:
        p.claims = {"sid": "kc-session-1"}
        yield p


@pytest.fixture
def app(make_app: Callable[..., Flask], provider: HostileProvider) -> Flask:
    return make_app(OIDC_ISSUER=provider.issuer)


def signed_in(app: Flask, sub: str = "hostile-user") -> FlaskClient:
    client = app.test_client()
    status, body = attempt_sign_in(client, sub)
    assert status == 302, body
    assert client.get("/account").status_code == 200
    return client


def post(app: Flask, token: str | None) -> tuple[int, dict | None, str | None]:
    response = app.test_client().post(ENDPOINT, data={} if token is None else {"logout_token": token})
    return response.status_code, response.get_json(silent=True), response.headers.get("Cache-Control")


def test_logout_by_sid_ends_that_session(app: Flask, provider: HostileProvider) -> None:
    browser = signed_in(app)
    provider.claims = {"sid": "kc-session-2"}
    other_browser = signed_in(app)
    status, body, cache = post(app, provider.logout_token(sid="kc-session-1"))
    assert (status, cache) == (200, "no-store")
    assert browser.get("/account").status_code == 302
    assert other_browser.get("/account").status_code == 200


def test_logout_by_sub_ends_every_session_of_the_resident(app: Flask, provider: HostileProvider) -> None:
    first = signed_in(app)
    provider.claims = {"sid": "kc-session-2"}
    second = signed_in(app)
    provider.claims = {"sid": "kc-session-3"}
    stranger = signed_in(app, sub="someone-else")
    assert post(app, provider.logout_token(sub="hostile-user"))[0] == 200
    assert first.get("/account").status_code == 302 and second.get("/account").status_code == 302
    assert stranger.get("/account").status_code == 200


def test_replayed_jti_is_refused(app: Flask, provider: HostileProvider) -> None:
    token = provider.logout_token(sid="kc-session-1")
    assert post(app, token)[0] == 200
    status, body, cache = post(app, token)
    assert status == 400 and body is not None and body["error"] == "invalid_request" and cache == "no-store"


def test_old_keycloak_typ_jwt_is_accepted(app: Flask, provider: HostileProvider) -> None:
    assert post(app, provider.logout_token(sid="x", header={"typ": "JWT"}))[0] == 200


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"iss": "https://evil.example"}, id="wrong-iss"),
        pytest.param({"aud": "another-client"}, id="wrong-aud"),
        pytest.param({"iat": DROP}, id="missing-iat"),
        pytest.param({"iat": int(time.time()) - 3600}, id="iat-too-old"),
        pytest.param({"iat": int(time.time()) + 3600}, id="iat-in-future"),
        pytest.param({"exp": int(time.time()) - 600}, id="expired"),
        pytest.param({"events": DROP}, id="missing-events"),
        pytest.param({"events": {"http://schemas.openid.net/event/other": {}}}, id="wrong-event"),
        pytest.param({"events": {"http://schemas.openid.net/event/backchannel-logout": "yes"}}, id="event-not-object"),
        pytest.param({"sub": DROP, "sid": DROP}, id="no-sid-no-sub"),
        pytest.param({"nonce": "n-0S6_WzA2Mj"}, id="has-nonce"),
        pytest.param({"jti": DROP}, id="missing-jti"),
        pytest.param({"header": {"typ": "at+jwt"}}, id="wrong-typ"),
        pytest.param({"header": {"alg": "none"}}, id="alg-none-header"),
    ],
)
def test_hostile_logout_tokens_are_refused(app: Flask, provider: HostileProvider, overrides: dict) -> None:
    browser = signed_in(app)
    status, body, cache = post(app, provider.logout_token(**{"sid": "kc-session-1", **overrides}))
    assert status == 400 and cache == "no-store"
    assert body is not None and body["error"] == "invalid_request"
    assert browser.get("/account").status_code == 200


def test_bad_signature_is_refused(app: Flask, provider: HostileProvider) -> None:
    browser = signed_in(app)
    provider.sign_with = new_key(provider.signing_key.kid)
    assert post(app, provider.logout_token(sid="kc-session-1"))[0] == 400
    assert browser.get("/account").status_code == 200


def test_unsigned_token_is_refused(app: Flask, provider: HostileProvider) -> None:
    provider.unsigned = True
    token = provider.id_token(None)  # any alg:none JWT
    assert post(app, token)[0] == 400


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "a.b.c", "x" * 20000])
def test_garbage_is_400_not_500(app: Flask, token: str | None) -> None:
    status, body, cache = post(app, token)
    assert status == 400 and body is not None and cache == "no-store"


def test_logout_token_endpoint_needs_no_csrf_but_only_post(app: Flask) -> None:
    assert app.test_client().get(ENDPOINT).status_code == 405


@pytest.mark.parametrize("claims", [{"sid": "s" * 256}, {"sub": "s" * 256, "sid": None}], ids=["long-sid", "long-sub"])
def test_sid_or_sub_longer_than_the_column_is_refused(app: Flask, provider: HostileProvider, claims: dict) -> None:
    browser = signed_in(app)
    status, body, cache = post(app, provider.logout_token(**claims))
    assert status == 400 and body is not None and body["error"] == "invalid_request" and cache == "no-store"
    assert browser.get("/account").status_code == 200


def test_made_up_kids_refetch_the_keys_at_most_once(app: Flask, provider: HostileProvider) -> None:
    signed_in(app)
    assert provider.jwks_fetches == 1
    for n in range(5):
        provider.sign_with = new_key(f"made-up-{n}")
        assert post(app, provider.logout_token(sid="kc-session-1"))[0] == 400
    assert provider.jwks_fetches == 2


def test_rotated_key_is_picked_up_once_the_interval_has_passed(
    make_app: Callable[..., Flask], provider: HostileProvider
) -> None:
    app = make_app(OIDC_ISSUER=provider.issuer, OIDC_REFETCH_INTERVAL=0.5)
    browser = signed_in(app)
    provider.sign_with = new_key("made-up")
    assert post(app, provider.logout_token(sid="kc-session-1"))[0] == 400  # the one refetch of this interval
    rotated = new_key("key-2")
    provider.published, provider.signing_key, provider.sign_with = [rotated], rotated, None
    time.sleep(0.6)
    assert post(app, provider.logout_token(sid="kc-session-1"))[0] == 200
    assert browser.get("/account").status_code == 302
    assert provider.jwks_fetches == 3
