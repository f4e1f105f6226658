"""The OpenID Connect relying party: discovery, authorization request, code exchange, ID-token validation.

One ``OidcClient`` per app lives in ``app.extensions["oidc"]``. It caches the provider's metadata and
keys in memory (a cache only: every instance can refetch them) and talks to the provider with explicit
timeouts. Every failure is one of the exceptions below, which the views turn into friendly pages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

log = logging.getLogger(__name__)

USER_AGENT = "citizen-self-service-portal"


class SignInError(Exception):
    """Sign-in failed; ``reason`` is for the log, the view chooses what the resident reads."""

    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProviderUnavailable(SignInError):
    """The provider could not be reached, timed out or answered 5xx: try again later."""

    status = 503


class ProviderMisconfigured(SignInError):
    """The provider answered, but with something the portal must not trust (e.g. a different issuer)."""

    status = 502


class TokenRejected(SignInError):
    """An ID token (or userinfo answer) failed validation."""

    status = 502


@dataclass(frozen=True)
class OidcSettings:
    """Plain settings for the relying party, built from the app's settings (``app.auth.oidc_settings``)."""

    issuer: str
    client_id: str
    client_secret: str | None
    auth_method: str
    private_key_pem: str | None
    scopes: str
    algorithms: tuple[str, ...]
    trusted_audiences: tuple[str, ...]
    timeout: float
    clock_skew: int
    max_token_age: int
    metadata_ttl: int


@dataclass(frozen=True)
class PendingSignIn:
    """What the portal remembers between the redirect to the provider and the callback."""

    url: str
    state: str
    nonce: str
    code_verifier: str


@dataclass(frozen=True)
class SignInResult:
    """A completed sign-in: validated ID-token claims (merged with userinfo) and the raw ID token."""

    claims: dict[str, Any]
    id_token: str


@dataclass
class _Cache:
    metadata: dict[str, Any] | None = None
    metadata_at: float = 0.0
    keys: KeySet | None = None
    #: When a call to the provider last failed as unavailable; cleared by the next good discovery fetch.
    down_since: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def _b64url_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def unverified_header(token: str) -> dict[str, Any]:
    """Read a compact JWS header without trusting it (to pick the key and check ``alg``)."""
    try:
        parts = token.split(".")
        if len(parts) != 3:
            raise ValueError("not a compact JWS")
        return _b64url_json(parts[0])
    except (ValueError, UnicodeError) as exc:
        raise TokenRejected(f"malformed token: {exc}") from None


def _at_hash(access_token: str, alg: str) -> str:
    bits = {"256": hashlib.sha256, "384": hashlib.sha384, "512": hashlib.sha512}[alg[-3:]]
    digest = bits(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


class OidcClient:
    """A relying party for one provider, by OpenID Connect Core, Discovery and RFC 9207."""

    def __init__(self, settings: OidcSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._cache = _Cache()

    # --- talking to the provider -------------------------------------------------------------------

    def _unavailable(self, reason: str) -> ProviderUnavailable:
        """Remember that the provider is down (so sign-in re-checks it) and build the exception."""
        self._cache.down_since = self._clock()
        return ProviderUnavailable(reason)

    @property
    def known_down(self) -> bool:
        """True after a call to the provider failed, until discovery answers again."""
        return self._cache.down_since is not None

    def _get_json(self, url: str, what: str) -> dict[str, Any]:
        try:
            response = requests.get(
                url,
                timeout=self.settings.timeout,
                headers={"Accept": "application/json", "User-Agent": USER_AGENT},
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise self._unavailable(f"{what} unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise self._unavailable(f"{what} answered HTTP {response.status_code}")
        if response.status_code != 200:
            raise ProviderMisconfigured(f"{what} answered HTTP {response.status_code}")
        try:
            value = response.json()
        except ValueError:
            raise self._unavailable(f"{what} did not answer JSON") from None
        if not isinstance(value, dict):
            raise ProviderMisconfigured(f"{what} is not a JSON object")
        return value

    def metadata(self, *, force: bool = False) -> dict[str, Any]:
        """The provider's discovery document, cached; refused unless its issuer is exactly ours."""
        cache = self._cache
        now = self._clock()
        if not force and cache.metadata is not None and now - cache.metadata_at < self.settings.metadata_ttl:
            return cache.metadata
        url = self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        document = self._get_json(url, "discovery")
        if document.get("issuer") != self.settings.issuer:
            raise ProviderMisconfigured(
                f"discovery issuer {document.get('issuer')!r} is not the configured {self.settings.issuer!r}"
            )
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(document.get(name), str):
                raise ProviderMisconfigured(f"discovery document lacks {name}")
        with cache.lock:
            cache.metadata, cache.metadata_at = document, now
            cache.down_since = None
        return document

    def keys(self, *, force: bool = False) -> KeySet:
        """The provider's signing keys (JWKS), cached until a token names a key we do not know."""
        cache = self._cache
        if cache.keys is not None and not force:
            return cache.keys
        document = self._get_json(self.metadata()["jwks_uri"], "JWKS")
        usable = [
            key
            for key in document.get("keys", [])
            if isinstance(key, dict) and key.get("use", "sig") == "sig" and key.get("kty") in ("RSA", "EC", "OKP")
        ]
        try:
            key_set = KeySet.import_key_set({"keys": usable})
        except (JoseError, ValueError, TypeError) as exc:
            raise ProviderMisconfigured(f"JWKS could not be read: {exc}") from None
        with cache.lock:
            cache.keys = key_set
        return key_set

    def allowed_algorithms(self) -> list[str]:
        """Algorithms both advertised by the provider and expected by the portal (never ``none``)."""
        advertised = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in self.settings.algorithms if alg in advertised and alg != "none"]

    # --- the authorization code flow ---------------------------------------------------------------

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
            session.register_client_auth_method(PrivateKeyJWT(self.metadata()["token_endpoint"]))
        session.headers["User-Agent"] = USER_AGENT
        return session

    def begin(self, redirect_uri: str, extra: Mapping[str, str] | None = None) -> PendingSignIn:
        """Build the authorization request (PKCE S256, state and nonce) for the redirect to the provider.

        While the provider is known to be down, discovery is fetched again first: no resident is sent to a
        provider that just failed, and sign-in comes back by itself as soon as discovery answers.
        """
        endpoint = self.metadata(force=self.known_down)["authorization_endpoint"]
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)
        with self._session(redirect_uri) as session:
            url, _ = session.create_authorization_url(
                endpoint, state=state, nonce=nonce, code_verifier=code_verifier, **dict(extra or {})
            )
        return PendingSignIn(url=url, state=state, nonce=nonce, code_verifier=code_verifier)

    def check_response_issuer(self, params: Mapping[str, str]) -> None:
        """RFC 9207: an ``iss`` in the authorization response must be ours; required if advertised."""
        iss = params.get("iss")
        if iss is None:
            if self.metadata().get("authorization_response_iss_parameter_supported") is True:
                raise SignInError("authorization response lacks iss although the provider advertises it")
            return
        if iss != self.settings.issuer:
            raise SignInError(f"authorization response iss {iss!r} is not the configured issuer")

    def finish(self, code: str, pending_nonce: str, code_verifier: str, redirect_uri: str) -> SignInResult:
        """Exchange the code, validate the ID token, and check userinfo's ``sub`` against it."""
        endpoint = self.metadata()["token_endpoint"]
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
            raise self._unavailable(f"token endpoint unreachable: {type(exc).__name__}") from None
        except AuthlibBaseError as exc:
            raise SignInError(f"token endpoint refused the code: {exc.error}") from None
        except ValueError as exc:  # a 5xx page or other non-JSON answer
            raise self._unavailable(f"token endpoint answered something that is not JSON: {exc}") from None
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise TokenRejected("token response has no id_token")
        claims = self.validate_id_token(id_token, nonce=pending_nonce, access_token=token.get("access_token"))
        userinfo_endpoint = self.metadata().get("userinfo_endpoint")
        access_token = token.get("access_token")
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
            raise self._unavailable(f"userinfo unreachable: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise self._unavailable(f"userinfo answered HTTP {response.status_code}")
        if response.status_code != 200 or "json" not in response.headers.get("Content-Type", ""):
            raise TokenRejected(f"userinfo answered HTTP {response.status_code}")
        try:
            info = response.json()
        except ValueError:
            raise TokenRejected("userinfo is not JSON") from None
        if not isinstance(info, dict) or info.get("sub") != sub:
            raise TokenRejected("userinfo sub does not match the ID token's sub")
        return info

    # --- ID-token validation (OpenID Connect Core 3.1.3.7) ---------------------------------------

    def verify_signature(self, token: str, *, allowed_algs: list[str] | None = None) -> dict[str, Any]:
        """Verify a JWS against the provider's keys and return its claims; refetch keys once on an unknown kid."""
        header = unverified_header(token)
        alg = header.get("alg")
        allowed = allowed_algs if allowed_algs is not None else self.allowed_algorithms()
        if not isinstance(alg, str) or alg not in allowed:
            raise TokenRejected(f"algorithm {alg!r} is not allowed (allowed: {', '.join(allowed)})")
        if "jwk" in header or "jku" in header or "x5u" in header:
            raise TokenRejected("token header names its own key")
        kid = header.get("kid")
        key = self._key_for(kid, alg)
        if key is None:
            key = self._key_for(kid, alg, refresh=True)
        if key is None:
            raise TokenRejected(f"no provider key with kid {kid!r}")
        try:
            signed = jws.deserialize_compact(token, key, algorithms=[alg])
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenRejected(f"bad signature: {type(exc).__name__}") from None
        try:
            claims = json.loads(signed.payload)
        except (TypeError, ValueError):
            raise TokenRejected("payload is not JSON") from None
        if not isinstance(claims, dict):
            raise TokenRejected("payload is not a JSON object")
        return claims

    def _key_for(self, kid: Any, alg: str, *, refresh: bool = False) -> Any:
        key_set = self.keys(force=refresh)
        candidates = [k for k in key_set if kid is None or k.kid == kid]
        if kid is None and len(candidates) != 1:
            return None
        for key in candidates:
            key_alg = key.get("alg") if hasattr(key, "get") else None
            if key_alg in (None, alg):
                return key
        return None

    def validate_id_token(self, token: str, *, nonce: str, access_token: str | None = None) -> dict[str, Any]:
        """Validate an ID token step by step as OpenID Connect Core 3.1.3.7 (errata set 2) lists it."""
        claims = self.verify_signature(token)
        self.check_standard_claims(claims)
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise TokenRejected("sub is missing")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not secrets.compare_digest(token_nonce, nonce):
            raise TokenRejected("nonce is missing or does not match")
        at_hash = claims.get("at_hash")
        if at_hash is not None and access_token is not None:
            alg = unverified_header(token)["alg"]
            if not secrets.compare_digest(str(at_hash), _at_hash(access_token, alg)):
                raise TokenRejected("at_hash does not match the access token")
        return claims

    def check_standard_claims(
        self, claims: Mapping[str, Any], *, require_exp: bool = True, max_age: int | None = None
    ) -> None:
        """Check ``iss``, ``aud``, ``azp``, ``exp`` and ``iat`` (shared by ID and logout tokens)."""
        s = self.settings
        if claims.get("iss") != s.issuer:
            raise TokenRejected(f"iss {claims.get('iss')!r} is not the configured issuer")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or s.client_id not in audiences:
            raise TokenRejected("aud does not name this client")
        untrusted = [a for a in audiences if a != s.client_id and a not in s.trusted_audiences]
        if untrusted:
            raise TokenRejected(f"aud names untrusted audiences {untrusted!r}")
        azp = claims.get("azp")
        if azp is not None and azp != s.client_id:
            raise TokenRejected(f"azp {azp!r} is not this client")
        if len(audiences) > 1 and azp is None:
            raise TokenRejected("several audiences but no azp")
        now = self._clock()
        exp, iat = claims.get("exp"), claims.get("iat")
        if exp is None and not require_exp:
            pass
        elif not isinstance(exp, (int, float)) or isinstance(exp, bool):
            raise TokenRejected("exp is missing")
        elif now > exp + s.clock_skew:
            raise TokenRejected("token has expired")
        if not isinstance(iat, (int, float)) or isinstance(iat, bool):
            raise TokenRejected("iat is missing")
        if iat > now + s.clock_skew:
            raise TokenRejected("iat is in the future")
        if iat < now - (s.max_token_age if max_age is None else max_age):
            raise TokenRejected("token was issued too long ago")

    # --- logout ------------------------------------------------------------------------------------

    def end_session_url(self, *, id_token_hint: str | None, post_logout_redirect_uri: str, state: str) -> str | None:
        """RP-Initiated Logout URL at the provider, or None if it has no end-session endpoint."""
        endpoint = self.metadata().get("end_session_endpoint")
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
