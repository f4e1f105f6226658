"""Admin login (service account or bootstrap admin), short-lived tokens, and secrets kept across updates."""

from __future__ import annotations

import pytest
from flask.testing import FlaskCliRunner

from tests.idp_config.standin import StandIn
from tests.support.realm import ENV


def test_bootstrap_admin_user_signs_in_through_admin_cli(
    runner: FlaskCliRunner, keycloak: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEYCLOAK_ADMIN_CLIENT_ID")
    monkeypatch.delenv("KEYCLOAK_ADMIN_CLIENT_SECRET")
    monkeypatch.setenv("KEYCLOAK_ADMIN_USERNAME", keycloak.admin_username)
    monkeypatch.setenv("KEYCLOAK_ADMIN_PASSWORD", keycloak.admin_password)
    result = runner.invoke(args=["idp", "apply"])
    assert result.exit_code == 0, result.output
    assert "citizens" in keycloak.realms

    monkeypatch.setenv("KEYCLOAK_ADMIN_PASSWORD", "wrong")
    refused = runner.invoke(args=["idp", "plan"])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert "refused the admin credentials (401)" in refused.output


def test_no_admin_credentials_is_a_clear_error(
    runner: FlaskCliRunner, keycloak: StandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KEYCLOAK_ADMIN_CLIENT_ID")
    monkeypatch.delenv("KEYCLOAK_ADMIN_CLIENT_SECRET")
    result = runner.invoke(args=["idp", "plan"])
    assert result.exit_code == 1 and "KEYCLOAK_ADMIN_USERNAME" in result.output


def test_an_expired_admin_token_is_renewed(runner: FlaskCliRunner, keycloak: StandIn) -> None:
    keycloak.token_uses = 5  # far fewer calls than one apply makes
    result = runner.invoke(args=["idp", "apply"])
    assert result.exit_code == 0, result.output
    assert keycloak.logins == 1  # creating the realm is a single call
    keycloak.realms["citizens"]["settings"]["verifyEmail"] = False
    result = runner.invoke(args=["idp", "apply"])
    assert result.exit_code == 0, result.output
    assert keycloak.realms["citizens"]["settings"]["verifyEmail"] is True
    assert keycloak.logins > 2


def test_secrets_survive_an_update_without_rotation(runner: FlaskCliRunner, keycloak: StandIn) -> None:
    """The Apple key comes back in clear and is not masked by Keycloak: it must not become '**********'."""
    assert runner.invoke(args=["idp", "apply"]).exit_code == 0
    state = keycloak.realms["citizens"]
    state["idps"]["apple"]["enabled"] = False
    state["idps"]["google"]["enabled"] = False
    state["settings"]["smtpServer"]["port"] = "25"
    result = runner.invoke(args=["idp", "apply"])
    assert result.exit_code == 0, result.output
    assert state["idps"]["apple"]["enabled"] is True
    assert state["idps"]["apple"]["config"]["p8Content"] == ENV["APPLE_P8_CONTENT"]
    assert state["idps"]["google"]["config"]["clientSecret"] == ENV["GOOGLE_CLIENT_SECRET"]
    assert state["settings"]["smtpServer"]["port"] == "587"
    assert state["settings"]["smtpServer"]["password"] == ENV["SMTP_PASSWORD"]
    assert "No changes." in runner.invoke(args=["idp", "plan"]).output
