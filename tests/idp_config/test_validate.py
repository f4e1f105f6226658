"""``flask idp validate``: the shipped realm is valid; each broken rule is caught with its JSON path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskCliRunner

from app.idp.validate import validate
from tests.support.realm import REALM_FILE

PROFILE = "org.keycloak.userprofile.UserProfileProvider"


def _client(realm: dict[str, Any]) -> dict[str, Any]:
    return dict(realm["clients"][0])


def _idp(alias: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def get(realm: dict[str, Any]) -> dict[str, Any]:
        return next(i for i in realm["identityProviders"] if i["alias"] == alias)

    return get


def _default_role(realm: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in realm["roles"]["realm"] if r["name"] == realm["defaultRole"]["name"])


def _set_profile(realm: dict[str, Any], change: Callable[[dict[str, Any]], None]) -> None:
    holder = realm["components"][PROFILE][0]["config"]["kc.user.profile.config"]
    profile = json.loads(holder[0])
    change(profile)
    holder[0] = json.dumps(profile)


def test_shipped_realm_is_valid(runner: FlaskCliRunner) -> None:
    assert validate(REALM_FILE.read_text()) == []
    result = runner.invoke(args=["idp", "validate"])
    assert result.exit_code == 0 and "valid for Keycloak 26.7" in result.output


BROKEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown-realm-key", lambda r: r.update(userProfile={}), "$.userProfile: unknown key"),
    ("unknown-client-key", lambda r: r["clients"][0].update(loginTheme="x"), "$.clients[0].loginTheme: unknown key"),
    (
        "unknown-idp-key",
        lambda r: r["identityProviders"][0].update(hideOnLoginPage=True),
        "$.identityProviders[0].hideOnLoginPage: unknown key",
    ),
    (
        "non-string-attribute",
        lambda r: r["clients"][0]["attributes"].update({"backchannel.logout.session.required": True}),
        "must be a JSON string",
    ),
    ("bad-enum", lambda r: r.update(bruteForceStrategy="EXPONENTIAL"), "$.bruteForceStrategy: must be one of"),
    (
        "wildcard-redirect",
        lambda r: r["clients"][0].update(redirectUris=["${PORTAL_BASE_URL}/*"]),
        "$.clients[0].redirectUris: must be exactly",
    ),
    (
        "other-base-redirect",
        lambda r: r["clients"][0].update(redirectUris=["https://evil.example/auth/callback"]),
        "$.clients[0].redirectUris",
    ),
    ("web-origins-wildcard", lambda r: r["clients"][0].update(webOrigins=["*"]), "$.clients[0].webOrigins"),
    (
        "no-pkce",
        lambda r: r["clients"][0]["attributes"].pop("pkce.code.challenge.method"),
        "pkce.code.challenge.method: must be 'S256'",
    ),
    (
        "plain-pkce",
        lambda r: r["clients"][0]["attributes"].update({"pkce.code.challenge.method": "plain"}),
        "pkce.code.challenge.method",
    ),
    ("implicit-flow", lambda r: r["clients"][0].update(implicitFlowEnabled=True), "implicitFlowEnabled"),
    ("direct-grants", lambda r: r["clients"][0].update(directAccessGrantsEnabled=True), "directAccessGrantsEnabled"),
    ("public-client", lambda r: r["clients"][0].update(publicClient=True), "publicClient"),
    ("consent", lambda r: r["clients"][0].update(consentRequired=True), "consentRequired"),
    (
        "backchannel-url",
        lambda r: r["clients"][0]["attributes"].update({"backchannel.logout.url": "${PORTAL_BASE_URL}/x"}),
        "backchannel.logout.url",
    ),
    (
        "backchannel-session",
        lambda r: r["clients"][0]["attributes"].update({"backchannel.logout.session.required": "false"}),
        "backchannel.logout.session.required",
    ),
    (
        "post-logout",
        lambda r: r["clients"][0]["attributes"].update({"post.logout.redirect.uris": "+"}),
        "post.logout.redirect.uris",
    ),
    ("literal-client-secret", lambda r: r["clients"][0].update(secret="hunter2hunter2"), "$.clients[0].secret"),
    ("no-roles-mapper", lambda r: r["clients"][0].update(protocolMappers=[]), "protocolMappers"),
    (
        "roles-claim-elsewhere",
        lambda r: r["clients"][0]["protocolMappers"][0]["config"].update({"claim.name": "roles"}),
        "protocolMappers",
    ),
    (
        "roles-not-a-list",
        lambda r: r["clients"][0]["protocolMappers"][0]["config"].update({"multivalued": "false"}),
        "protocolMappers",
    ),
    ("service-account", lambda r: r["clients"][0].update(serviceAccountsEnabled=True), "serviceAccountsEnabled"),
    ("front-channel-logout", lambda r: r["clients"][0].update(frontchannelLogout=True), "frontchannelLogout"),
    ("verify-email-off", lambda r: r.update(verifyEmail=False), "$.verifyEmail: must be true"),
    ("brute-force-off", lambda r: r.update(bruteForceProtected=False), "$.bruteForceProtected: must be true"),
    ("registration-off", lambda r: r.update(registrationAllowed=False), "$.registrationAllowed"),
    ("email-as-username-off", lambda r: r.update(registrationEmailAsUsername=False), "registrationEmailAsUsername"),
    ("reset-off", lambda r: r.update(resetPasswordAllowed=False), "$.resetPasswordAllowed"),
    ("remember-me-off", lambda r: r.update(rememberMe=False), "$.rememberMe"),
    ("no-spanish", lambda r: r.update(supportedLocales=["en"]), "$.supportedLocales"),
    ("short-passwords", lambda r: r.update(passwordPolicy="length(6)"), "$.passwordPolicy"),
    ("composition-rules", lambda r: r.update(passwordPolicy="length(12) and upperCase(1)"), "upperCase"),
    ("no-smtp", lambda r: r.update(smtpServer={}), "$.smtpServer.host"),
    ("literal-smtp-password", lambda r: r["smtpServer"].update(password="p4ssw0rd"), "$.smtpServer.password"),
    ("no-staff-role", lambda r: r["roles"].update(realm=[{"name": "resident"}]), "'staff' role"),
    (
        "resident-not-default",
        lambda r: _default_role(r)["composites"].update(realm=["offline_access"]),
        "composites.realm: must include 'resident'",
    ),
    (
        "default-role-not-declared",
        lambda r: r["roles"].update(realm=[x for x in r["roles"]["realm"] if x is not _default_role(r)]),
        "must declare the default role 'default-roles-${KC_REALM:citizens}'",
    ),
    (
        "default-composites-only-under-defaultRole",
        lambda r: r["defaultRole"].update(composites={"realm": ["resident"]}),
        "$.defaultRole.composites: Keycloak's import ignores composites here",
    ),
    (
        "composite-not-there-at-import",
        lambda r: _default_role(r)["composites"]["realm"].append("uma_authorization"),
        "'uma_authorization' does not exist when Keycloak imports roles",
    ),
    (
        "auto-link-with-self-registration",
        lambda r: r["authenticationFlows"][2]["authenticationExecutions"][0].update(authenticator="idp-auto-link"),
        "$.authenticationFlows[2].authenticationExecutions[0].authenticator: idp-auto-link",
    ),
    (
        "google-without-secret",
        lambda r: _idp("google")(r)["config"].pop("clientSecret"),
        "google is enabled, so clientSecret",
    ),
    ("apple-without-key", lambda r: _idp("apple")(r)["config"].pop("p8Content"), "apple is enabled, so p8Content"),
    ("literal-idp-secret", lambda r: _idp("facebook")(r)["config"].update(clientSecret="abc"), "facebook is enabled"),
    ("untrusted-email", lambda r: _idp("microsoft")(r).update(trustEmail=False), "trustEmail"),
    (
        "unknown-first-login-flow",
        lambda r: _idp("google")(r).update(firstBrokerLoginFlowAlias="nope"),
        "firstBrokerLoginFlowAlias",
    ),
    (
        "missing-provider",
        lambda r: r.update(identityProviders=[i for i in r["identityProviders"] if i["alias"] != "facebook"]),
        "'facebook' identity provider",
    ),
    (
        "optional-last-name",
        lambda r: _set_profile(
            r, lambda p: next(a for a in p["attributes"] if a["name"] == "lastName").pop("required")
        ),
        "attributes[lastName]: must be required",
    ),
    (
        "no-mobile-number",
        lambda r: _set_profile(
            r, lambda p: p.update(attributes=[a for a in p["attributes"] if a["name"] != "mobileNumber"])
        ),
        "mobileNumber",
    ),
    (
        "bad-profile-key",
        lambda r: _set_profile(r, lambda p: p.update(unmanagedAttributePolicy="DISABLED")),
        "unmanagedAttributePolicy: must be one of",
    ),
]


@pytest.mark.parametrize(("change", "expected"), [pytest.param(c, e, id=i) for i, c, e in BROKEN])
def test_each_broken_rule_is_caught(
    realm: dict[str, Any],
    change: Callable[[dict[str, Any]], None],
    expected: str,
    runner: FlaskCliRunner,
    tmp_path: Path,
) -> None:
    change(realm)
    problems = [str(p) for p in validate(json.dumps(realm))]
    assert any(expected in p for p in problems), problems
    broken = tmp_path / "realm.json"
    broken.write_text(json.dumps(realm))
    result = runner.invoke(args=["idp", "validate", "--realm-file", str(broken)])
    assert result.exit_code == 1 and expected in result.output and "Traceback" not in result.output


def test_not_json_is_reported(tmp_path: Path, runner: FlaskCliRunner) -> None:
    bad = tmp_path / "realm.json"
    bad.write_text("{ not json")
    result = runner.invoke(args=["idp", "validate", "--realm-file", str(bad)])
    assert result.exit_code == 1 and "not valid JSON" in result.output


def test_default_realm_needs_no_provider_extension(runner: FlaskCliRunner) -> None:
    """Stock Keycloak refuses the whole file on an unknown provider id, so Apple lives in an extension file."""
    realm = json.loads(REALM_FILE.read_text())
    assert {i["providerId"] for i in realm["identityProviders"]} == {"google", "microsoft", "facebook"}
    assert validate(REALM_FILE.read_text()) == []
    result = runner.invoke(args=["idp", "validate", "--extension", "apple"])
    assert result.exit_code == 0 and "with apple: valid" in result.output, result.output


def test_unknown_extension_is_named(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["idp", "validate", "--extension", "myspace"])
    assert result.exit_code == 1 and "no realm extension 'myspace' (available: apple)" in result.output
    assert "Traceback" not in result.output
