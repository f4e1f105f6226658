"""``flask dev run`` (what ``make run`` calls): it stops on a port another program holds and reuses its own servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
import pytest
import requests
from click.testing import Result
from flask import Flask

from app.dev import cli
from app.dev import payments as devprocessor
from app.dev import provider as devprovider
from tests.support.ports import free_port, held_port


def answers(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
        return True
    except requests.RequestException:
        return False


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What ``flask run`` would have been asked to serve (it is replaced: the tests serve nothing)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli, "run_command", click.Command("run", callback=lambda **options: calls.append(options)))
    return calls


def dev_app(make_app: Callable[..., Flask], provider_port: int, payments_port: int) -> Flask:
    """A portal on the development defaults: no OIDC_ISSUER (so the development provider), the dev processor."""
    return make_app(
        OIDC_ISSUER=None, OIDC_CLIENT_SECRET=None, DEV_OIDC_PORT=provider_port, DEV_PAYMENTS_PORT=payments_port
    )


def dev_run(app: Flask, port: int) -> Result:
    return app.test_cli_runner().invoke(args=["dev", "run", "--port", str(port)])


@contextmanager
def our_servers(provider_port: int, payments_port: int) -> Iterator[None]:
    """The development provider and processor as another portal process would have started them."""
    servers = [devprovider.start(provider_port, production=False), devprocessor.start(payments_port, production=False)]
    try:
        yield
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_a_provider_port_another_program_holds_stops_it(
    make_app: Callable[..., Flask], served: list[dict[str, Any]], host: str
) -> None:
    payments_port = free_port()
    with held_port(host) as port:
        app = dev_app(make_app, port, payments_port)
        result = dev_run(app, free_port())
    assert result.exit_code == 1
    assert f"Port {port} is in use by another program; set DEV_OIDC_PORT to a free port (make run DEV_OIDC_PORT=" in (
        result.output
    )
    assert "Development OpenID provider:" not in result.output and served == []
    assert not answers(f"http://localhost:{payments_port}/v1/health")  # nothing else was started


def test_a_payments_port_another_program_holds_stops_it(
    make_app: Callable[..., Flask], served: list[dict[str, Any]]
) -> None:
    with held_port() as port:
        result = dev_run(make_app(DEV_PAYMENTS_PORT=port), free_port())
    assert result.exit_code == 1
    assert f"Port {port} is in use by another program; set DEV_PAYMENTS_PORT to a free port" in result.output
    assert "Development payment processor:" not in result.output and served == []


def test_the_portal_port_another_program_holds_stops_it_before_anything_starts(
    make_app: Callable[..., Flask], served: list[dict[str, Any]]
) -> None:
    provider_port, payments_port = free_port(), free_port()
    app = dev_app(make_app, provider_port, payments_port)
    with held_port() as port:
        result = dev_run(app, port)
    assert result.exit_code == 1
    assert f"Port {port} is in use by another program; set PORT to a free port (make run PORT=" in result.output
    assert served == []
    assert not answers(f"http://localhost:{provider_port}/.well-known/openid-configuration")
    assert not answers(f"http://localhost:{payments_port}/v1/health")


def test_two_servers_on_one_port_are_refused(make_app: Callable[..., Flask], served: list[dict[str, Any]]) -> None:
    port = free_port()
    result = dev_run(make_app(OIDC_ISSUER=None, OIDC_CLIENT_SECRET=None, DEV_OIDC_PORT=port), port)
    assert result.exit_code == 1 and f"PORT and DEV_OIDC_PORT are both {port}" in result.output and served == []


def test_our_own_servers_already_running_are_reused_and_said_so(
    make_app: Callable[..., Flask], served: list[dict[str, Any]]
) -> None:
    provider_port, payments_port, port = free_port(), free_port(), free_port()
    app = dev_app(make_app, provider_port, payments_port)
    with our_servers(provider_port, payments_port):
        result = dev_run(app, port)
    assert result.exit_code == 0, result.output
    reused = "(already running in another portal process on this machine; this portal uses it)"
    assert f"Development OpenID provider: http://localhost:{provider_port} {reused}" in result.output
    assert f"Development payment processor: http://localhost:{payments_port} {reused}" in result.output
    assert [options["port"] for options in served] == [port]


def test_the_reloaders_child_serves_on_its_parents_port_and_servers(
    make_app: Callable[..., Flask], served: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    provider_port, payments_port = free_port(), free_port()
    app = dev_app(make_app, provider_port, payments_port)
    monkeypatch.setenv("WERKZEUG_RUN_MAIN", "true")  # what werkzeug's reloader sets in the child it runs
    with our_servers(provider_port, payments_port), held_port() as port:  # the parent listens on the port
        result = dev_run(app, port)
    assert result.exit_code == 0, result.output
    assert result.output == ""  # the parent said it all
    assert [options["port"] for options in served] == [port]
