"""Security headers, proxy handling, logs without secrets, request ids."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.config import CLIENT_SECRET, SECRET_KEY
from tests.support.pages import csrf_token
from tests.support.signin import sign_in

PAGES = ("/sign-in", "/help", "/signed-out", "/healthz", "/no-such-page", "/account", "/login")


@pytest.mark.parametrize("path", PAGES)
def test_security_headers_on_every_response(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in response.headers  # plain http here


def test_hsts_under_https(client: FlaskClient) -> None:
    response = client.get("/sign-in", base_url="https://pay.example.gov")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_templates_have_no_inline_script_or_style(app: Flask) -> None:
    from pathlib import Path

    for template in Path(app.template_folder or "").rglob("*.html"):
        text = template.read_text()
        assert "<script>" not in text and "style=" not in text and "<style" not in text, template
        assert "onclick" not in text.lower(), template


def test_signed_in_pages_are_not_cached(client: FlaskClient, oidc_server: str) -> None:
    sign_in(client, oidc_server, "cachy")
    assert client.get("/account").headers["Cache-Control"] == "no-store"


def test_forwarded_headers_from_trusted_proxy_make_urls_and_cookies_https(
    make_app: Callable[..., Flask],
) -> None:
    client = make_app(PROXY_FIX_HOPS=1).test_client()
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "pay.example.gov", "X-Forwarded-For": "198.51.100.7"}
    response = client.get("/login", headers=headers)
    assert "redirect_uri=https%3A%2F%2Fpay.example.gov%2Fauth%2Fcallback" in response.headers["Location"]
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=") and "Secure" in cookie
    assert response.headers["Strict-Transport-Security"]


def test_forwarded_headers_are_ignored_without_trusted_proxy(client: FlaskClient) -> None:
    response = client.get("/login", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Fauth%2Fcallback" in response.headers["Location"]
    assert response.headers["Set-Cookie"].startswith("session=")


def test_request_id_in_response_and_error_page(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"X-Request-ID": "req-1234abcd"})
    assert response.headers["X-Request-ID"] == "req-1234abcd"
    assert "req-1234abcd" in response.get_data(as_text=True)
    generated = client.get("/no-such-page", headers={"X-Request-ID": "bad id with spaces"})
    assert generated.headers["X-Request-ID"] != "bad id with spaces" and len(generated.headers["X-Request-ID"]) == 16


def test_logs_never_contain_tokens_codes_cookies_or_secrets(
    make_app: Callable[..., Flask], oidc_server: str, capfd: pytest.CaptureFixture[str]
) -> None:
    app = make_app(LOG_FORMAT="json", LOG_LEVEL="DEBUG")
    client = app.test_client()
    response = sign_in(client, oidc_server, "loggy")
    assert response.status_code == 302
    with client.session_transaction() as session:
        id_token = session["id_token"]
    cookie = client.get_cookie("session")
    assert cookie is not None
    client.get("/auth/callback?state=forged&code=SECRET-CODE-123")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/account")})
    logging.getLogger("app").info("flush")
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("{")]
    assert lines, "expected JSON log lines"
    for line in lines:
        entry = json.loads(line)
        assert {"time", "level", "logger", "message", "request_id"} <= entry.keys()
    for secret in (id_token, id_token.split(".")[1], cookie.value, "SECRET-CODE-123", CLIENT_SECRET, SECRET_KEY):
        assert secret not in err
    assert any("signed in" in json.loads(line)["message"] for line in lines)


def test_text_log_keeps_one_event_on_one_line(
    make_app: Callable[..., Flask], capfd: pytest.CaptureFixture[str]
) -> None:
    make_app(LOG_FORMAT="text", LOG_LEVEL="INFO")
    logging.getLogger("app").info("sub %s signed in", "x\r\n2026-12-01 INFO [-] app: forged")
    err = capfd.readouterr().err
    [line] = [line for line in err.splitlines() if "signed in" in line]
    assert "x\\r\\n2026-12-01 INFO [-] app: forged" in line
    assert not any(line.startswith("2026-12-01 INFO [-] app: forged") for line in err.splitlines())
