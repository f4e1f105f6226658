"""``flask idp plan|apply`` on the real Admin REST API, and ``private_key_jwt`` against Keycloak's Signed JWT."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import requests
from joserfc.jwk import RSAKey

from tests.support.keycloak_stack import PASSWORDS, Stack, keycloak_sign_in

pytestmark = [pytest.mark.keycloak]


def test_plan_on_the_imported_realm_reports_no_changes(idp_cli: Callable[..., Any]) -> None:
    result = idp_cli("plan")
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("No changes."), result.output


def test_drift_is_planned_applied_once_and_then_gone(stack: Stack, idp_cli: Callable[..., Any]) -> None:
    admin = stack.admin()
    realm = admin.call("GET", "")
    admin.call("PUT", "", json={**realm, "failureFactor": 30, "verifyEmail": False})
    client = admin.call("GET", "/clients?clientId=citizen-portal")[0]
    attributes = {**client["attributes"], "pkce.code.challenge.method": "plain"}
    admin.call("PUT", f"/clients/{client['id']}", json={**client, "redirectUris": ["*"], "attributes": attributes})
    google = admin.call("GET", "/identity-provider/instances/google")
    admin.call("PUT", "/identity-provider/instances/google", json={**google, "trustEmail": False})
    profile = admin.call("GET", "/users/profile")
    trimmed = [a for a in profile["attributes"] if a["name"] != "mobileNumber"]
    admin.call("PUT", "/users/profile", json={**profile, "attributes": trimmed})
    staff = admin.call("GET", "/roles/staff")
    admin.call("PUT", "/roles/staff", json={**staff, "description": "clicked in the console"})

    plan = idp_cli("plan")
    assert plan.exit_code == 0, plan.output
    assert "~ realm settings" in plan.output
    assert "failureFactor: 30 -> 5" in plan.output and "verifyEmail: false -> true" in plan.output
    assert "~ client citizen-portal" in plan.output and "redirectUris" in plan.output
    assert 'attributes.pkce.code.challenge.method: "plain" -> "S256"' in plan.output
    assert "~ identity provider google" in plan.output and "trustEmail: false -> true" in plan.output
    assert "~ user profile" in plan.output and "mobileNumber" in plan.output
    assert "~ realm role staff" in plan.output and "description" in plan.output
    assert "Plan: 0 to create, 5 to update." in plan.output

    applied = idp_cli("apply")
    assert applied.exit_code == 0, applied.output
    assert "Applied 5 change(s)." in applied.output
    live = admin.call("GET", "")
    assert live["failureFactor"] == 5 and live["verifyEmail"] is True
    assert admin.call("GET", f"/clients/{client['id']}")["redirectUris"] == [f"{stack.portal_url}/auth/callback"]
    assert admin.call("GET", "/identity-provider/instances/google")["trustEmail"] is True
    assert admin.call("GET", f"/clients/{client['id']}/client-secret")["value"] == stack.client_secret  # kept
    assert "mobileNumber" in {a["name"] for a in admin.call("GET", "/users/profile")["attributes"]}

    again = idp_cli("apply")
    assert again.exit_code == 0 and again.output.rstrip().endswith("No changes."), again.output
    assert idp_cli("plan").output.rstrip().endswith("No changes.")


def test_apply_creates_a_missing_realm_from_the_file(
    stack: Stack, idp_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole file through ``POST /admin/realms``: Keycloak accepts it, and ``plan`` then finds nothing."""
    monkeypatch.setenv("KC_REALM", "springfield-copy")
    plan = idp_cli("plan")
    assert "+ realm springfield-copy" in plan.output and "1 to create" in plan.output, plan.output
    try:
        applied = idp_cli("apply")
        assert applied.exit_code == 0, applied.output
        assert idp_cli("plan").output.rstrip().endswith("No changes.")
        copy = stack.admin("springfield-copy")
        composites = {r["name"] for r in copy.call("GET", "/roles/default-roles-springfield-copy/composites/realm")}
        assert {"resident", "offline_access"} <= composites
    finally:
        stack.admin().call_absolute("DELETE", "/admin/realms/springfield-copy")


def test_secret_rotation_writes_the_new_client_secret(
    stack: Stack, idp_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = stack.admin()
    uuid = admin.call("GET", "/clients?clientId=citizen-portal")[0]["id"]
    assert admin.call("GET", f"/clients/{uuid}/client-secret")["value"] == stack.client_secret
    monkeypatch.setenv("PORTAL_CLIENT_SECRET", "rotated-" + stack.client_secret)
    try:
        plan = idp_cli("plan", "--rotate-secrets")
        assert "secret: (secret rotated)" in plan.output, plan.output
        assert idp_cli("apply", "--rotate-secrets").exit_code == 0
        assert admin.call("GET", f"/clients/{uuid}/client-secret")["value"] == "rotated-" + stack.client_secret
        # Without --rotate-secrets the stored secrets are neither compared nor changed.
        monkeypatch.setenv("PORTAL_CLIENT_SECRET", "something-else")
        monkeypatch.setenv("GOOGLE_CLIENT_SECRET", "a-new-google-secret")
        assert idp_cli("plan").output.rstrip().endswith("No changes.")  # Keycloak masks it: not drift
        assert idp_cli("apply").output.rstrip().endswith("No changes.")
        assert admin.call("GET", f"/clients/{uuid}/client-secret")["value"] == "rotated-" + stack.client_secret
    finally:
        monkeypatch.setenv("PORTAL_CLIENT_SECRET", stack.client_secret)
        assert idp_cli("apply", "--rotate-secrets").exit_code == 0
    assert admin.call("GET", f"/clients/{uuid}/client-secret")["value"] == stack.client_secret


# --- 10. private_key_jwt -------------------------------------------------------------------------


@pytest.mark.browser
def test_private_key_jwt_against_keycloaks_signed_jwt_authenticator(
    stack: Stack, make_portal: Callable[..., str], page: Any, tmp_path: Path
) -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "portal-key-1", "use": "sig", "alg": "RS256"})
    pem = tmp_path / "portal-key.pem"
    pem.write_bytes(key.as_pem(private=True))
    admin = stack.admin()
    client_id = "citizen-portal-jwt"
    if not admin.call("GET", f"/clients?clientId={quote(client_id)}"):
        admin.call(
            "POST",
            "/clients",
            json={
                "clientId": client_id,
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-jwt",
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": False,
                "redirectUris": [f"{stack.portal_url}/auth/callback"],
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "use.jwks.string": "true",
                    "jwks.string": json.dumps({"keys": [key.as_dict(private=False)]}),
                    "token.endpoint.auth.signing.alg": "RS256",
                    "post.logout.redirect.uris": f"{stack.portal_url}/signed-out",
                },
            },
        )
    portal = make_portal(
        OIDC_CLIENT_ID=client_id,
        OIDC_CLIENT_AUTH_METHOD="private_key_jwt",
        OIDC_PRIVATE_KEY_FILE=str(pem),
        OIDC_CLIENT_SECRET=None,
    )
    page.goto(f"{portal}/login")
    keycloak_sign_in(page, "resident@example.org", PASSWORDS["resident@example.org"])
    page.wait_for_url(f"{portal}/")
    assert "Sign out" in page.content()

    # The same client refuses a client secret: Keycloak really checked the signed JWT.
    token = requests.post(
        f"{stack.keycloak.issuer}/protocol/openid-connect/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": f"{portal}/auth/callback"},
        auth=(client_id, "not-a-secret"),
        timeout=5,
    )
    assert token.status_code in (400, 401) and re.search("unauthorized_client|invalid_client", token.text)
