"""A small Keycloak Admin REST client (requests, explicit timeouts, one clear error per failure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

MASKED = "**********"  # what Keycloak returns instead of a stored secret


class AdminError(Exception):
    """Keycloak could not be reached or refused a call; the message says which and why."""


@dataclass(frozen=True)
class AdminSettings:
    """How to reach and authenticate to Keycloak's Admin REST API."""

    base_url: str
    realm: str
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0


class KeycloakAdmin:
    """Admin REST calls for one realm, authenticated through the master realm."""

    def __init__(self, settings: AdminSettings) -> None:
        self.settings = settings
        self.http = requests.Session()
        self._token: str | None = None

    def _login(self) -> str:
        """An admin access token from the master realm (client credentials, else the admin user's password)."""
        s = self.settings
        if s.client_id and s.client_secret:
            form = {"grant_type": "client_credentials", "client_id": s.client_id, "client_secret": s.client_secret}
        elif s.username and s.password:
            form = {"grant_type": "password", "client_id": "admin-cli", "username": s.username, "password": s.password}
        else:
            raise AdminError(
                "no admin credentials: set KEYCLOAK_ADMIN_CLIENT_ID and KEYCLOAK_ADMIN_CLIENT_SECRET, "
                "or KEYCLOAK_ADMIN_USERNAME and KEYCLOAK_ADMIN_PASSWORD"
            )
        url = f"{s.base_url.rstrip('/')}/realms/master/protocol/openid-connect/token"
        response = self._send("POST", url, data=form, authenticated=False)
        try:
            body = response.json() if response.content else {}
        except ValueError:
            body = {}
        token = body.get("access_token") if isinstance(body, dict) else None
        if response.status_code >= 400 or not isinstance(token, str):
            reason = body.get("error_description") or body.get("error") if isinstance(body, dict) else None
            raise AdminError(
                f"Keycloak's master-realm token endpoint gave no admin token (HTTP {response.status_code}"
                + (f": {reason})" if reason else ")")
            )
        return token

    def _send(self, method: str, url: str, *, authenticated: bool = True, **kwargs: Any) -> requests.Response:
        """One HTTP call with an explicit timeout; transport errors, 401, 403 and 5xx become :class:`AdminError`."""
        headers = {"Accept": "application/json"}
        fresh = False
        if authenticated:
            if self._token is None:
                self._token, fresh = self._login(), True
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = self.http.request(method, url, headers=headers, timeout=self.settings.timeout, **kwargs)
        except requests.Timeout:
            raise AdminError(
                f"Keycloak at {self.settings.base_url} did not answer within {self.settings.timeout:g} s "
                "(KEYCLOAK_TIMEOUT)"
            ) from None
        except requests.RequestException as exc:
            raise AdminError(f"cannot reach Keycloak at {self.settings.base_url}: {type(exc).__name__}") from None
        if response.status_code == 401 and authenticated and not fresh:
            self._token = None  # admin tokens live one minute by default: log in again, once
            return self._send(method, url, authenticated=True, **kwargs)
        where = f"{method} {url.removeprefix(self.settings.base_url.rstrip('/'))}"
        if response.status_code == 401:
            raise AdminError(f"Keycloak refused the admin credentials (401) for {where}")
        if response.status_code == 403:
            raise AdminError(f"the admin account may not do this (403 Forbidden): {where}")
        if response.status_code >= 500:
            raise AdminError(f"Keycloak failed with HTTP {response.status_code} for {where}; try again later")
        return response

    def call(self, method: str, path: str, *, json: Any = None, ok404: bool = False) -> Any:
        """Call ``/admin/realms/{realm}{path}``; None for a 404 when ``ok404``."""
        return self.call_absolute(method, f"/admin/realms/{quote(self.settings.realm)}{path}", json=json, ok404=ok404)

    def call_absolute(self, method: str, path: str, *, json: Any = None, ok404: bool = False) -> Any:
        """Call an Admin REST path under the base URL."""
        response = self._send(method, self.settings.base_url.rstrip("/") + path, json=json)
        if response.status_code == 404 and ok404:
            return None
        if response.status_code == 404:
            raise AdminError(f"not found (404): {method} {path} - is the realm name right ({self.settings.realm})?")
        if response.status_code >= 400:
            detail = response.text[:300].replace("\n", " ")
            raise AdminError(f"Keycloak answered HTTP {response.status_code} for {method} {path}: {detail}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return None
