"""``flask idp render`` fills placeholders from the environment and refuses, naming each missing one."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskCliRunner

from app.idp.placeholders import MissingValues, placeholders, render, required_names
from tests.idp_config.conftest import ENV, REALM_FILE


def test_render_refuses_missing_secrets_naming_each(runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("PORTAL_CLIENT_SECRET")
    monkeypatch.delenv("GOOGLE_CLIENT_SECRET")
    result = runner.invoke(args=["idp", "render"])
    assert result.exit_code == 1
    assert "GOOGLE_CLIENT_SECRET" in result.output and "PORTAL_CLIENT_SECRET" in result.output
    assert "SMTP_HOST" not in result.output


def test_render_fills_values_and_defaults(runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KC_REALM", "minot")
    out = tmp_path / "rendered.json"
    result = runner.invoke(args=["idp", "render", "--output", str(out)])
    assert result.exit_code == 0, result.output
    realm = json.loads(out.read_text())
    assert realm["realm"] == "minot"
    client = realm["clients"][0]
    assert client["secret"] == "portal-client-secret-value"
    assert client["redirectUris"] == ["https://pay.springfield.example/auth/callback"]
    assert client["attributes"]["backchannel.logout.url"] == "https://pay.springfield.example/auth/backchannel-logout"
    assert realm["smtpServer"]["port"] == "587"  # the default
    assert "${" not in json.dumps({k: v for k, v in realm.items() if k != "components"})
    assert oct(out.stat().st_mode & 0o777) == "0o600"


def test_placeholders_follow_keycloak_syntax() -> None:
    text = '{"a": "${ONE}", "b": "${TWO:2}", "c": "${username}", "d": "${ONE}"}'
    assert set(placeholders(text)) == {"ONE", "TWO"}
    assert required_names(text) == ["ONE"]
    assert render(text, {"ONE": 'x"y'}) == '{"a": "x\\"y", "b": "2", "c": "${username}", "d": "x\\"y"}'
    with pytest.raises(MissingValues) as error:
        render(text, {})
    assert error.value.names == ["ONE"]


def test_every_required_variable_is_documented() -> None:
    readme = (REALM_FILE.parent / "README.md").read_text()
    for name in placeholders(REALM_FILE.read_text()):
        assert f"`{name}`" in readme, name
