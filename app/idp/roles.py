"""How Keycloak's realm import reads roles: the default role and composite roles.

``RealmManager.importRealm`` creates ``defaultRole`` with ``RepresentationToModel.createRole``, which does
not wire composites; they are attached only by the later pass over ``roles.realm[]``, and a composite naming
a role that does not exist yet stops the import ("Unable to find composite realm role"). At that point only
the file's own roles and ``offline_access`` exist; ``uma_authorization`` is added afterwards, and made a
default role by Keycloak itself.
"""

from __future__ import annotations

from typing import Any

#: Realm roles Keycloak creates before the file's roles are imported.
BUILT_IN_BEFORE_IMPORT = frozenset({"offline_access"})


def realm_roles(realm: dict[str, Any]) -> list[dict[str, Any]]:
    """The file's realm roles (``roles.realm``)."""
    return list((realm.get("roles") or {}).get("realm") or [])


def default_role_name(realm: dict[str, Any]) -> str:
    """The default role's name: ``defaultRole.name``, else Keycloak's ``default-roles-<realm>``."""
    name = (realm.get("defaultRole") or {}).get("name")
    return str(name) if name else f"default-roles-{str(realm.get('realm', '')).lower()}"


def default_role_composites(realm: dict[str, Any]) -> list[str]:
    """The realm roles every new user gets, as Keycloak's import wires them (from ``roles.realm``)."""
    name = default_role_name(realm)
    for role in realm_roles(realm):
        if role.get("name") == name:
            return [str(r) for r in ((role.get("composites") or {}).get("realm") or [])]
    return []
