"""``flask idp plan|apply|unlock`` against a stand-in Admin REST server: create, drift, no-op, errors."""

from __future__ import annotations

from flask.testing import FlaskCliRunner

from tests.idp_config.standin import StandIn
from tests.support.ports import free_port


def test_plan_then_apply_creates_the_realm(runner: FlaskCliRunner, keycloak: StandIn) -> None:
    plan = runner.invoke(args=["idp", "plan"])
    assert plan.exit_code == 0, plan.output
    assert "+ realm citizens" in plan.output and "1 to create" in plan.output
    assert keycloak.realms == {}  # plan changes nothing
    applied = runner.invoke(args=["idp", "apply"])
    assert applied.exit_code == 0, applied.output
    assert "citizens" in keycloak.realms
    state = keycloak.realms["citizens"]
    assert set(state["idps"]) == {"google", "microsoft", "facebook", "apple"}
    assert state["idps"]["google"]["config"]["clientSecret"] == "google-secret-value"


def test_second_apply_changes_nothing(runner: FlaskCliRunner, keycloak: StandIn) -> None:
    assert runner.invoke(args=["idp", "apply"]).exit_code == 0
    keycloak.calls.clear()
    again = runner.invoke(args=["idp", "apply"])
    assert again.exit_code == 0, again.output
    assert "No changes." in again.output
    assert not [c for c in keycloak.calls if not c.startswith("GET")]
    plan = runner.invoke(args=["idp", "plan"])
    assert "No changes." in plan.output


def test_drift_is_planned_and_fixed_in_place(runner: FlaskCliRunner, keycloak: StandIn) -> None:
    assert runner.invoke(args=["idp", "apply"]).exit_code == 0
    state = keycloak.realms["citizens"]
    state["settings"]["bruteForceProtected"] = False  # someone clicked in the admin console
    client = next(iter(state["clients"].values()))
    client["rep"]["attributes"]["pkce.code.challenge.method"] = "plain"
    client_uuid = client["rep"]["id"]
    state["idps"]["google"]["trustEmail"] = False
    google_id = state["idps"]["google"]["internalId"]
    state["profile"]["attributes"] = [a for a in state["profile"]["attributes"] if a["name"] != "mobileNumber"]
    del state["roles"]["staff"]

    plan = runner.invoke(args=["idp", "plan"])
    assert plan.exit_code == 0, plan.output
    out = plan.output
    assert "~ realm settings" in out and "bruteForceProtected: false -> true" in out
    assert "~ client citizen-portal" in out and 'attributes.pkce.code.challenge.method: "plain" -> "S256"' in out
    assert "~ identity provider google" in out and "trustEmail: false -> true" in out
    assert "~ user profile" in out and "+ realm role staff" in out

    applied = runner.invoke(args=["idp", "apply"])
    assert applied.exit_code == 0, applied.output
    assert state["settings"]["bruteForceProtected"] is True
    client = state["clients"][client_uuid]  # updated in place: same id, secret kept
    assert client["rep"]["attributes"]["pkce.code.challenge.method"] == "S256"
    assert client["rep"]["secret"] == "portal-client-secret-value"
    assert state["idps"]["google"]["internalId"] == google_id
    assert state["idps"]["google"]["config"]["clientSecret"] == "google-secret-value"
    assert "staff" in state["roles"]
    assert "No changes." in runner.invoke(args=["idp", "plan"]).output


def test_rotate_secrets_writes_new_secrets(runner: FlaskCliRunner, keycloak: StandIn, monkeypatch) -> None:
    assert runner.invoke(args=["idp", "apply"]).exit_code == 0
    monkeypatch.setenv("GOOGLE_CLIENT_SECRET", "rotated-google-secret")
    assert "No changes." in runner.invoke(args=["idp", "plan"]).output  # masked: not drift
    assert runner.invoke(args=["idp", "apply", "--rotate-secrets"]).exit_code == 0
    assert keycloak.realms["citizens"]["idps"]["google"]["config"]["clientSecret"] == "rotated-google-secret"


def test_unlock_clears_a_lockout(runner: FlaskCliRunner, keycloak: StandIn, tmp_path) -> None:
    users = tmp_path / "users.json"
    users.write_text(
        '[{"username": "pat@example.org", "email": "pat@example.org", "enabled": true, '
        '"emailVerified": true, "firstName": "Pat", "lastName": "R", "realmRoles": ["staff"]}]'
    )
    assert runner.invoke(args=["idp", "apply", "--dev-users", str(users)]).exit_code == 0
    state = keycloak.realms["citizens"]
    user_id, user = next(iter(state["users"].items()))
    assert user["realmRoles"] == ["staff"]
    state["locked"].add(user_id)
    result = runner.invoke(args=["idp", "unlock", "PAT@example.org"])
    assert result.exit_code == 0, result.output
    assert "unlocked PAT@example.org" in result.output and user_id not in state["locked"]
    missing = runner.invoke(args=["idp", "unlock", "nobody@example.org"])
    assert missing.exit_code == 1 and "no user with email nobody@example.org" in missing.output


def test_wrong_admin_credentials_is_a_clear_401(runner: FlaskCliRunner, keycloak: StandIn, monkeypatch) -> None:
    monkeypatch.setenv("KEYCLOAK_ADMIN_CLIENT_SECRET", "wrong")
    result = runner.invoke(args=["idp", "plan"])
    assert result.exit_code == 1 and "refused the admin credentials (401)" in result.output
    assert "Traceback" not in result.output


def test_forbidden_is_a_clear_403(runner: FlaskCliRunner, keycloak: StandIn) -> None:
    keycloak.fail = 403
    result = runner.invoke(args=["idp", "apply"])
    assert result.exit_code == 1 and "403 Forbidden" in result.output


def test_server_error_is_clear(runner: FlaskCliRunner, keycloak: StandIn) -> None:
    keycloak.fail = 503
    result = runner.invoke(args=["idp", "plan"])
    assert result.exit_code == 1 and "HTTP 503" in result.output and "try again later" in result.output


def test_unreachable_keycloak_is_clear(runner: FlaskCliRunner, keycloak: StandIn, monkeypatch) -> None:
    monkeypatch.setenv("KEYCLOAK_URL", f"http://localhost:{free_port()}")
    result = runner.invoke(args=["idp", "plan"])
    assert result.exit_code == 1 and "cannot reach Keycloak" in result.output


def test_missing_keycloak_url(runner: FlaskCliRunner, keycloak: StandIn, monkeypatch) -> None:
    monkeypatch.delenv("KEYCLOAK_URL")
    result = runner.invoke(args=["idp", "plan"])
    assert result.exit_code == 1 and "KEYCLOAK_URL" in result.output
