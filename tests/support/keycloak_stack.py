"""Helpers for the tests against a real Keycloak: the running stack, its test users, its sign-in form, its emails.

The fixtures that start the stack and serve the portal against it (``stack``, ``make_portal``, ``portal``,
``idp_cli``) are in ``tests/browser/keycloak/conftest.py``; fetching and running Keycloak is ``tests.support.keycloak``.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from app.idp.admin import AdminSettings, KeycloakAdmin
from tests.support import keycloak as kc

REALM = "citizens"
#: Seconds per Admin REST call: deleting a realm takes over 10 s on a busy two-core machine.
ADMIN_TIMEOUT = 60
PASSWORDS = {
    "resident@example.org": "Resident-dev-password-1",
    "unverified@example.org": "Unverified-dev-password-1",
    "staff@example.org": "Staff-dev-password-1",
}


@dataclass
class Stack:
    """The running Keycloak and Mailpit, and where the portal must listen (the realm's PORTAL_BASE_URL)."""

    keycloak: kc.Keycloak
    mailpit: kc.Mailpit
    portal_port: int
    client_secret: str
    realm_env: dict[str, str]

    @property
    def portal_url(self) -> str:
        return f"http://localhost:{self.portal_port}"

    def admin(self, realm: str = REALM) -> KeycloakAdmin:
        """An Admin REST client for ``realm`` as the bootstrap admin."""
        return KeycloakAdmin(
            AdminSettings(
                base_url=self.keycloak.url,
                realm=realm,
                username=kc.ADMIN_USERNAME,
                password=kc.ADMIN_PASSWORD,
                timeout=ADMIN_TIMEOUT,
            )
        )

    def admin_env(self) -> dict[str, str]:
        """The environment ``flask idp plan|apply|unlock`` need for this Keycloak and realm."""
        return {
            **self.realm_env,
            "KEYCLOAK_URL": self.keycloak.url,
            "KEYCLOAK_ADMIN_USERNAME": kc.ADMIN_USERNAME,
            "KEYCLOAK_ADMIN_PASSWORD": kc.ADMIN_PASSWORD,
            "KEYCLOAK_TIMEOUT": str(ADMIN_TIMEOUT),
        }


def keycloak_sign_in(page: Any, email: str, password: str, *, remember: bool = False) -> None:
    """Fill Keycloak's own sign-in form (the page must show it)."""
    page.locator("#username").fill(email)
    page.locator("#password").fill(password)
    if remember:
        page.locator("#rememberMe").check()
    page.locator("#kc-login").click()


LINK = re.compile(r"https?://[^\s\"<>]+/login-actions/action-token\?[^\s\"<>]+")


def action_link(message: dict[str, Any]) -> str:
    """The action-token link in a Keycloak email (activation, reset, account linking)."""
    match = LINK.search(str(message.get("Text") or "")) or LINK.search(str(message.get("HTML") or ""))
    assert match, f"no action link in {message.get('Subject')!r}"
    return match.group(0).replace("&amp;", "&")


def unique_email(label: str) -> str:
    """An address no earlier run has registered in the realm (Keycloak's data outlives a session)."""
    return f"{label}-{secrets.token_hex(4)}@example.org"
