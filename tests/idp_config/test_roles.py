"""Default roles and the first-login flow, as Keycloak's import and Admin REST API treat them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask.testing import FlaskCliRunner

from app.idp.roles import default_role_composites, default_role_name
from tests.idp_config.standin import StandIn, _Bad


def test_every_new_user_is_a_resident_after_import(runner: FlaskCliRunner, keycloak: StandIn) -> None:
    assert runner.invoke(args=["idp", "apply"]).exit_code == 0
    default = keycloak.realms["citizens"]["default"]
    assert {"resident", "offline_access", "uma_authorization"} <= set(default)
    assert "staff" not in default


def test_a_resident_dropped_from_the_defaults_is_planned_and_put_back(
    runner: FlaskCliRunner, keycloak: StandIn
) -> None:
    assert runner.invoke(args=["idp", "apply"]).exit_code == 0
    keycloak.realms["citizens"]["default"].remove("resident")
    plan = runner.invoke(args=["idp", "plan"])
    assert "~ default roles" in plan.output and "add resident" in plan.output
    assert runner.invoke(args=["idp", "apply"]).exit_code == 0
    assert "resident" in keycloak.realms["citizens"]["default"]
    assert "No changes." in runner.invoke(args=["idp", "plan"]).output


def test_composites_under_default_role_alone_give_users_nothing(realm: dict[str, Any]) -> None:
    """Keycloak wires the default role's composites from roles.realm only; the stand-in does the same."""
    name = default_role_name(realm)
    realm["roles"]["realm"] = [r for r in realm["roles"]["realm"] if r["name"] != name]
    realm["defaultRole"]["composites"] = {"realm": ["resident"]}
    assert default_role_composites(realm) == []
    standin = StandIn()
    rendered = json.loads(json.dumps(realm).replace("${KC_REALM:citizens}", "citizens"))
    standin.create(rendered)
    assert "resident" not in standin.realms["citizens"]["default"]


def test_an_unknown_composite_stops_the_import(realm: dict[str, Any]) -> None:
    name = default_role_name(realm)
    next(r for r in realm["roles"]["realm"] if r["name"] == name)["composites"]["realm"].append("uma_authorization")
    with pytest.raises(_Bad, match="Unable to find composite realm role: uma_authorization"):
        StandIn().create(json.loads(json.dumps(realm).replace("${KC_REALM:citizens}", "citizens")))


def test_social_sign_in_confirms_an_existing_account_before_linking(realm: dict[str, Any]) -> None:
    """A second user is never created for a known email, and nothing links without proof from that address."""
    flows = {flow["alias"]: flow for flow in realm["authenticationFlows"]}
    for idp in realm["identityProviders"]:
        assert idp["firstBrokerLoginFlowAlias"] in flows
    authenticators = [
        execution.get("authenticator")
        for flow in realm["authenticationFlows"]
        for execution in flow["authenticationExecutions"]
    ]
    assert "idp-create-user-if-unique" in authenticators  # a new email: a new user
    assert "idp-email-verification" in authenticators  # a known email: a link clicked in that inbox
    assert "idp-auto-link" not in authenticators
