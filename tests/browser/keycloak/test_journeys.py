"""Every identity journey against a real Keycloak 26.7.3, driven through Keycloak's own pages in Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask import Flask

from tests.billing.pages import load_demo
from tests.support.keycloak_stack import PASSWORDS, REALM, Stack, action_link, keycloak_sign_in, unique_email

pytestmark = [pytest.mark.keycloak, pytest.mark.browser]


def sign_in(page: Any, portal: str, email: str, password: str, *, remember: bool = False) -> None:
    """Portal ``/login`` → Keycloak's form → back on the portal's home page."""
    page.goto(f"{portal}/login")
    keycloak_sign_in(page, email, password, remember=remember)
    page.wait_for_url(f"{portal}/")


def sign_out(page: Any, portal: str) -> None:
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(rf"{re.escape(portal)}/signed-out.*"))


def register(page: Any, portal: str, email: str, *, mobile: str = "", alerts: bool = False) -> None:
    """Fill Keycloak's registration page, reached through the portal's ``/login?action=register``.

    Keycloak 26.7 asks for no password here while email verification is on: the resident chooses one after
    following the activation link, so nobody can hold an address they do not control with a password.
    """
    page.goto(f"{portal}/login?action=register")
    page.locator("#firstName").fill("Robin")
    page.locator("#lastName").fill("Newcomer")
    page.locator("#email").fill(email)
    if mobile:
        page.locator("#mobileNumber").fill(mobile)
    page.locator("#textAlertsOptIn-yes" if alerts else "#textAlertsOptIn-no").check()
    page.locator("input[type=submit]").click()


def set_new_password(page: Any, password: str) -> None:
    """Keycloak's "update password" page (after activation or a reset link)."""
    page.locator("#password-new").fill(password)
    page.locator("#password-confirm").fill(password)
    page.locator("input[type=submit], button[type=submit]").first.click()


def user(stack: Stack, email: str) -> dict[str, Any]:
    users = stack.admin().call("GET", f"/users?email={email}&exact=true") or []
    assert len(users) == 1, users
    return dict(users[0])


# --- 1. the realm import ---------------------------------------------------------------------------


def test_realm_imports_into_stock_keycloak_without_warnings(stack: Stack) -> None:
    log = stack.keycloak.log_text()
    assert f"Realm '{REALM}' imported" in log
    assert "Import finished successfully" in log
    warnings = [line for line in log.splitlines() if " WARN " in line or " ERROR " in line]
    about_realm = [line for line in warnings if REALM in line or "realm" in line.lower() or "import" in line.lower()]
    assert about_realm == [], "\n".join(about_realm)
    discovery = requests.get(f"{stack.keycloak.issuer}/.well-known/openid-configuration", timeout=5).json()
    assert discovery["issuer"] == stack.keycloak.issuer
    assert "create" in discovery["prompt_values_supported"]  # registration is on


# --- 2. sign-up and activation ---------------------------------------------------------------------


def test_sign_up_activation_email_and_linking(
    stack: Stack, portal: str, page: Any, make_app: Callable[..., Flask]
) -> None:
    load_demo(make_app(), accounts=10)  # the portal's database: accounts 100001 / 2000001 and more
    email = unique_email("newcomer")
    register(page, portal, email, mobile="(555) 010-0199", alerts=True)
    page.get_by_text("You need to verify your email address").wait_for()
    assert page.locator("#password").count() == 0
    created = user(stack, email)
    assert created["emailVerified"] is False
    assert created["firstName"] == "Robin" and created["lastName"] == "Newcomer"
    assert created["attributes"]["mobileNumber"] == ["(555) 010-0199"]
    assert created["attributes"]["textAlertsOptIn"] == ["yes"]

    message = stack.mailpit.wait_for(email, "verify email")
    page.goto(action_link(message))
    set_new_password(page, "A-long-new-password-42")
    page.wait_for_url(f"{portal}/")
    assert user(stack, email)["emailVerified"] is True
    assert "Check your email to activate your account" not in page.content()

    page.goto(f"{portal}/accounts/link")
    page.get_by_label("What is the account number?").fill("100001")
    page.get_by_label("What is the customer ID?").fill("2000001")
    page.get_by_role("button", name="Link account").click()
    page.wait_for_url(re.compile(rf"{re.escape(portal)}/.*"))
    assert "100001" in page.content() and "linked" in page.content().lower()


def test_unactivated_resident_is_stopped_by_keycloak(stack: Stack, portal: str, page: Any) -> None:
    """With verifyEmail on, Keycloak itself holds an unverified resident on its "verify your email" page."""
    page.goto(f"{portal}/login")
    keycloak_sign_in(page, "unverified@example.org", PASSWORDS["unverified@example.org"])
    page.get_by_text("You need to verify your email address").wait_for()
    assert urlsplit(page.url).port == stack.keycloak.ports.http
    page.goto(f"{portal}/accounts/link")
    assert urlsplit(page.url).path in ("/sign-in", "/login") or "Sign in" in page.content()


# --- 3. sign-in, remember me, reset password ------------------------------------------------------


def test_sign_in_with_remember_me_keeps_keycloak_session(stack: Stack, portal: str, page: Any) -> None:
    sign_in(page, portal, "resident@example.org", PASSWORDS["resident@example.org"], remember=True)
    cookies = {c["name"]: c for c in page.context.cookies(f"{stack.keycloak.issuer}/")}
    # "Remember me" makes Keycloak's SSO cookie persistent (an expiry), not a browser-session cookie.
    assert cookies["KEYCLOAK_IDENTITY"]["expires"] > 0
    assert cookies["KEYCLOAK_REMEMBER_ME"]["value"]


def test_forgot_password_email_sets_a_new_password(stack: Stack, portal: str, page: Any) -> None:
    email = unique_email("forgetful")
    stack.admin().call(
        "POST",
        "/users",
        json={
            "username": email,
            "email": email,
            "emailVerified": True,
            "enabled": True,
            "firstName": "For",
            "lastName": "Getful",
            "credentials": [{"type": "password", "value": "Old-password-long-1", "temporary": False}],
        },
    )
    page.goto(f"{portal}/sign-in")
    page.get_by_role("link", name=re.compile("forgot", re.I)).first.click()
    page.locator("#username").fill(email)
    page.locator("input[type=submit], button[type=submit]").first.click()
    message = stack.mailpit.wait_for(email, "reset password")
    page.goto(action_link(message))
    set_new_password(page, "New-password-long-2")
    page.wait_for_url(re.compile(rf"({re.escape(portal)}/.*|.*/realms/{REALM}/.*)"))
    # A new browser: Keycloak refuses the old password, and the new one signs this resident in to the portal.
    page.context.clear_cookies()
    page.goto(f"{portal}/login")
    keycloak_sign_in(page, email, "Old-password-long-1")
    page.locator("#input-error-username").wait_for()
    assert urlsplit(page.url).port == stack.keycloak.ports.http, "the old password still signs in"
    keycloak_sign_in(page, email, "New-password-long-2")
    page.wait_for_url(f"{portal}/")
    assert email in page.content(), "the portal's home page is not this resident's"


# --- 4. lockout and unlock ------------------------------------------------------------------------


def test_lockout_after_five_failures_then_unlock(stack: Stack, portal: str, page: Any, idp_cli: Any) -> None:
    email = unique_email("locked")
    password = "Right-password-long-1"
    stack.admin().call(
        "POST",
        "/users",
        json={
            "username": email,
            "email": email,
            "emailVerified": True,
            "enabled": True,
            "firstName": "Lock",
            "lastName": "Ed",
            "credentials": [{"type": "password", "value": password, "temporary": False}],
        },
    )
    page.goto(f"{portal}/login")
    for _ in range(5):
        keycloak_sign_in(page, email, "wrong-password-long")
        page.locator("#input-error-username").wait_for()
        page.wait_for_timeout(1100)  # slower than quickLoginCheckMilliSeconds: each one counts as a failure
    state = stack.admin().call("GET", f"/attack-detection/brute-force/users/{user(stack, email)['id']}")
    assert state["disabled"] is True, state
    keycloak_sign_in(page, email, password)
    page.wait_for_timeout(500)
    assert not page.url.startswith(portal), "a locked account signed in"

    result = idp_cli("unlock", email)
    assert result.exit_code == 0 and f"unlocked {email}" in result.output, result.output
    missing = idp_cli("unlock", "nobody@example.org")
    assert missing.exit_code == 1 and "no user with email nobody@example.org" in missing.output
    page.goto(f"{portal}/login")
    keycloak_sign_in(page, email, password)
    page.wait_for_url(f"{portal}/")


# --- 8. Spanish pages, roles -----------------------------------------------------------------------


def test_spanish_pages_and_staff_role(stack: Stack, portal: str, page: Any) -> None:
    page.goto(f"{portal}/language/es?next=/login")
    assert parse_qs(urlsplit(page.url).query).get("ui_locales") == ["es"]
    assert page.locator("html").get_attribute("lang") == "es"
    assert "Contraseña" in page.content()

    page.goto(f"{portal}/login")
    keycloak_sign_in(page, "staff@example.org", PASSWORDS["staff@example.org"])
    page.wait_for_url(f"{portal}/")
    assert page.goto(f"{portal}/staff/").status == 200


def test_resident_gets_403_at_staff_console(stack: Stack, portal: str, page: Any) -> None:
    sign_in(page, portal, "resident@example.org", PASSWORDS["resident@example.org"])
    assert page.goto(f"{portal}/staff/").status == 403


# --- 6. sign-out ends Keycloak's session too ------------------------------------------------------


def test_sign_out_ends_keycloak_session_without_id_token_in_urls(stack: Stack, portal: str, page: Any) -> None:
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    sign_in(page, portal, "resident@example.org", PASSWORDS["resident@example.org"])
    assert page.context.cookies(f"{stack.keycloak.issuer}/")  # Keycloak's SSO session
    sign_out(page, portal)
    assert "You have signed out" in page.content()
    assert [u for u in urls if "id_token_hint" in u] == [], "the ID token appeared in a URL"
    # A new sign-in asks for the password again: Keycloak's session ended too.
    page.goto(f"{portal}/login")
    page.locator("#password").wait_for()
    assert urlsplit(page.url).port == stack.keycloak.ports.http


# --- 7. back-channel logout sent by Keycloak -------------------------------------------------------


def test_staff_ending_sessions_in_keycloak_ends_the_portal_session(stack: Stack, portal: str, page: Any) -> None:
    sign_in(page, portal, "staff@example.org", PASSWORDS["staff@example.org"])
    assert page.goto(f"{portal}/account").url == f"{portal}/account"
    stack.admin().call("POST", f"/users/{user(stack, 'staff@example.org')['id']}/logout")
    page.goto(f"{portal}/account")
    assert not page.url.startswith(f"{portal}/account"), "the portal session survived Keycloak's logout"
    assert urlsplit(page.url).path in ("/sign-in", "/login") or urlsplit(page.url).port == stack.keycloak.ports.http


def test_signing_out_of_another_client_ends_the_portal_session(stack: Stack, portal: str, page: Any) -> None:
    """The resident signs out in Keycloak's own account console (another client of the realm)."""
    sign_in(page, portal, "resident@example.org", PASSWORDS["resident@example.org"])
    page.goto(f"{stack.keycloak.issuer}/protocol/openid-connect/logout?client_id=account")
    page.locator("#kc-logout").click()
    page.wait_for_load_state()
    page.goto(f"{portal}/account")
    assert not page.url.startswith(f"{portal}/account"), "the portal session survived the Keycloak sign-out"
