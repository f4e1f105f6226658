"""The embedded development provider starts only when asked: by ``flask dev run`` or a fixture, never by the app."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from app.dev import provider as devprovider
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def test_building_the_app_and_signing_in_start_no_provider(make_app: Callable[..., Flask]) -> None:
    port = free_port()
    app = make_app(OIDC_ISSUER=None, OIDC_CLIENT_SECRET=None, DEV_OIDC_PORT=port)
    assert app.config["DEV_OIDC_ENABLED"]
    response = app.test_client().get("/login")
    assert response.status_code == 503
    assert not answers(f"http://localhost:{port}/.well-known/openid-configuration")


def test_start_serves_the_demo_users_and_refuses_production() -> None:
    port = free_port()
    server = devprovider.start(port, production=False)
    try:
        metadata = requests.get(f"http://localhost:{port}/.well-known/openid-configuration", timeout=5).json()
        assert metadata["issuer"] == f"http://localhost:{port}"
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(devprovider.DevProviderUnavailable, match="PORTAL_ENV=production"):
        devprovider.start(free_port(), production=True)


def test_ensure_running_reuses_only_a_provider_of_ours(oidc_server: str) -> None:
    port = free_port()
    server = devprovider.start(port, production=False)
    try:
        assert devprovider.ensure_running(port, production=False) is False  # reused, not started again
        with pytest.raises(devprovider.DevProviderUnavailable, match="PORTAL_ENV=production"):
            devprovider.ensure_running(port, production=True)
    finally:
        server.shutdown()
        server.server_close()
    # Another program serving a discovery document with the very issuer is still another program.
    other = urlsplit(oidc_server).port
    message = rf"Port {other} is in use by another program; set DEV_OIDC_PORT to a free port \(make run DEV_OIDC_PORT="
    with pytest.raises(devprovider.DevProviderUnavailable, match=message):
        devprovider.ensure_running(int(other or 0), production=False)


def test_a_missing_package_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "oidc_provider_mock", None)  # what an install without the dev extra sees
    with pytest.raises(devprovider.DevProviderUnavailable, match=r"oidc-provider-mock .*pip install -e '\.\[dev\]'"):
        devprovider.start(free_port(), production=False)


#: Every URL a page makes the browser fetch or follow: stylesheets, scripts, images, links, form targets.
REFERENCE = re.compile(r"""(?:href|src|action)\s*=\s*["']([^"']*)["']|url\(\s*["']?([^"')]*)|@import\s+["']([^"']*)""")


def external_references(html: str) -> list[str]:
    """The URLs in ``html`` that point off the page's own server (anything but a path or a data: URL)."""
    urls = ["".join(groups) for groups in REFERENCE.findall(html)]
    return [
        url for url in urls if not (url.startswith("/") and not url.startswith("//")) and not url.startswith("data:")
    ]


def test_the_provider_pages_are_styled_without_network(make_app: Callable[..., Flask]) -> None:
    port = free_port()
    server = devprovider.start(port, production=False)
    try:
        app = make_app(OIDC_ISSUER=None, OIDC_CLIENT_SECRET=None, DEV_OIDC_PORT=port)
        start = app.test_client().get("/login")
        assert start.status_code == 302
        sign_in_page = requests.get(start.headers["Location"], timeout=5)
        assert sign_in_page.status_code == 200 and "<form" in sign_in_page.text
        assert external_references(sign_in_page.text) == []
        assert f'href="{devprovider.LOCAL_STYLESHEET}"' in sign_in_page.text
        error_page = requests.get(f"http://localhost:{port}/oauth2/authorize?client_id=nobody", timeout=5)
        assert error_page.status_code == 400 and external_references(error_page.text) == []
        assert f'href="{devprovider.LOCAL_STYLESHEET}"' in error_page.text
        stylesheet = requests.get(f"http://localhost:{port}{devprovider.LOCAL_STYLESHEET}", timeout=5)
        assert stylesheet.status_code == 200
        assert stylesheet.headers["Content-Type"].startswith("text/css")
        assert stylesheet.content == devprovider.STYLESHEET_FILE.read_bytes()
        assert b"Pico CSS" in stylesheet.content and external_references(stylesheet.text) == []
    finally:
        server.shutdown()
        server.server_close()


def test_external_references_finds_what_a_page_would_fetch() -> None:
    page = '<link rel="stylesheet" href="https://cdn.example/x.css"><img src="//cdn.example/i.png"><a href="/ok">'
    assert external_references(page) == ["https://cdn.example/x.css", "//cdn.example/i.png"]
    assert external_references("<style>a{background:url(data:image/png;base64,AA)}</style>") == []


@pytest.mark.slow
def test_flask_dev_run_starts_the_provider_with_the_portal(tmp_path: Path) -> None:
    provider_port, portal_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k != "OIDC_ISSUER"}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path / 'portal.sqlite'}", DEV_OIDC_PORT=str(provider_port))
    flask = Path(sys.executable).parent / "flask"
    command = [str(flask), "--app", "app", "dev", "run", "--port", str(portal_port)]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not answers(f"http://127.0.0.1:{portal_port}/healthz"):
            assert process.poll() is None, process.communicate()[0].decode()
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.2)
        # Up before anyone signs in: the README promises the provider on its port from the start.
        assert answers(f"http://localhost:{provider_port}/.well-known/openid-configuration")
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert f"Development OpenID provider: http://localhost:{provider_port}" in output


def test_the_provider_pages_have_an_icon_and_say_typed_users_are_unverified(make_app: Callable[..., Flask]) -> None:
    port = free_port()
    server = devprovider.start(port, production=False)
    try:
        app = make_app(OIDC_ISSUER=None, OIDC_CLIENT_SECRET=None, DEV_OIDC_PORT=port)
        sign_in_page = requests.get(app.test_client().get("/login").headers["Location"], timeout=5)
        assert f'<link rel="icon" href="{devprovider.FAVICON}"' in sign_in_page.text
        assert "not verified" in sign_in_page.text and sign_in_page.text.count('id="portal-typed-users"') == 1
        for path in (devprovider.FAVICON, "/favicon.ico"):
            icon = requests.get(f"http://localhost:{port}{path}", timeout=5)
            assert icon.status_code == 200 and icon.headers["Content-Type"].startswith("image/svg+xml")
        error_page = requests.get(f"http://localhost:{port}/oauth2/authorize?client_id=nobody", timeout=5)
        assert f'href="{devprovider.FAVICON}"' in error_page.text and "portal-typed-users" not in error_page.text
    finally:
        server.shutdown()
        server.server_close()
