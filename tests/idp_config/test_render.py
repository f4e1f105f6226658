"""``flask idp render`` fills placeholders from the environment and refuses, naming each missing one."""

from __future__ import annotations

import json

import pytest
from flask.testing import FlaskCliRunner

from app.idp.placeholders import BadValues, MissingValues, placeholders, render, required_names
from tests.support.realm import ENV, REALM_FILE


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
    text = '{"a": "${ONE}", "b": "${TWO:2}", "c": "${username}", "d": "${ONE}", "e": "${THREE:}"}'
    assert set(placeholders(text)) == {"ONE", "TWO", "THREE"}
    assert required_names(text) == ["ONE"]
    # Values go in as they are, as in Keycloak's import: a JSON escape in the value is decoded by the parser.
    assert json.loads(render(text, {"ONE": "line1\\nline2"})) == {
        "a": "line1\nline2",
        "b": "2",
        "c": "${username}",
        "d": "line1\nline2",
        "e": "",
    }
    assert json.loads(render(text, {"ONE": "x", "TWO": ""}))["b"] == ""  # set, even to empty, beats the default
    with pytest.raises(MissingValues) as missing:
        render(text, {"ONE": ""})
    assert missing.value.names == ["ONE"]
    with pytest.raises(BadValues) as bad:
        render(text, {"ONE": 'x"y', "TWO": "fine"})
    assert bad.value.names == ["ONE"]


def test_render_names_a_value_that_breaks_the_json(runner: FlaskCliRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("APPLE_P8_CONTENT", "-----BEGIN PRIVATE KEY-----\nMIGTAg\n-----END PRIVATE KEY-----")
    result = runner.invoke(args=["idp", "render"])
    assert result.exit_code == 1 and "APPLE_P8_CONTENT" in result.output and "\\n" in result.output
    assert "Traceback" not in result.output
    escaped = "-----BEGIN PRIVATE KEY-----\\nMIGTAg\\n-----END PRIVATE KEY-----"
    monkeypatch.setenv("APPLE_P8_CONTENT", escaped)
    result = runner.invoke(args=["idp", "render", "--output", "-"])
    assert result.exit_code == 0, result.output
    apple = next(i for i in json.loads(result.output)["identityProviders"] if i["alias"] == "apple")
    assert apple["config"]["p8Content"].splitlines() == [
        "-----BEGIN PRIVATE KEY-----",
        "MIGTAg",
        "-----END PRIVATE KEY-----",
    ]


def test_every_required_variable_is_documented() -> None:
    readme = (REALM_FILE.parent / "README.md").read_text()
    for name in placeholders(REALM_FILE.read_text()):
        assert f"`{name}`" in readme, name
