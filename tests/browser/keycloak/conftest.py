"""A real Keycloak 26.7.3 (started once per session, realm imported at its start-up) and Mailpit for its emails.

Ports: Keycloak 18080 (management 19000), Mailpit SMTP 11025 and HTTP 18025, each replaced by a free port
when taken. Under pytest-xdist they all run on one worker (``tests/support/workers.py``), so one Keycloak
starts. Without Java or Maven the tests are skipped on a developer machine and fail in CI. The helpers the
tests call (``Stack``, ``keycloak_sign_in``, ``action_link`` ...) are in ``tests/support/keycloak_stack.py``.
"""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from flask import Flask

from app.idp.users import ensure_users
from tests.support import keycloak as kc
from tests.support.keycloak_stack import REALM, Stack
from tests.support.ports import free_port, port_free
from tests.support.threads import serve


def _unavailable(message: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Keycloak with the realm file imported at start-up (Keycloak resolves its placeholders), plus Mailpit."""
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            _unavailable(f"{tool} is missing: the Keycloak tests need Java 17+ and Maven (make keycloak-deps)")
    try:
        distribution, mailpit_binary = kc.fetch_keycloak(), kc.fetch_mailpit()
    except kc.SetupError as exc:
        _unavailable(f"Keycloak or Mailpit could not be fetched: {exc}")
    ports = kc.Ports(18080, 19000, 11025, 18025).available()
    portal_port = 15000 if port_free(15000) else free_port()
    secret = secrets.token_urlsafe(24)
    realm_env = kc.realm_environment(ports, f"http://localhost:{portal_port}", secret, REALM)
    with kc.instance_lock("test") as instance:
        instance.mkdir(parents=True, exist_ok=True)
        mailpit = kc.Mailpit(mailpit_binary, ports.smtp, ports.mail_http, instance.parent / f"{instance.name}-mail.log")
        keycloak = kc.Keycloak(distribution, instance, ports, realm_env, kc.REALM_FILE.read_text(), REALM)
        try:
            mailpit.start()
            keycloak.prepare(fresh=True)
            keycloak.start()
        except kc.SetupError as exc:
            keycloak.stop()
            mailpit.stop()
            _unavailable(f"Keycloak did not start: {exc}")
        try:
            stack = Stack(keycloak, mailpit, portal_port, secret, realm_env)
            ensure_users(stack.admin(), kc.dev_users())
            yield stack
        finally:
            keycloak.stop()
            mailpit.stop()


@pytest.fixture
def make_portal(make_app: Callable[..., Flask], stack: Stack) -> Iterator[Callable[..., str]]:
    """``make_portal(**config)`` serves a portal pointed at Keycloak on the realm's PORTAL_BASE_URL; returns it."""
    servers = ExitStack()

    def make(**overrides: Any) -> str:
        config = {
            "OIDC_ISSUER": stack.keycloak.issuer,
            "OIDC_CLIENT_SECRET": stack.client_secret,
            "PORTAL_BASE_URL": stack.portal_url,
            "SOCIAL_PROVIDERS": "google,apple,microsoft,facebook",
            **overrides,
        }
        app = make_app(**config)
        servers.enter_context(serve(app, port=stack.portal_port))
        return stack.portal_url

    with servers:
        yield make


@pytest.fixture
def portal(make_portal: Callable[..., str]) -> str:
    """The portal against Keycloak, with its usual configuration."""
    return make_portal()


@pytest.fixture
def idp_cli(stack: Stack, make_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``idp_cli("plan")`` runs ``flask idp ...`` against this Keycloak and returns click's result."""
    for name, value in stack.admin_env().items():
        monkeypatch.setenv(name, value)
    runner = make_app(OIDC_ISSUER=stack.keycloak.issuer, OIDC_CLIENT_SECRET=stack.client_secret).test_cli_runner()

    def run(*args: str) -> Any:
        return runner.invoke(args=["idp", *args])

    return run
