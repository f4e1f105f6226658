"""A stand-in for Keycloak's Admin REST API: exactly the paths ``flask idp`` calls, in memory, over HTTP.

Bodies are checked against the same Keycloak 26.7 field lists (unknown keys answer 400, as Keycloak's
Jackson mapper does), and the admin token is checked on every call. Secrets are masked on read where Keycloak
masks them (the client ``secret``, an identity provider's ``clientSecret``, the SMTP ``password``) and the mask
sent back keeps the stored value, as in Keycloak; other config values (the Apple ``p8Content``) are returned in
clear and stored as sent. A client ``PUT`` ignores client-scope lists, which have their own endpoints.
"""

from __future__ import annotations

import copy
import json
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from app.idp.admin import MASKED
from app.idp.plan import NOT_REALM_SETTINGS, PROFILE_COMPONENT
from app.idp.roles import default_role_name, realm_roles
from app.idp.schema import unknown_keys
from tests.support.threads import serve

R = "/admin/realms/<realm>"
RULES = [
    Rule("/realms/master/protocol/openid-connect/token", endpoint="token", methods=["POST"]),
    Rule("/admin/realms", endpoint="create_realm", methods=["POST"]),
    Rule(R, endpoint="realm", methods=["GET", "PUT"]),
    Rule(f"{R}/roles", endpoint="roles", methods=["POST"]),
    Rule(f"{R}/roles/<name>", endpoint="role", methods=["GET", "PUT"]),
    Rule(f"{R}/roles/<name>/composites/realm", endpoint="composites", methods=["GET"]),
    Rule(f"{R}/roles/<name>/composites", endpoint="add_composites", methods=["POST"]),
    Rule(f"{R}/clients", endpoint="clients", methods=["GET", "POST"]),
    Rule(f"{R}/clients/<cid>", endpoint="client", methods=["PUT"]),
    Rule(f"{R}/clients/<cid>/protocol-mappers/models", endpoint="mappers", methods=["GET", "POST"]),
    Rule(f"{R}/clients/<cid>/protocol-mappers/models/<mid>", endpoint="mapper", methods=["PUT"]),
    Rule(f"{R}/clients/<cid>/<any(default,optional):kind>-client-scopes", endpoint="client_scopes", methods=["GET"]),
    Rule(
        f"{R}/clients/<cid>/<any(default,optional):kind>-client-scopes/<sid>",
        endpoint="client_scope",
        methods=["PUT", "DELETE"],
    ),
    Rule(f"{R}/client-scopes", endpoint="scopes", methods=["GET"]),
    Rule(f"{R}/authentication/flows", endpoint="flows", methods=["GET"]),
    Rule(f"{R}/identity-provider/instances", endpoint="idps", methods=["POST"]),
    Rule(f"{R}/identity-provider/instances/<alias>", endpoint="idp", methods=["GET", "PUT"]),
    Rule(f"{R}/identity-provider/instances/<alias>/mappers", endpoint="idp_mappers", methods=["GET", "POST"]),
    Rule(f"{R}/identity-provider/instances/<alias>/mappers/<mid>", endpoint="idp_mapper", methods=["PUT"]),
    Rule(f"{R}/users/profile", endpoint="profile", methods=["GET", "PUT"]),
    Rule(f"{R}/users", endpoint="users", methods=["GET", "POST"]),
    Rule(f"{R}/users/<uid>/role-mappings/realm", endpoint="user_roles", methods=["POST"]),
    Rule(f"{R}/attack-detection/brute-force/users/<uid>", endpoint="unlock", methods=["DELETE"]),
]
IDP_MASKED = ("clientSecret",)  # Keycloak's StripSecretsUtils masks only this identity-provider config key
BUILTIN_SCOPES = ("basic", "profile", "email", "roles", "web-origins", "acr", "phone", "address", "offline_access")
SCOPE_KEYS = {"default": "defaultClientScopes", "optional": "optionalClientScopes"}
URLS = Map(RULES)


@dataclass
class StandIn:
    """In-memory Keycloak state; tests may edit it (drift) or make calls fail."""

    admin_client_id: str = "realm-admin"
    admin_client_secret: str = "admin-secret"
    realms: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail: int | None = None  # answer every admin call with this status
    calls: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    base_url: str = ""
    admin_username: str = "admin"  # the bootstrap admin, through the admin-cli client (password grant)
    admin_password: str = "admin-password"
    token_uses: int | None = None  # a token expires after this many calls (Keycloak's admin tokens live 1 min)
    logins: int = 0
    _uses: dict[str, int] = field(default_factory=dict)

    # --- helpers --------------------------------------------------------------------------------

    def _check(self, body: Any, representation: str) -> None:
        problems = unknown_keys(body, representation)
        if problems:
            raise _Bad(f"Unrecognized field: {problems[0]}")

    def _realm(self, name: str) -> dict[str, Any]:
        if name not in self.realms:
            raise NotFound()
        return self.realms[name]

    def create(self, rep: dict[str, Any]) -> None:
        """Import a realm as ``POST /admin/realms`` would."""
        name = rep["realm"]
        up = json.loads(rep["components"][PROFILE_COMPONENT][0]["config"]["kc.user.profile.config"][0])
        # As RealmManager.importRealm: offline_access exists before the file's roles, composites are wired
        # from roles.realm only (never from defaultRole), and uma_authorization is added last, as a default.
        default_name = default_role_name(rep)
        roles = {"offline_access": {"name": "offline_access", "id": str(uuid.uuid4())}}
        roles.update({r["name"]: {**r, "id": str(uuid.uuid4())} for r in realm_roles(rep)})
        default = ["offline_access"]
        for role in realm_roles(rep):
            for composite in (role.get("composites") or {}).get("realm") or []:
                if composite not in roles:
                    raise _Bad(f"Unable to find composite realm role: {composite}")
                if role["name"] == default_name and composite not in default:
                    default.append(composite)
        roles.setdefault(default_name, {"name": default_name, "id": str(uuid.uuid4()), "composite": True})
        roles.setdefault("uma_authorization", {"name": "uma_authorization", "id": str(uuid.uuid4())})
        default.append("uma_authorization")
        scopes = {scope: str(uuid.uuid4()) for scope in BUILTIN_SCOPES}
        self.realms[name] = {"scopes": scopes}
        clients = {}
        for client in rep.get("clients") or []:
            cid, stored = self._new_client(name, client)
            clients[cid] = stored
        idp_mappers: dict[str, dict[str, Any]] = {}
        for mapper in rep.get("identityProviderMappers") or []:
            mid = str(uuid.uuid4())
            idp_mappers.setdefault(mapper["identityProviderAlias"], {})[mid] = {**mapper, "id": mid}
        self.realms[name] = {
            "scopes": scopes,
            "idp_mappers": idp_mappers,
            "settings": {k: v for k, v in rep.items() if k not in NOT_REALM_SETTINGS},
            "roles": roles,
            "default": default,
            "clients": clients,
            "idps": {i["alias"]: {**i, "internalId": str(uuid.uuid4())} for i in rep.get("identityProviders") or []},
            "flows": [f["alias"] for f in rep.get("authenticationFlows") or []] + ["first broker login", "browser"],
            "profile": up,
            "users": {},
            "locked": set(),
        }

    # --- WSGI -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = URLS.bind_to_environ(environ).match()
            if endpoint != "token":
                self.calls.append(f"{request.method} {request.path}")
                token = request.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in self.tokens:
                    return Response("", 401)(environ, start_response)
                self._uses[token] = self._uses.get(token, 0) + 1
                if self.token_uses is not None and self._uses[token] >= self.token_uses:
                    self.tokens.discard(token)  # this call is the token's last
                if self.fail:
                    return Response('{"error":"boom"}', self.fail)(environ, start_response)
            result = getattr(self, f"on_{endpoint}")(request, **args)
            if isinstance(result, Response):
                response = result
            elif result is None:
                response = Response(status=204)
            else:
                response = Response(json.dumps(result), mimetype="application/json")
        except _Bad as exc:
            response = Response(json.dumps({"error": str(exc)}), 400, mimetype="application/json")
        except HTTPException as exc:
            response = Response(json.dumps({"error": exc.name}), exc.code or 500, mimetype="application/json")
        return response(environ, start_response)

    def on_token(self, request: Request) -> Any:
        form = request.form
        accepted = {
            "password": ("admin-cli", None, self.admin_username, self.admin_password),
            "client_credentials": (self.admin_client_id, self.admin_client_secret, None, None),
        }
        sent = (form.get("client_id"), form.get("client_secret"), form.get("username"), form.get("password"))
        if accepted.get(form.get("grant_type", "")) != sent:
            return Response('{"error":"invalid_client"}', 401, mimetype="application/json")
        self.logins += 1
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return {"access_token": token, "token_type": "Bearer", "expires_in": 60}

    def on_create_realm(self, request: Request) -> Any:
        rep = request.get_json()
        self._check(rep, "RealmRepresentation")
        if rep["realm"] in self.realms:
            return Response("", 409)
        self.create(rep)
        return Response(status=201)

    def on_realm(self, request: Request, realm: str) -> Any:
        state = self._realm(realm)
        if request.method == "GET":
            rep = {**copy.deepcopy(state["settings"]), "realm": realm}
            if (rep.get("smtpServer") or {}).get("password"):
                rep["smtpServer"]["password"] = MASKED
            return rep
        body = request.get_json()
        self._check(body, "RealmRepresentation")
        smtp = body.get("smtpServer") or {}
        if smtp.get("password") == MASKED:
            smtp["password"] = (state["settings"].get("smtpServer") or {}).get("password")
        state["settings"].update({k: v for k, v in body.items() if k not in NOT_REALM_SETTINGS})
        return None

    def on_roles(self, request: Request, realm: str) -> Any:
        body = request.get_json()
        self._check(body, "RoleRepresentation")
        self._realm(realm)["roles"][body["name"]] = {**body, "id": str(uuid.uuid4())}
        return Response(status=201)

    def on_role(self, request: Request, realm: str, name: str) -> Any:
        roles = self._realm(realm)["roles"]
        if name not in roles:
            raise NotFound()
        if request.method == "GET":
            return roles[name]
        body = request.get_json()
        self._check(body, "RoleRepresentation")
        roles[name].update(body)
        return None

    def on_composites(self, request: Request, realm: str, name: str) -> Any:
        state = self._realm(realm)
        return [state["roles"][r] for r in state["default"] if r in state["roles"]]

    def on_add_composites(self, request: Request, realm: str, name: str) -> Any:
        state = self._realm(realm)
        for role in request.get_json():
            if role["name"] not in state["default"]:
                state["default"].append(role["name"])
        return None

    def _new_client(self, realm: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        cid = str(uuid.uuid4())
        body = dict(body)
        mappers = {str(uuid.uuid4()): m for m in body.pop("protocolMappers", None) or []}
        scopes = {
            kind: set(body.pop(key, None) or (["basic", "profile", "email"] if kind == "default" else []))
            for kind, key in SCOPE_KEYS.items()
        }
        for names in scopes.values():
            if names - set(self.realms[realm]["scopes"]):
                raise _Bad(f"unknown client scope(s) {sorted(names)}")
        return cid, {
            "rep": {**body, "id": cid},
            "mappers": {k: {**m, "id": k} for k, m in mappers.items()},
            "scopes": scopes,
        }

    def _client_view(self, client: dict[str, Any]) -> dict[str, Any]:
        rep = copy.deepcopy(client["rep"])
        if "secret" in rep:
            rep["secret"] = MASKED
        rep["protocolMappers"] = list(client["mappers"].values())
        return {**rep, **{key: sorted(client["scopes"][kind]) for kind, key in SCOPE_KEYS.items()}}

    def on_clients(self, request: Request, realm: str) -> Any:
        clients = self._realm(realm)["clients"]
        if request.method == "GET":
            wanted = request.args.get("clientId")
            return [self._client_view(c) for c in clients.values() if c["rep"].get("clientId") == wanted]
        body = request.get_json()
        self._check(body, "ClientRepresentation")
        cid, stored = self._new_client(realm, body)
        clients[cid] = stored
        return Response(status=201)

    def on_client(self, request: Request, realm: str, cid: str) -> Any:
        body = request.get_json()
        self._check(body, "ClientRepresentation")
        client = self._realm(realm)["clients"][cid]
        if body.get("secret") == MASKED:
            body["secret"] = client["rep"].get("secret")
        for key in ("protocolMappers", *SCOPE_KEYS.values()):
            body.pop(key, None)  # Keycloak's client update leaves mappers and scope assignments alone
        client["rep"].update(body)
        return None

    def on_client_scopes(self, request: Request, realm: str, cid: str, kind: str) -> Any:
        state = self._realm(realm)
        names = state["clients"][cid]["scopes"][kind]
        return [{"id": state["scopes"][name], "name": name} for name in sorted(names)]

    def on_client_scope(self, request: Request, realm: str, cid: str, kind: str, sid: str) -> Any:
        state = self._realm(realm)
        name = next((n for n, i in state["scopes"].items() if i == sid), None)
        if name is None:
            raise NotFound()
        names = state["clients"][cid]["scopes"][kind]
        if request.method == "PUT":
            names.add(name)
        else:
            names.discard(name)
        return None

    def on_scopes(self, request: Request, realm: str) -> Any:
        return [{"id": i, "name": n, "protocol": "openid-connect"} for n, i in self._realm(realm)["scopes"].items()]

    def on_mappers(self, request: Request, realm: str, cid: str) -> Any:
        mappers = self._realm(realm)["clients"][cid]["mappers"]
        if request.method == "GET":
            return list(mappers.values())
        body = request.get_json()
        self._check(body, "ProtocolMapperRepresentation")
        mid = str(uuid.uuid4())
        mappers[mid] = {**body, "id": mid}
        return Response(status=201)

    def on_mapper(self, request: Request, realm: str, cid: str, mid: str) -> Any:
        body = request.get_json()
        self._check(body, "ProtocolMapperRepresentation")
        self._realm(realm)["clients"][cid]["mappers"][mid] = body
        return None

    def on_flows(self, request: Request, realm: str) -> Any:
        return [{"alias": alias, "id": str(uuid.uuid4())} for alias in self._realm(realm)["flows"]]

    def on_idps(self, request: Request, realm: str) -> Any:
        body = request.get_json()
        self._check(body, "IdentityProviderRepresentation")
        self._realm(realm)["idps"][body["alias"]] = {**body, "internalId": str(uuid.uuid4())}
        return Response(status=201)

    def on_idp(self, request: Request, realm: str, alias: str) -> Any:
        idps = self._realm(realm)["idps"]
        if alias not in idps:
            raise NotFound()
        if request.method == "GET":
            rep = copy.deepcopy(idps[alias])
            rep["config"] = {k: (MASKED if k in IDP_MASKED else v) for k, v in rep.get("config", {}).items()}
            return rep
        body = request.get_json()
        self._check(body, "IdentityProviderRepresentation")
        stored = idps[alias]["config"]
        config = body.get("config", {})
        body["config"] = {k: (stored.get(k) if v == MASKED and k in IDP_MASKED else v) for k, v in config.items()}
        idps[alias] = body
        return None

    def on_idp_mappers(self, request: Request, realm: str, alias: str) -> Any:
        state = self._realm(realm)
        if alias not in state["idps"]:
            raise NotFound()
        mappers = state["idp_mappers"].setdefault(alias, {})
        if request.method == "GET":
            return list(mappers.values())
        body = request.get_json()
        self._check(body, "IdentityProviderMapperRepresentation")
        mid = str(uuid.uuid4())
        mappers[mid] = {**body, "id": mid}
        return Response(status=201)

    def on_idp_mapper(self, request: Request, realm: str, alias: str, mid: str) -> Any:
        body = request.get_json()
        self._check(body, "IdentityProviderMapperRepresentation")
        mappers = self._realm(realm)["idp_mappers"].get(alias) or {}
        if mid not in mappers:
            raise NotFound()
        mappers[mid] = body
        return None

    def on_profile(self, request: Request, realm: str) -> Any:
        state = self._realm(realm)
        if request.method == "GET":
            return state["profile"]
        body = request.get_json()
        self._check(body, "UPConfig")
        state["profile"] = body
        return None

    def on_users(self, request: Request, realm: str) -> Any:
        users = self._realm(realm)["users"]
        if request.method == "GET":
            email = request.args.get("email", "").lower()
            return [u for u in users.values() if u.get("email", "").lower() == email]
        body = request.get_json()
        self._check(body, "UserRepresentation")
        uid = str(uuid.uuid4())
        users[uid] = {**body, "id": uid, "realmRoles": []}
        return Response(status=201)

    def on_user_roles(self, request: Request, realm: str, uid: str) -> Any:
        self._realm(realm)["users"][uid]["realmRoles"] += [r["name"] for r in request.get_json()]
        return None

    def on_unlock(self, request: Request, realm: str, uid: str) -> Any:
        self._realm(realm)["locked"].discard(uid)
        return None


class _Bad(Exception):
    """A 400 answer."""


@contextmanager
def serving(standin: StandIn) -> Iterator[StandIn]:
    """Serve ``standin`` on a free localhost port for the duration of the block."""
    with serve(standin) as url:
        standin.base_url = url
        yield standin
