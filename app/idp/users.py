"""User operations in a live realm: clear a lockout, create the development users.

Unlike :mod:`app.idp.plan`, these act on people, not on the realm's configuration, and run at once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from app.idp.admin import AdminError, KeycloakAdmin


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
