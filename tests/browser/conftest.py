"""Browser fixtures: the portal served over HTTP with its embedded development provider, and Chromium.

Chromium is Debian's package at /usr/bin/chromium, driven by Playwright. In CI a missing browser fails
the run; on a developer machine without it the browser tests are skipped with the reason.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask

from app import devprovider
from tests.support.threads import serve

CHROMIUM = "/usr/bin/chromium"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_portal(make_app: Callable[..., Flask]) -> Iterator[str]:
    """The portal on a free port with the embedded development provider (no OIDC_ISSUER), started as
    ``flask dev run`` starts it."""
    port = free_port()
    app = make_app(OIDC_ISSUER=None, OIDC_CLIENT_SECRET=None, DEV_OIDC_PORT=port)
    assert app.config["DEV_OIDC_ENABLED"]
    provider = devprovider.start(port, production=False)
    try:
        with serve(app) as url:
            yield url
    finally:
        provider.shutdown()
        provider.server_close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium package (make chromium)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context and page per test."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


def assert_accessible(page: Any) -> None:
    """axe-core finds no WCAG 2.1 A/AA violation on the page as it is now."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"


def sign_in_dev(page: Any, portal: str, user: str = "resident@example.org") -> None:
    """Sign in through the development provider's page by clicking a demo user."""
    page.goto(f"{portal}/sign-in")
    page.get_by_role("link", name="Sign in with email").click()
    page.get_by_role("button", name=user).click()
    page.wait_for_url(f"{portal}/")
