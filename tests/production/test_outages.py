"""When the provider is down or slow: 503 with Retry-After, signed-in residents carry on, recovery by itself.

Each case runs against a real local HTTP server that misbehaves (no patching).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.auth.provider import HostileProvider, running
from tests.auth.test_hostile_tokens import attempt_sign_in
from tests.support.ports import free_port
from tests.support.threads import serve

UNAVAILABLE = "Sign-in is temporarily unavailable, please try again in a few minutes"


@pytest.fixture
def provider() -> Iterator[HostileProvider]:
    with running(HostileProvider(slow_seconds=2.5)) as p:
        yield p


@pytest.fixture
def app(make_app: Callable[..., Flask], provider: HostileProvider) -> Flask:
    return make_app(OIDC_ISSUER=provider.issuer, OIDC_TIMEOUT=1, OIDC_PROVIDER_RETRY_AFTER=90)


def assert_unavailable(response_status: int, body: str, retry_after: str | None) -> None:
    assert response_status == 503
    assert UNAVAILABLE in body and "Try again" in body and "Traceback" not in body
    assert retry_after == "90"


def test_provider_unreachable(make_app: Callable[..., Flask]) -> None:
    app = make_app(OIDC_ISSUER=f"http://localhost:{free_port()}", OIDC_TIMEOUT=1, OIDC_PROVIDER_RETRY_AFTER=90)
    response = app.test_client().get("/login")
    assert_unavailable(response.status_code, response.get_data(as_text=True), response.headers.get("Retry-After"))


@pytest.mark.parametrize("fault", ["500", "slow", "html"])
def test_discovery_failing(app: Flask, provider: HostileProvider, fault: str) -> None:
    provider.faults = {"/.well-known/openid-configuration": fault}
    response = app.test_client().get("/login")
    assert_unavailable(response.status_code, response.get_data(as_text=True), response.headers.get("Retry-After"))
    assert "Location" not in response.headers


@pytest.mark.parametrize("path", ["/token", "/jwks"])
@pytest.mark.parametrize("fault", ["500", "slow"])
def test_token_or_jwks_endpoint_failing(app: Flask, provider: HostileProvider, path: str, fault: str) -> None:
    provider.faults = {path: fault}
    client = app.test_client()
    status, body = attempt_sign_in(client)
    assert status == 503 and UNAVAILABLE in body
    assert client.get("/account").status_code == 302


def test_signed_in_residents_keep_using_the_portal(app: Flask, provider: HostileProvider) -> None:
    client = app.test_client()
    assert attempt_sign_in(client)[0] == 302
    provider.faults = {path: "500" for path in ("/.well-known/openid-configuration", "/jwks", "/token")}
    assert client.get("/account").status_code == 200
    assert client.get("/").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"]["provider"] == "down"


def test_sign_in_recovers_without_restart(app: Flask, provider: HostileProvider) -> None:
    client: FlaskClient = app.test_client()
    provider.faults = {"/.well-known/openid-configuration": "500"}
    assert client.get("/login").status_code == 503
    assert client.get("/readyz").status_code == 503
    provider.faults = {}
    assert attempt_sign_in(client)[0] == 302
    assert client.get("/readyz").status_code == 200


def test_sign_out_works_while_provider_is_down(make_app: Callable[..., Flask], provider: HostileProvider) -> None:
    from tests.support.pages import csrf_token

    client = make_app(OIDC_ISSUER=provider.issuer, OIDC_TIMEOUT=1, OIDC_METADATA_TTL=0).test_client()
    assert attempt_sign_in(client)[0] == 302
    token = csrf_token(client, "/account")
    provider.faults = {"/.well-known/openid-configuration": "500"}
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/signed-out"
    assert client.get("/account").status_code == 302


def test_login_rechecks_a_provider_known_to_be_down(app: Flask, provider: HostileProvider) -> None:
    """With discovery cached, a failure elsewhere makes /login ask discovery again instead of redirecting."""
    assert attempt_sign_in(app.test_client())[0] == 302  # discovery and keys are now cached
    client = app.test_client()
    provider.faults = {"/token": "500"}
    assert attempt_sign_in(client)[0] == 503
    provider.faults = {path: "500" for path in ("/.well-known/openid-configuration", "/token")}
    response = client.get("/login")
    assert_unavailable(response.status_code, response.get_data(as_text=True), response.headers.get("Retry-After"))
    assert "Location" not in response.headers
    provider.faults = {}
    assert attempt_sign_in(client)[0] == 302
    assert client.get("/account").status_code == 200


class BusyProvider(HostileProvider):
    """Answers the token request with an OAuth error body and HTTP 503, as a provider under maintenance."""

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ["PATH_INFO"] == "/token":
            body = b'{"error": "temporarily_unavailable"}'
            start_response("503 Service Unavailable", [("Content-Type", "application/json")])
            return [body]
        return super().__call__(environ, start_response)


def test_token_endpoint_temporarily_unavailable_error(make_app: Callable[..., Flask]) -> None:
    with running(BusyProvider()) as busy:
        app = make_app(OIDC_ISSUER=busy.issuer, OIDC_TIMEOUT=1, OIDC_PROVIDER_RETRY_AFTER=90)
        client = app.test_client()
        status, body = attempt_sign_in(client)
        assert status == 503 and UNAVAILABLE in body


def test_provider_stopped_and_started_again(make_app: Callable[..., Flask]) -> None:
    """A provider process that goes away (connection refused) and comes back on the same address."""
    provider, port = HostileProvider(), free_port()
    with serve(provider, port=port) as url:
        provider.issuer = url
        app = make_app(OIDC_ISSUER=url, OIDC_TIMEOUT=1, OIDC_PROVIDER_RETRY_AFTER=90, OIDC_REFETCH_INTERVAL=0.5)
        resident = app.test_client()
        assert attempt_sign_in(resident)[0] == 302
    # The provider is gone; its metadata and keys are still cached in the portal.
    assert resident.get("/account").status_code == 200
    ready = resident.get("/readyz")
    assert ready.status_code == 503 and ready.json["checks"] == {"database": "ok", "provider": "down"}
    assert ready.headers["Retry-After"] == "90"
    newcomer = app.test_client()
    response = newcomer.get("/login")
    assert_unavailable(response.status_code, response.get_data(as_text=True), response.headers.get("Retry-After"))
    with serve(provider, port=port):
        time.sleep(0.6)  # /readyz asks the provider again only once its refetch interval has passed
        assert newcomer.get("/readyz").status_code == 200
        assert attempt_sign_in(newcomer)[0] == 302
        assert newcomer.get("/account").status_code == 200


def test_first_login_after_the_provider_went_down_is_our_503(make_app: Callable[..., Flask]) -> None:
    """Discovery and keys are cached and nothing has failed yet: /login itself notices the provider is gone."""
    provider, port = HostileProvider(), free_port()
    with serve(provider, port=port) as url:
        provider.issuer = url
        app = make_app(OIDC_ISSUER=url, OIDC_TIMEOUT=1, OIDC_PROVIDER_RETRY_AFTER=90)
        assert attempt_sign_in(app.test_client())[0] == 302
    response = app.test_client().get("/login")
    assert_unavailable(response.status_code, response.get_data(as_text=True), response.headers.get("Retry-After"))
    assert "Location" not in response.headers


def test_first_login_after_discovery_started_failing_is_our_503(app: Flask, provider: HostileProvider) -> None:
    assert attempt_sign_in(app.test_client())[0] == 302
    provider.faults = {"/.well-known/openid-configuration": "500"}
    response = app.test_client().get("/login")
    assert_unavailable(response.status_code, response.get_data(as_text=True), response.headers.get("Retry-After"))


def test_readyz_asks_discovery_at_most_once_per_interval(
    make_app: Callable[..., Flask], provider: HostileProvider
) -> None:
    client = make_app(OIDC_ISSUER=provider.issuer, OIDC_REFETCH_INTERVAL=0.5).test_client()
    before = provider.discovery_fetches
    assert all(client.get("/readyz").status_code == 200 for _ in range(5))
    assert provider.discovery_fetches == before + 1
    provider.faults = {"/.well-known/openid-configuration": "500"}
    time.sleep(0.6)
    assert [client.get("/readyz").status_code for _ in range(3)] == [503, 503, 503]
    assert provider.discovery_fetches == before + 2
    provider.faults = {}
    time.sleep(0.6)
    assert client.get("/readyz").status_code == 200
    assert provider.discovery_fetches == before + 3


def test_simultaneous_logins_share_the_discovery_probe(
    make_app: Callable[..., Flask], provider: HostileProvider
) -> None:
    app = make_app(OIDC_ISSUER=provider.issuer)
    provider.slow_seconds, provider.faults = 0.5, {"/.well-known/openid-configuration": "slow"}
    before = provider.discovery_fetches
    statuses: list[int] = []
    threads = [
        threading.Thread(target=lambda: statuses.append(app.test_client().get("/login").status_code)) for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert statuses == [302] * 6
    assert provider.discovery_fetches - before <= 2  # the first probe, and one for those who arrived during it
