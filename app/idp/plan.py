"""Compare the rendered realm with a live Keycloak, and make the live one match.

Each resource is read and written through its own Admin REST endpoint: ``PUT /admin/realms/{realm}``
ignores clients, roles and users, and ``partialImport`` with OVERWRITE deletes and re-creates (new client
secrets, lost links). Only keys the file sets are compared, so Keycloak's own defaults are not drift.
Nothing here deletes users, sessions or resources the file does not name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote

from app.idp.admin import MASKED, AdminError, KeycloakAdmin

#: Realm keys that have their own endpoints (or are created only with the realm).
NOT_REALM_SETTINGS = {
    "clients",
    "roles",
    "identityProviders",
    "identityProviderMappers",
    "users",
    "groups",
    "components",
    "authenticationFlows",
    "authenticatorConfig",
    "defaultRole",
    "clientScopes",
    "requiredActions",
}
PROFILE_COMPONENT = "org.keycloak.userprofile.UserProfileProvider"
SECRET_CONFIG_KEYS = ("clientSecret", "p8Content", "password")


@dataclass
class Change:
    """One resource: created, updated (with the fields that differ) or unchanged."""

    action: str  # "create" | "update" | "unchanged"
    resource: str
    details: list[str] = field(default_factory=list)
    apply: Callable[[], Any] | None = None

    def render(self) -> str:
        """The plan line(s) for this change, terraform style."""
        mark = {"create": "+", "update": "~", "unchanged": " "}[self.action]
        lines = [f"  {mark} {self.resource}" + ("" if self.action != "unchanged" else " (no changes)")]
        lines += [f"      {detail}" for detail in self.details]
        return "\n".join(lines)


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def differences(desired: Any, live: Any, path: str = "") -> list[str]:
    """Field-level differences for the keys ``desired`` sets (lists of scalars compare as sets)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [f"{path or '.'}: {_short(live)} -> {_short(desired)}"]
        found: list[str] = []
        for key, value in desired.items():
            found += differences(value, live.get(key), f"{path}.{key}" if path else key)
        return found
    scalars = isinstance(desired, list) and all(not isinstance(v, (dict, list)) for v in desired)
    if scalars and isinstance(live, list) and sorted(map(str, desired)) == sorted(map(str, live)):
        return []
    if desired == MASKED or live == MASKED and isinstance(desired, str):
        return []  # stored secrets are masked by Keycloak: not comparable, not drift
    if desired != live:
        return [f"{path}: {_short(live)} -> {_short(desired)}"]
    return []


def _without_secrets(config: dict[str, Any], rotate: bool) -> dict[str, Any]:
    if rotate:
        return dict(config)
    return {k: (MASKED if k in SECRET_CONFIG_KEYS else v) for k, v in config.items()}


def _user_profile(realm: dict[str, Any]) -> dict[str, Any] | None:
    try:
        return dict(json.loads(realm["components"][PROFILE_COMPONENT][0]["config"]["kc.user.profile.config"][0]))
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def plan(admin: KeycloakAdmin, realm: dict[str, Any], *, rotate_secrets: bool = False) -> list[Change]:
    """Read the live realm and return the changes that would make it match ``realm``."""
    name = realm["realm"]
    live = admin.call("GET", "", ok404=True)
    if live is None:
        summary = [
            f"{len(realm.get('clients') or [])} client(s), "
            f"{len((realm.get('roles') or {}).get('realm') or [])} role(s), "
            f"{len(realm.get('identityProviders') or [])} identity provider(s), "
            f"{len(realm.get('authenticationFlows') or [])} flow(s), user profile"
        ]
        return [
            Change("create", f"realm {name}", summary, lambda: admin.call_absolute("POST", "/admin/realms", json=realm))
        ]

    changes: list[Change] = []
    settings = {k: v for k, v in realm.items() if k not in NOT_REALM_SETTINGS}
    if "smtpServer" in settings and not rotate_secrets:
        settings["smtpServer"] = _without_secrets(settings["smtpServer"], False)
    diff = differences(settings, live)
    changes.append(
        Change("update" if diff else "unchanged", "realm settings", diff, lambda: admin.call("PUT", "", json=settings))
    )
    changes += _role_changes(admin, realm)
    for client in realm.get("clients") or []:
        changes += _client_changes(admin, client, rotate_secrets)
    flows = {f.get("alias") for f in admin.call("GET", "/authentication/flows") or []}
    for idp in realm.get("identityProviders") or []:
        changes.append(_idp_change(admin, idp, rotate_secrets, flows))
    profile = _user_profile(realm)
    if profile is not None:
        current = admin.call("GET", "/users/profile") or {}
        diff = differences(profile, current)
        changes.append(
            Change(
                "update" if diff else "unchanged",
                "user profile",
                diff,
                lambda: admin.call("PUT", "/users/profile", json=profile),
            )
        )
    return changes


def _role_changes(admin: KeycloakAdmin, realm: dict[str, Any]) -> list[Change]:
    changes = []
    for role in (realm.get("roles") or {}).get("realm") or []:
        live = admin.call("GET", f"/roles/{quote(role['name'])}", ok404=True)
        if live is None:
            changes.append(
                Change(
                    "create",
                    f"realm role {role['name']}",
                    [],
                    partial(admin.call, "POST", "/roles", json=role),
                )
            )
            continue
        diff = differences(role, live)
        changes.append(
            Change(
                "update" if diff else "unchanged",
                f"realm role {role['name']}",
                diff,
                partial(admin.call, "PUT", f"/roles/{quote(role['name'])}", json=role),
            )
        )
    wanted = ((realm.get("defaultRole") or {}).get("composites") or {}).get("realm") or []
    default_name = f"default-roles-{realm['realm']}"
    composites = admin.call("GET", f"/roles/{quote(default_name)}/composites/realm", ok404=True) or []
    missing = [r for r in wanted if r not in {c.get("name") for c in composites}]

    def add_defaults() -> None:
        bodies = [admin.call("GET", f"/roles/{quote(r)}") for r in missing]
        admin.call("POST", f"/roles/{quote(default_name)}/composites", json=bodies)

    changes.append(
        Change(
            "update" if missing else "unchanged",
            "default roles",
            [f"add {', '.join(missing)}"] if missing else [],
            add_defaults,
        )
    )
    return changes


def _keep(live: dict[str, Any]) -> dict[str, Any]:
    """The live client without its secret, so that an update never overwrites the stored one."""
    return {k: v for k, v in live.items() if k != "secret"}


def _client_changes(admin: KeycloakAdmin, client: dict[str, Any], rotate: bool) -> list[Change]:
    client_id = client["clientId"]
    found = admin.call("GET", f"/clients?clientId={quote(client_id)}") or []
    mappers = client.get("protocolMappers") or []
    if not found:
        return [
            Change(
                "create",
                f"client {client_id}",
                [f"with {len(mappers)} protocol mapper(s)"],
                lambda: admin.call("POST", "/clients", json=client),
            )
        ]
    live = found[0]
    uuid = live["id"]
    body = {k: v for k, v in client.items() if k != "protocolMappers" and (rotate or k != "secret")}
    diff = differences(body, live)
    if rotate and "secret" in body:
        diff.append("secret: (secret rotated)")
    changes = [
        Change(
            "update" if diff else "unchanged",
            f"client {client_id}",
            diff,
            lambda: admin.call("PUT", f"/clients/{uuid}", json={**_keep(live), **body}),
        )
    ]
    live_mappers = {m.get("name"): m for m in admin.call("GET", f"/clients/{uuid}/protocol-mappers/models") or []}
    for mapper in mappers:
        current = live_mappers.get(mapper["name"])
        label = f"client {client_id} mapper {mapper['name']!r}"
        if current is None:
            changes.append(
                Change(
                    "create",
                    label,
                    [],
                    partial(admin.call, "POST", f"/clients/{uuid}/protocol-mappers/models", json=mapper),
                )
            )
            continue
        diff = differences(mapper, current)
        changes.append(
            Change(
                "update" if diff else "unchanged",
                label,
                diff,
                partial(
                    admin.call,
                    "PUT",
                    f"/clients/{uuid}/protocol-mappers/models/{current['id']}",
                    json={**mapper, "id": current["id"]},
                ),
            )
        )
    return changes


def _idp_change(admin: KeycloakAdmin, idp: dict[str, Any], rotate: bool, flows: set[Any]) -> Change:
    alias = idp["alias"]
    flow = idp.get("firstBrokerLoginFlowAlias")
    if flow and flow not in flows:
        raise AdminError(
            f"identity provider {alias!r} uses first-login flow {flow!r}, which the live realm lacks; "
            "flows are created with the realm (import) - create it in the admin console from idp_config/README.md"
        )
    live = admin.call("GET", f"/identity-provider/instances/{quote(alias)}", ok404=True)
    if live is None:
        return Change(
            "create",
            f"identity provider {alias}",
            [],
            lambda: admin.call("POST", "/identity-provider/instances", json=idp),
        )
    body = {**idp, "config": _without_secrets(idp.get("config") or {}, rotate)}
    diff = differences(body, live)
    if rotate:
        diff += [f"config.{key}: (secret rotated)" for key in SECRET_CONFIG_KEYS if key in body["config"]]
    return Change(
        "update" if diff else "unchanged",
        f"identity provider {alias}",
        diff,
        lambda: admin.call(
            "PUT",
            f"/identity-provider/instances/{quote(alias)}",
            json={**live, **body, "internalId": live.get("internalId")},
        ),
    )


def apply(changes: list[Change]) -> list[Change]:
    """Carry out every create and update, in plan order; return the ones applied."""
    done = []
    for change in changes:
        if change.action != "unchanged" and change.apply is not None:
            change.apply()
            done.append(change)
    return done


def unlock(admin: KeycloakAdmin, email: str) -> str:
    """Clear the brute-force lockout of the user with ``email``; return the user's id."""
    users = admin.call("GET", f"/users?email={quote(email)}&exact=true") or []
    matches = [u for u in users if str(u.get("email", "")).lower() == email.lower()]
    if not matches:
        raise AdminError(f"no user with email {email} in realm {admin.settings.realm}")
    user_id = str(matches[0]["id"])
    admin.call("DELETE", f"/attack-detection/brute-force/users/{quote(user_id)}")
    return user_id


def ensure_users(admin: KeycloakAdmin, users: list[dict[str, Any]]) -> list[str]:
    """Create the (development) users that do not exist yet, with their realm roles; return their emails."""
    created = []
    for user in users:
        email = user["email"]
        if admin.call("GET", f"/users?email={quote(email)}&exact=true"):
            continue
        roles = user.get("realmRoles") or []
        admin.call("POST", "/users", json={k: v for k, v in user.items() if k != "realmRoles"})
        new_id = admin.call("GET", f"/users?email={quote(email)}&exact=true")[0]["id"]
        if roles:
            bodies = [admin.call("GET", f"/roles/{quote(r)}") for r in roles]
            admin.call("POST", f"/users/{new_id}/role-mappings/realm", json=bodies)
        created.append(email)
    return created
