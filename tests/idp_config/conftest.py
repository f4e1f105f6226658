"""Fixtures for the realm-as-code tools."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner

from app import create_app
from app.idp.extensions import with_extensions
from tests.idp_config.standin import StandIn, serving

ROOT = Path(__file__).resolve().parents[2]
REALM_FILE = ROOT / "idp_config" / "realm.json"
ENV = {
    "PORTAL_BASE_URL": "https://pay.springfield.example",
    "PORTAL_CLIENT_SECRET": "portal-client-secret-value",
    "SMTP_HOST": "smtp.springfield.example",
    "SMTP_FROM": "noreply@springfield.example",
    "SMTP_PASSWORD": "smtp-password-value",
    "GOOGLE_CLIENT_ID": "google-id",
    "GOOGLE_CLIENT_SECRET": "google-secret-value",
    "MICROSOFT_CLIENT_ID": "ms-id",
    "MICROSOFT_CLIENT_SECRET": "ms-secret-value",
    "FACEBOOK_CLIENT_ID": "fb-id",
    "FACEBOOK_CLIENT_SECRET": "fb-secret-value",
    "APPLE_CLIENT_ID": "org.springfield.pay",
    "APPLE_TEAM_ID": "TEAM123",
    "APPLE_KEY_ID": "KEY123",
    "APPLE_P8_CONTENT": "MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQg",
    # The stand-in knows the Apple provider, as a Keycloak with the extension does.
    "KC_REALM_EXTENSIONS": "apple",
}


@pytest.fixture
def realm() -> dict[str, Any]:
    """A fresh copy of the realm file with the Apple extension, to break in a test."""
    return dict(json.loads(with_extensions(REALM_FILE.read_text(), ["apple"])))


@pytest.fixture
def cli_app() -> Flask:
    return create_app(
        {
            "PORTAL_ENV": "testing",
            "SECRET_KEY": "x" * 40,
            "DATABASE_URL": "sqlite://",
            "OIDC_ISSUER": "http://localhost:1",
            "OIDC_CLIENT_SECRET": "s",
        }
    )


@pytest.fixture
def runner(cli_app: Flask) -> FlaskCliRunner:
    return cli_app.test_cli_runner()


@pytest.fixture
def keycloak(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandIn]:
    """The stand-in Admin REST server, with the environment pointing the commands at it."""
    with serving(StandIn()) as standin:
        for name, value in ENV.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("KEYCLOAK_URL", standin.base_url)
        monkeypatch.setenv("KEYCLOAK_ADMIN_CLIENT_ID", standin.admin_client_id)
        monkeypatch.setenv("KEYCLOAK_ADMIN_CLIENT_SECRET", standin.admin_client_secret)
        yield standin
