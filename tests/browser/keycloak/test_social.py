"""Social sign-in through ``kc_idp_hint``: a second realm stands in for the upstream provider under ``apple``.

Stock Keycloak has no Apple provider, so the alias is free: the test registers it as a generic OpenID
Connect provider pointing at the ``upstream`` realm, with the realm file's own first-login flow.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.keycloak_stack import REALM, Stack, action_link, keycloak_sign_in, unique_email

pytestmark = [pytest.mark.keycloak, pytest.mark.browser]

ALIAS = "apple"
UPSTREAM = "upstream"
UPSTREAM_PASSWORD = "Upstream-password-1"


@pytest.fixture(scope="module")
def upstream(stack: Stack) -> Iterator[str]:
    """The ``upstream`` realm and, in the portal's realm, an identity provider ``apple`` that brokers to it."""
    admin = stack.admin()
    secret = secrets.token_urlsafe(16)
    base = f"{stack.keycloak.url}/realms/{UPSTREAM}"
    admin.call_absolute(
        "POST",
        "/admin/realms",
        json={
            "realm": UPSTREAM,
            "enabled": True,
            "sslRequired": "none",
            "clients": [
                {
                    "clientId": "citizens-broker",
                    "secret": secret,
                    "publicClient": False,
                    "standardFlowEnabled": True,
                    "redirectUris": [f"{stack.keycloak.url}/realms/{REALM}/broker/{ALIAS}/endpoint"],
                }
            ],
        },
    )
    admin.call(
        "POST",
        "/identity-provider/instances",
        json={
            "alias": ALIAS,
            "displayName": "Apple (stand-in)",
            "providerId": "oidc",
            "enabled": True,
            "trustEmail": True,
            "firstBrokerLoginFlowAlias": "first broker login link by verified email",
            "config": {
                "issuer": base,
                "authorizationUrl": f"{base}/protocol/openid-connect/auth",
                "tokenUrl": f"{base}/protocol/openid-connect/token",
                "userInfoUrl": f"{base}/protocol/openid-connect/userinfo",
                "jwksUrl": f"{base}/protocol/openid-connect/certs",
                "logoutUrl": f"{base}/protocol/openid-connect/logout",
                "useJwksUrl": "true",
                "validateSignature": "true",
                "clientId": "citizens-broker",
                "clientSecret": secret,
                "clientAuthMethod": "client_secret_post",
                "defaultScope": "openid email profile",
                "syncMode": "IMPORT",
                "pkceEnabled": "true",
                "pkceMethod": "S256",
            },
        },
    )
    yield ALIAS
    admin.call("DELETE", f"/identity-provider/instances/{ALIAS}")
    admin.call_absolute("DELETE", f"/admin/realms/{UPSTREAM}")


def upstream_user(stack: Stack, email: str) -> None:
    stack.admin(UPSTREAM).call(
        "POST",
        "/users",
        json={
            "username": email,
            "email": email,
            "emailVerified": True,
            "enabled": True,
            "firstName": "Sam",
            "lastName": "Social",
            "credentials": [{"type": "password", "value": UPSTREAM_PASSWORD, "temporary": False}],
        },
    )


def users_with(stack: Stack, email: str) -> list[dict[str, Any]]:
    return list(stack.admin().call("GET", f"/users?email={email}&exact=true") or [])


def links_of(stack: Stack, user_id: str) -> list[str]:
    return [link["identityProvider"] for link in stack.admin().call("GET", f"/users/{user_id}/federated-identity")]


def test_first_broker_login_creates_the_user(stack: Stack, upstream: str, portal: str, page: Any) -> None:
    email = unique_email("social")
    upstream_user(stack, email)
    page.goto(f"{portal}/login?idp={upstream}")
    assert f"/realms/{UPSTREAM}/" in page.url  # kc_idp_hint skipped the portal realm's login page
    keycloak_sign_in(page, email, UPSTREAM_PASSWORD)
    page.wait_for_url(f"{portal}/")
    [created] = users_with(stack, email)
    assert created["emailVerified"] is True  # trustEmail
    assert links_of(stack, created["id"]) == [upstream]


def test_same_email_as_an_account_asks_to_confirm_never_merges(
    stack: Stack, upstream: str, portal: str, page: Any
) -> None:
    email = unique_email("existing")
    stack.admin().call(
        "POST",
        "/users",
        json={
            "username": email,
            "email": email,
            "emailVerified": True,
            "enabled": True,
            "firstName": "Ex",
            "lastName": "Isting",
            "credentials": [{"type": "password", "value": "Existing-password-1", "temporary": False}],
        },
    )
    [existing] = users_with(stack, email)
    upstream_user(stack, email)

    page.goto(f"{portal}/login?idp={upstream}")
    keycloak_sign_in(page, email, UPSTREAM_PASSWORD)
    page.get_by_text("email with instructions to link", exact=False).wait_for()
    assert not page.url.startswith(portal)
    assert links_of(stack, existing["id"]) == []  # nothing linked on the provider's word
    assert len(users_with(stack, email)) == 1  # and no second account

    message = stack.mailpit.wait_for(email, "link")
    page.goto(action_link(message))
    page.wait_for_url(f"{portal}/", timeout=20000)
    assert [u["id"] for u in users_with(stack, email)] == [existing["id"]]
    assert links_of(stack, existing["id"]) == [upstream]
