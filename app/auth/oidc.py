"""The OpenID Connect relying party: authorization request, code exchange, userinfo and logout URL.

One ``OidcClient`` per app lives in ``app.extensions["oidc"]``. Discovery and keys live in its
:class:`~app.auth.provider.Provider`, token checks in its :class:`~app.auth.tokens.TokenValidator`
(shared with the back-channel logout). Every failure is an :class:`~app.auth.errors.OidcError`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT

from app.auth.errors import OidcError, TokenRejected
from app.auth.provider import USER_AGENT, Provider
from app.auth.settings import OidcSettings
from app.auth.tokens import TokenValidator

__all__ = ["AuthorizationRequest", "OidcClient", "OidcSettings", "SignInResult"]


@dataclass(frozen=True)
class AuthorizationRequest:
    """The redirect to the provider, and what must be kept until its callback."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class SignInResult:
    """A completed sign-in: validated ID-token claims (merged with userinfo) and the raw ID token."""

    claims: dict[str, Any]
    id_token: str


class OidcClient:
    """A relying party for one provider, by OpenID Connect Core, Discovery and RFC 9207."""

    def __init__(self, settings: OidcSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.provider = Provider(settings, clock)
        self.tokens = TokenValidator(settings, self.provider, clock)

    def _session(self, redirect_uri: str | None = None) -> OAuth2Session:
        secret: Any = self.settings.client_secret
        method = self.settings.auth_method
        if method == "private_key_jwt":
            secret = self.settings.private_key_pem
        session = OAuth2Session(
            client_id=self.settings.client_id,
            client_secret=secret,
            scope=self.settings.scopes,
            redirect_uri=redirect_uri,
            token_endpoint_auth_method=method,
            code_challenge_method="S256",
        )
        if method == "private_key_jwt":
            session.register_client_auth_method(PrivateKeyJWT(self.provider.metadata()["token_endpoint"]))
        session.headers["User-Agent"] = USER_AGENT
        return session

    def begin(self, redirect_uri: str, extra: Mapping[str, str] | None = None) -> AuthorizationRequest:
        """Build the authorization request (PKCE S256, state and nonce) for the redirect to the provider.

        Discovery is probed first, even when cached: no resident is sent to a provider that does not answer,
        and sign-in comes back by itself as soon as it does.
        """
        endpoint = self.provider.probe()["authorization_endpoint"]
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)
        with self._session(redirect_uri) as session:
            url, _ = session.create_authorization_url(
                endpoint, state=state, nonce=nonce, code_verifier=code_verifier, **dict(extra or {})
            )
        return AuthorizationRequest(url=url, state=state, nonce=nonce, code_verifier=code_verifier)

    def check_response_issuer(self, params: Mapping[str, str]) -> None:
        """RFC 9207: an ``iss`` in the authorization response must be ours; required if advertised."""
        iss = params.get("iss")
        if iss is None:
            if self.provider.metadata().get("authorization_response_iss_parameter_supported") is True:
                raise OidcError("authorization response lacks iss although the provider advertises it")
            return
        if iss != self.settings.issuer:
            raise OidcError(f"authorization response iss {iss!r} is not the configured issuer")

    def finish(self, code: str, pending_nonce: str, code_verifier: str, redirect_uri: str) -> SignInResult:
        """Exchange the code, validate the ID token, and check userinfo's ``sub`` against it."""
        endpoint = self.provider.metadata()["token_endpoint"]
        try:
            with self._session(redirect_uri) as session:
                token = session.fetch_token(
                    endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    timeout=self.settings.timeout,
                    allow_redirects=False,
                )
        except requests.RequestException as exc:
            raise self.provider.unavailable(f"token endpoint unreachable: {type(exc).__name__}") from None
        except AuthlibBaseError as exc:
            raise OidcError(f"token endpoint refused the code: {exc.error}") from None
        except ValueError as exc:  # a 5xx page or other non-JSON answer
            raise self.provider.unavailable(f"token endpoint answered something that is not JSON: {exc}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise TokenRejected("token response has no id_token")
        access_token = token.get("access_token")
        claims = self.tokens.validate_id_token(id_token, nonce=pending_nonce, access_token=access_token)
        userinfo_endpoint = self.provider.metadata().get("userinfo_endpoint")
        if userinfo_endpoint and isinstance(access_token, str):
            claims = {**self._userinfo(userinfo_endpoint, access_token, claims["sub"]), **claims}
        return SignInResult(claims=claims, id_token=id_token)

    def _userinfo(self, endpoint: str, access_token: str, sub: str) -> dict[str, Any]:
        try:
            response = requests.get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
                timeout=self.settings.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self.provider.unavailable(f"userinfo unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise self.provider.unavailable(f"userinfo answered HTTP {response.status_code}")
        if response.status_code != 200 or "json" not in response.headers.get("Content-Type", ""):
            raise TokenRejected(f"userinfo answered HTTP {response.status_code}")
        try:
            info = response.json()
        except ValueError:
            raise TokenRejected("userinfo is not JSON") from None
        if not isinstance(info, dict) or info.get("sub") != sub:
            raise TokenRejected("userinfo sub does not match the ID token's sub")
        return info

    def end_session_url(self, *, id_token_hint: str | None, post_logout_redirect_uri: str, state: str) -> str | None:
        """RP-Initiated Logout URL at the provider, or None if it has no end-session endpoint."""
        endpoint = self.provider.metadata().get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        params = {
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "client_id": self.settings.client_id,
            "state": state,
        }
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        separator = "&" if "?" in endpoint else "?"
        return endpoint + separator + urlencode(params)
