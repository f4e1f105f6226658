"""Check the realm file without Keycloak: known keys only, and the rules the portal relies on."""

from __future__ import annotations

import json
import re
from typing import Any

from app.idp.placeholders import PLACEHOLDER
from app.idp.roles import BUILT_IN_BEFORE_IMPORT, default_role_composites, default_role_name, realm_roles
from app.idp.schema import Problem, unknown_keys

BASE = "${PORTAL_BASE_URL}"
PROFILE_COMPONENT = "org.keycloak.userprofile.UserProfileProvider"
SOCIAL = {
    "google": ("clientId", "clientSecret"),
    "microsoft": ("clientId", "clientSecret"),
    "facebook": ("clientId", "clientSecret"),
    "apple": ("clientId", "teamId", "keyId", "p8Content"),
}
#: Providers every realm must have; ``apple`` needs an extension (idp_config/extensions/apple.json).
REQUIRED_SOCIAL = ("google", "microsoft", "facebook")
SECRET_KEYS = re.compile(r"(?i)^(secret|clientSecret|password|p8Content|smtpPassword|credentials?)$")
WHOLE_PLACEHOLDER = re.compile(r"^\$\{[A-Z][A-Z0-9_]*(:[^}]*)?\}$")


def _is_placeholder(value: Any) -> bool:
    return isinstance(value, str) and bool(WHOLE_PLACEHOLDER.match(value))


def _literal_secrets(value: Any, path: str) -> list[Problem]:
    problems: list[Problem] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if SECRET_KEYS.match(key) and isinstance(item, str) and item and not _is_placeholder(item):
                problems.append(Problem(f"{path}.{key}", "secrets must be ${ENV} placeholders, never literal values"))
            problems.extend(_literal_secrets(item, f"{path}.{key}"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            problems.extend(_literal_secrets(item, f"{path}[{i}]"))
    return problems


def portal_client(
    realm: dict[str, Any], client_id: str = "${PORTAL_CLIENT_ID:citizen-portal}"
) -> tuple[int, dict[str, Any]] | None:
    """Index and representation of the portal's client."""
    for index, client in enumerate(realm.get("clients") or []):
        if client.get("clientId") in (client_id, "citizen-portal") or str(client.get("clientId", "")).startswith(
            "${PORTAL_CLIENT_ID"
        ):
            return index, client
    return None


#: Where the portal reads roles by default (``OIDC_ROLES_CLAIM``).
ROLES_CLAIM = "realm_access.roles"


def _client_rules(realm: dict[str, Any]) -> list[Problem]:
    found = portal_client(realm)
    if found is None:
        return [Problem("$.clients", "the portal's client (clientId ${PORTAL_CLIENT_ID:citizen-portal}) is missing")]
    index, client = found
    path = f"$.clients[{index}]"
    attributes = client.get("attributes") or {}
    expect = {
        "redirectUris": [f"{BASE}/auth/callback"],
        "webOrigins": [BASE],
    }
    problems = [
        Problem(f"{path}.{key}", f"must be exactly {value!r} (no wildcards)")
        for key, value in expect.items()
        if client.get(key) != value
    ]
    attribute_rules = {
        "pkce.code.challenge.method": "S256",
        "post.logout.redirect.uris": f"{BASE}/signed-out",
        "backchannel.logout.url": f"{BASE}/auth/backchannel-logout",
        "backchannel.logout.session.required": "true",
    }
    for key, value in attribute_rules.items():
        if attributes.get(key) != value:
            problems.append(Problem(f"{path}.attributes.{key}", f"must be {value!r}"))
    flags = {
        "publicClient": False,
        "standardFlowEnabled": True,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": False,
        "frontchannelLogout": False,
        "consentRequired": False,
    }
    for key, flag in flags.items():
        if client.get(key) is not flag:
            reason = "a confidential client: standard flow and back-channel logout only"
            problems.append(Problem(f"{path}.{key}", f"must be {json.dumps(flag)} ({reason})"))
    if not _is_placeholder(client.get("secret")):
        problems.append(Problem(f"{path}.secret", "must be a ${ENV} placeholder such as ${PORTAL_CLIENT_SECRET}"))
    mappers = client.get("protocolMappers") or []
    wanted = {"id.token.claim": "true", "claim.name": ROLES_CLAIM, "multivalued": "true"}
    if not any(
        m.get("protocolMapper") == "oidc-usermodel-realm-role-mapper"
        and all((m.get("config") or {}).get(key) == value for key, value in wanted.items())
        for m in mappers
    ):
        problems.append(
            Problem(
                f"{path}.protocolMappers",
                f"needs a realm-role mapper that puts the roles, as a list, at {ROLES_CLAIM!r} in the ID token "
                "(the portal's OIDC_ROLES_CLAIM default)",
            )
        )
    return problems


def _realm_rules(realm: dict[str, Any]) -> list[Problem]:
    required = {
        "registrationAllowed": True,
        "registrationEmailAsUsername": True,
        "loginWithEmailAllowed": True,
        "verifyEmail": True,
        "resetPasswordAllowed": True,
        "rememberMe": True,
        "bruteForceProtected": True,
        "internationalizationEnabled": True,
    }
    problems = [
        Problem(f"$.{key}", f"must be {json.dumps(value)}")
        for key, value in required.items()
        if realm.get(key) is not value
    ]
    if not {"en", "es"} <= set(realm.get("supportedLocales") or []):
        problems.append(Problem("$.supportedLocales", "must include en and es"))
    policy = str(realm.get("passwordPolicy") or "")
    length = re.search(r"length\((\d+)\)", policy)
    if not length or int(length.group(1)) < 8:
        problems.append(Problem("$.passwordPolicy", "needs length(8) or more (NIST SP 800-63B)"))
    for rule in ("upperCase", "lowerCase", "specialChars", "digits"):
        if rule in policy:
            problems.append(Problem("$.passwordPolicy", f"{rule}: NIST SP 800-63B advises against composition rules"))
    smtp = realm.get("smtpServer") or {}
    for key in ("host", "from"):
        if not smtp.get(key):
            problems.append(Problem(f"$.smtpServer.{key}", "is required for activation and reset emails"))
    roles = {role.get("name") for role in ((realm.get("roles") or {}).get("realm") or [])}
    for role in ("resident", "staff"):
        if role not in roles:
            problems.append(Problem("$.roles.realm", f"must define the {role!r} role"))
    return problems + _default_role_rules(realm)


def _default_role_rules(realm: dict[str, Any]) -> list[Problem]:
    """Keycloak's import wires composites only from ``roles.realm``, and only to roles that already exist."""
    problems: list[Problem] = []
    name = default_role_name(realm)
    if (realm.get("defaultRole") or {}).get("composites"):
        problems.append(
            Problem(
                "$.defaultRole.composites",
                f"Keycloak's import ignores composites here; list them in the roles.realm entry {name!r}",
            )
        )
    roles = realm_roles(realm)
    index = next((i for i, role in enumerate(roles) if role.get("name") == name), None)
    if index is None:
        problems.append(
            Problem("$.roles.realm", f"must declare the default role {name!r} with 'resident' in its composites")
        )
    elif "resident" not in default_role_composites(realm):
        problems.append(
            Problem(f"$.roles.realm[{index}].composites.realm", "must include 'resident' (every user is a resident)")
        )
    known = {role.get("name") for role in roles} | BUILT_IN_BEFORE_IMPORT
    for i, role in enumerate(roles):
        for j, composite in enumerate((role.get("composites") or {}).get("realm") or []):
            if composite not in known:
                problems.append(
                    Problem(
                        f"$.roles.realm[{i}].composites.realm[{j}]",
                        f"{composite!r} does not exist when Keycloak imports roles "
                        "(the import stops: 'Unable to find composite realm role')",
                    )
                )
    return problems


def _flow_rules(realm: dict[str, Any]) -> list[Problem]:
    """No automatic linking by email while anyone may register (Keycloak's own warning about idp-auto-link)."""
    if realm.get("registrationAllowed") is False:
        return []
    problems = []
    for i, flow in enumerate(realm.get("authenticationFlows") or []):
        for j, execution in enumerate(flow.get("authenticationExecutions") or []):
            if execution.get("authenticator") == "idp-auto-link":
                problems.append(
                    Problem(
                        f"$.authenticationFlows[{i}].authenticationExecutions[{j}].authenticator",
                        "idp-auto-link links without any check: with self-registration anyone could pre-register a "
                        "resident's address and get their social sign-in; use idp-email-verification",
                    )
                )
    return problems


def _identity_provider_rules(realm: dict[str, Any]) -> list[Problem]:
    problems: list[Problem] = []
    seen = set()
    for index, idp in enumerate(realm.get("identityProviders") or []):
        path = f"$.identityProviders[{index}]"
        alias = idp.get("alias")
        seen.add(alias)
        if alias not in SOCIAL:
            continue
        if idp.get("enabled") is False:
            continue
        config = idp.get("config") or {}
        for key in SOCIAL[alias]:
            if not _is_placeholder(config.get(key)):
                problems.append(
                    Problem(f"{path}.config.{key}", f"{alias} is enabled, so {key} must be an ${{ENV}} placeholder")
                )
        if idp.get("trustEmail") is not True:
            problems.append(
                Problem(f"{path}.trustEmail", "must be true so that a verified email links to the existing account")
            )
        flow = idp.get("firstBrokerLoginFlowAlias")
        flows = {f.get("alias") for f in realm.get("authenticationFlows") or []}
        if not flow or (flow not in flows and flow != "first broker login"):
            problems.append(
                Problem(f"{path}.firstBrokerLoginFlowAlias", "must name a first-login flow defined in the realm")
            )
    for alias in REQUIRED_SOCIAL:
        if alias not in seen:
            problems.append(Problem("$.identityProviders", f"the {alias!r} identity provider is missing"))
    return problems


def _user_profile_rules(realm: dict[str, Any]) -> list[Problem]:
    components = (realm.get("components") or {}).get(PROFILE_COMPONENT) or []
    path = f"$.components['{PROFILE_COMPONENT}'][0].config['kc.user.profile.config'][0]"
    try:
        raw = components[0]["config"]["kc.user.profile.config"][0]
        profile = json.loads(raw)
    except (IndexError, KeyError, TypeError, ValueError):
        return [Problem(path, "the declarative user profile (a UPConfig JSON string) is missing or not JSON")]
    problems = unknown_keys(profile, "UPConfig", path)
    attributes = {a.get("name"): a for a in profile.get("attributes") or []}
    for name in ("email", "firstName", "lastName"):
        if "user" not in ((attributes.get(name) or {}).get("required") or {}).get("roles", []):
            problems.append(Problem(f"{path}.attributes[{name}]", "must be required for users"))
    if "mobileNumber" not in attributes:
        problems.append(Problem(f"{path}.attributes", "must offer the optional mobileNumber attribute"))
    elif attributes["mobileNumber"].get("required"):
        problems.append(Problem(f"{path}.attributes[mobileNumber]", "must stay optional"))
    return problems


def validate(text: str) -> list[Problem]:
    """Every problem with the realm file's text (placeholders unrendered)."""
    try:
        realm = json.loads(text)
    except ValueError as exc:
        return [Problem("$", f"not valid JSON: {exc}")]
    if not isinstance(realm, dict):
        return [Problem("$", "must be a JSON object (a RealmRepresentation)")]
    unclosed = [m for m in re.finditer(r"\$\{[A-Z][A-Z0-9_]*(?![A-Z0-9_:}])", text)]
    problems = [Problem("$", f"unterminated placeholder near {m.group(0)!r}") for m in unclosed]
    problems += unknown_keys(realm)
    problems += _realm_rules(realm)
    problems += _client_rules(realm)
    problems += _identity_provider_rules(realm)
    problems += _flow_rules(realm)
    problems += _user_profile_rules(realm)
    problems += _literal_secrets(realm, "$")
    if not PLACEHOLDER.search(text):
        problems.append(Problem("$", "has no ${ENV} placeholders: city-specific values must not be hard-coded"))
    return problems
