"""Compare the rendered realm with a live Keycloak, and make the live one match.

Each resource is read and written through its own Admin REST endpoint: ``PUT /admin/realms/{realm}``
ignores clients, roles and users, and ``partialImport`` with OVERWRITE deletes and re-creates (new client
secrets, lost links). Only keys the file sets are compared, so Keycloak's own defaults are not drift.
Nothing here deletes users, sessions or resources the file does not name; the only removals are a client's
default/optional client-scope assignments that the file does not list.

Secrets: Keycloak answers ``**********`` for the client secret, identity providers' ``clientSecret`` and the
SMTP password, and keeps the stored value when that mask is sent back. Secrets are therefore written when a
resource is created, and on updates only with ``rotate_secrets``; otherwise they are neither compared nor
changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any
from urllib.parse import quote

from app.idp.admin import MASKED, AdminError, KeycloakAdmin
from app.idp.roles import default_role_composites, default_role_name, realm_roles

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
#: Identity-provider config keys that hold secrets; Keycloak masks (and restores) only ``clientSecret``.
SECRET_CONFIG_KEYS = ("clientSecret", "p8Content")
KEYCLOAK_MASKS = ("clientSecret",)
CLIENT_SCOPE_KINDS = {"defaultClientScopes": "default-client-scopes", "optionalClientScopes": "optional-client-scopes"}


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


def _named(items: Any) -> bool:
    return (
        isinstance(items, list)
        and bool(items)
        and all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items)
    )


def differences(desired: Any, live: Any, path: str = "") -> list[str]:
    """Field-level differences for the keys ``desired`` sets, as ``path: live -> desired`` lines.

    Lists of scalars compare as sets; lists of objects with a ``name`` (user-profile attributes and groups)
    compare by name and order, then each object by the keys the file sets. An empty string in the file
    matches an absent key, because Keycloak 26.7 stores an empty ``smtpServer.user`` as no key at all.
    """
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return [f"{path or '.'}: {_short(live)} -> {_short(desired)}"]
        found: list[str] = []
        for key, value in desired.items():
            found += differences(value, live.get(key), f"{path}.{key}" if path else key)
        return found
    if _named(desired) and isinstance(live, list) and all(isinstance(item, dict) for item in live):
        wanted = [item["name"] for item in desired]
        present = [item.get("name") for item in live]
        found = [] if wanted == present else [f"{path} (names): {_short(present)} -> {_short(wanted)}"]
        by_name = {item.get("name"): item for item in live}
        for item in desired:
            if item["name"] in by_name:
                found += differences(item, by_name[item["name"]], f"{path}[{item['name']}]")
        return found
    scalars = isinstance(desired, list) and all(not isinstance(v, (dict, list)) for v in desired)
    if scalars and isinstance(live, list) and sorted(map(str, desired)) == sorted(map(str, live)):
        return []
    if desired == MASKED or (live == MASKED and isinstance(desired, str)):
        return []  # stored secrets are masked by Keycloak: not comparable, not drift
    if desired == "" and live is None:
        return []  # Keycloak drops empty strings on update (e.g. smtpServer.user): absent is the same
    if desired != live:
        return [f"{path}: {_short(live)} -> {_short(desired)}"]
    return []


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
            f"{len(realm.get('authenticationFlows') or [])} flow(s), user profile; secrets written"
        ]
        return [
            Change("create", f"realm {name}", summary, lambda: admin.call_absolute("POST", "/admin/realms", json=realm))
        ]

    changes = [_settings_change(admin, realm, live, rotate_secrets)]
    changes += _role_changes(admin, realm)
    for client in realm.get("clients") or []:
        changes += _client_changes(admin, client, rotate_secrets)
    flows = {f.get("alias") for f in admin.call("GET", "/authentication/flows") or []}
    for idp in realm.get("identityProviders") or []:
        change = _idp_change(admin, idp, rotate_secrets, flows)
        changes.append(change)
        mappers = [
            m for m in realm.get("identityProviderMappers") or [] if m.get("identityProviderAlias") == idp["alias"]
        ]
        changes += _idp_mapper_changes(admin, idp["alias"], mappers, exists=change.action != "create")
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


def _settings_change(admin: KeycloakAdmin, realm: dict[str, Any], live: dict[str, Any], rotate: bool) -> Change:
    """Realm-level keys only, through ``PUT /admin/realms/{realm}``; the SMTP password only when rotating."""
    settings = {k: v for k, v in realm.items() if k not in NOT_REALM_SETTINGS}
    compared = dict(settings)
    rotated: list[str] = []
    if isinstance(settings.get("smtpServer"), dict) and "password" in settings["smtpServer"]:
        smtp = dict(settings["smtpServer"])
        compared["smtpServer"] = {k: v for k, v in smtp.items() if k != "password"}
        if rotate:
            rotated.append("smtpServer.password: (secret rotated)")
        else:
            smtp["password"] = MASKED  # Keycloak keeps the stored password when it receives the mask
        settings["smtpServer"] = smtp
    diff = differences(compared, live) + rotated
    return Change(
        "update" if diff else "unchanged", "realm settings", diff, lambda: admin.call("PUT", "", json=settings)
    )


def _role_changes(admin: KeycloakAdmin, realm: dict[str, Any]) -> list[Change]:
    changes = []
    default_name = default_role_name(realm)
    for role in realm_roles(realm):
        if role["name"] == default_name:
            continue  # Keycloak's own role: only its composites are managed, below
        live = admin.call("GET", f"/roles/{quote(role['name'])}", ok404=True)
        changes.append(_create_or_update(admin, f"realm role {role['name']}", role, live, "/roles", key="name"))
    wanted = default_role_composites(realm)
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


def _client_changes(admin: KeycloakAdmin, client: dict[str, Any], rotate: bool) -> list[Change]:
    client_id = client["clientId"]
    found = admin.call("GET", f"/clients?clientId={quote(client_id)}") or []
    mappers = client.get("protocolMappers") or []
    if not found:
        return [
            Change(
                "create",
                f"client {client_id}",
                [f"with {len(mappers)} protocol mapper(s); secret written"],
                lambda: admin.call("POST", "/clients", json=client),
            )
        ]
    live = found[0]
    uuid = live["id"]
    separate = {"protocolMappers", "secret", *CLIENT_SCOPE_KINDS}
    body = {k: v for k, v in client.items() if k not in separate}
    diff = differences(body, live)
    kept = {k: v for k, v in live.items() if k not in ("secret", "protocolMappers", *CLIENT_SCOPE_KINDS)}
    if rotate and "secret" in client:
        body["secret"] = client["secret"]
        diff.append("secret: (secret rotated)")
    changes = [
        Change(
            "update" if diff else "unchanged",
            f"client {client_id}",
            diff,
            lambda: admin.call("PUT", f"/clients/{uuid}", json={**kept, **body}),
        )
    ]
    changes += _client_scope_changes(admin, client, uuid)
    base = f"/clients/{uuid}/protocol-mappers/models"
    changes += _mapper_changes(admin, f"client {client_id}", mappers, admin.call("GET", base) or [], base)
    return changes


def _client_scope_changes(admin: KeycloakAdmin, client: dict[str, Any], uuid: str) -> list[Change]:
    """Default and optional client scopes: ``PUT|DELETE /clients/{id}/<kind>/{scopeId}`` (a client PUT ignores them)."""
    changes: list[Change] = []
    scope_ids: dict[str, str] | None = None
    for key, kind in CLIENT_SCOPE_KINDS.items():
        if key not in client:
            continue
        wanted = list(client[key])
        present = {s.get("name"): s.get("id") for s in admin.call("GET", f"/clients/{uuid}/{kind}") or []}
        add = [name for name in wanted if name not in present]
        remove = sorted(str(name) for name in present if name not in wanted)
        if add and scope_ids is None:
            scope_ids = {s.get("name"): s.get("id") for s in admin.call("GET", "/client-scopes") or []}
        unknown = [name for name in add if name not in (scope_ids or {})]
        if unknown:
            raise AdminError(
                f"client {client['clientId']}: client scope(s) {', '.join(unknown)} missing in the live realm"
            )
        calls: list[Callable[[], Any]] = [
            partial(admin.call, "PUT", f"/clients/{uuid}/{kind}/{(scope_ids or {})[n]}") for n in add
        ]
        calls += [partial(admin.call, "DELETE", f"/clients/{uuid}/{kind}/{present[n]}") for n in remove]
        details = ([f"add {', '.join(add)}"] if add else []) + ([f"remove {', '.join(remove)}"] if remove else [])

        def run(calls: list[Callable[[], Any]] = calls) -> None:
            for call in calls:
                call()

        changes.append(
            Change("update" if details else "unchanged", f"client {client['clientId']} {kind}", details, run)
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
            ["secret written"],
            lambda: admin.call("POST", "/identity-provider/instances", json=idp),
        )
    config = dict(idp.get("config") or {})
    live_config = dict(live.get("config") or {})
    compared = {**idp, "config": {k: v for k, v in config.items() if k not in SECRET_CONFIG_KEYS}}
    diff = differences(compared, live)
    sent = dict(config)
    if rotate:
        diff += [f"config.{key}: (secret rotated)" for key in SECRET_CONFIG_KEYS if key in config]
    else:
        for key in SECRET_CONFIG_KEYS:
            if key not in config:
                continue
            if key in KEYCLOAK_MASKS:
                sent[key] = MASKED  # Keycloak restores the stored value
            elif key in live_config and live_config[key] != MASKED:
                sent[key] = live_config[key]  # returned in clear: send back what is stored
    body = {**live, **idp, "config": {**live_config, **sent}, "internalId": live.get("internalId")}
    return Change(
        "update" if diff else "unchanged",
        f"identity provider {alias}",
        diff,
        lambda: admin.call("PUT", f"/identity-provider/instances/{quote(alias)}", json=body),
    )


def _idp_mapper_changes(
    admin: KeycloakAdmin, alias: str, mappers: list[dict[str, Any]], *, exists: bool
) -> list[Change]:
    """The file's mappers of one identity provider, matched by name."""
    base = f"/identity-provider/instances/{quote(alias)}/mappers"
    live = (admin.call("GET", base) or []) if exists and mappers else []
    return _mapper_changes(admin, f"identity provider {alias}", mappers, live, base)


def _mapper_changes(
    admin: KeycloakAdmin, owner: str, mappers: list[dict[str, Any]], live: list[dict[str, Any]], base: str
) -> list[Change]:
    """The file's mappers of a client or an identity provider, matched by name with the ``live`` ones at ``base``."""
    by_name = {m.get("name"): m for m in live}
    return [
        _create_or_update(
            admin, f"{owner} mapper {mapper['name']!r}", mapper, by_name.get(mapper["name"]), base, key="id"
        )
        for mapper in mappers
    ]


def _create_or_update(
    admin: KeycloakAdmin, label: str, desired: dict[str, Any], live: dict[str, Any] | None, base: str, *, key: str
) -> Change:
    """Create ``desired`` with ``POST base`` when ``live`` is missing, else update it at ``base/{live[key]}``.

    The update sends the file's representation with the live ``key`` (a mapper's id, a role's name), and
    is planned only when a key the file sets differs.
    """
    if live is None:
        return Change("create", label, [], partial(admin.call, "POST", base, json=desired))
    diff = differences(desired, live)
    return Change(
        "update" if diff else "unchanged",
        label,
        diff,
        partial(admin.call, "PUT", f"{base}/{quote(str(live[key]))}", json={**desired, key: live[key]}),
    )


def apply(changes: list[Change]) -> list[Change]:
    """Carry out every create and update, in plan order; return the ones applied."""
    done = []
    for change in changes:
        if change.action != "unchanged" and change.apply is not None:
            change.apply()
            done.append(change)
    return done
