"""Browser fixtures: the portal served over HTTP with its embedded development provider, and Chromium.

Chromium is Debian's package at /usr/bin/chromium, driven by Playwright. In CI a missing browser fails
the run; on a developer machine without it the browser tests are skipped with the reason. The helpers the
tests call (``assert_accessible``, ``sign_in_dev``) are in ``tests/support/browser.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.dev import provider as devprovider
from tests.support.browser import CHROMIUM
from tests.support.ports import free_port
from tests.support.threads import serve


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
