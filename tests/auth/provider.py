"""A small OpenID provider of our own that can be told to misbehave, run over HTTP in a thread.

oidc-provider-mock only issues good tokens; this one signs whatever a hostile-token test asks for with
joserfc (wrong audience, wrong issuer, expired, foreign key, ``alg: none`` …), checks PKCE S256 and the
client's authentication for real, and can rotate its keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import Key, KeySet, RSAKey
from werkzeug.wrappers import Request, Response

from tests.support.threads import serve

DROP = object()  #: a claim or header value that removes the member


def b64url(data: bytes) -> str:
    """Base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_key(kid: str) -> RSAKey:
    """A fresh RSA signing key with ``kid``."""
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


@dataclass
class HostileProvider:
    """Provider state; tests change the fields between sign-ins."""

    client_id: str = "citizen-portal"
    client_secret: str = "test-client-secret"
    client_public_key: dict[str, Any] | None = None  # set for private_key_jwt
    issuer: str = ""
    signing_key: Key = field(default_factory=lambda: new_key("key-1"))
    published: list[Key] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)  # overrides; DROP removes
    header: dict[str, Any] = field(default_factory=dict)  # overrides; DROP removes
    metadata: dict[str, Any] = field(default_factory=dict)  # overrides of discovery
    userinfo: dict[str, Any] = field(default_factory=dict)
    unsigned: bool = False  # issue "alg: none" tokens
    sign_with: Key | None = None  # sign with another key than the published one
    jwks_fetches: int = 0
    #: requests for the discovery document, failed ones included
    discovery_fetches: int = 0
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    #: path -> "500" (server error), "slow" (answers after ``slow_seconds``) or "html" (a proxy error page)
    faults: dict[str, str] = field(default_factory=dict)
    slow_seconds: float = 3.0
    _codes: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.published:
            self.published = [self.signing_key]

    # --- tokens ---------------------------------------------------------------------------------

    def id_token(self, nonce: str | None, sub: str = "hostile-user") -> str:
        """Build and sign an ID token from the defaults and the test's overrides."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": self.client_id,
            "azp": self.client_id,
            "exp": now + 300,
            "iat": now,
            "nonce": nonce,
            "email": f"{sub}@example.org",
            "email_verified": True,
        }
        claims.update(self.claims)
        claims = {k: v for k, v in claims.items() if v is not DROP}
        key = self.sign_with or self.signing_key
        header: dict[str, Any] = {"alg": "RS256", "kid": key.kid, "typ": "JWT"}
        header.update(self.header)
        header = {k: v for k, v in header.items() if v is not DROP}
        if self.unsigned:
            header["alg"] = "none"
            payload = json.dumps(claims).encode()
            return f"{b64url(json.dumps(header).encode())}.{b64url(payload)}."
        if header.get("alg") == "HS256":
            from joserfc.jwk import OctKey

            return jwt.encode(header, claims, OctKey.import_key(self.client_secret))
        return jwt.encode(header, claims, key, algorithms=[header["alg"]])

    def logout_token(self, *, sub: str | None = "hostile-user", sid: str | None = None, **overrides: Any) -> str:
        """Sign a back-channel logout token; ``overrides`` change claims (DROP removes), ``header`` too."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 120,
            "jti": secrets.token_urlsafe(16),
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        }
        if sub is not None:
            claims["sub"] = sub
        if sid is not None:
            claims["sid"] = sid
        header_overrides = overrides.pop("header", {})
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not DROP}
        key = self.sign_with or self.signing_key
        header = {"alg": "RS256", "kid": key.kid, "typ": "logout+jwt", **header_overrides}
        header = {k: v for k, v in header.items() if v is not DROP}
        if header.get("alg") == "none":
            return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}."
        return jwt.encode(header, claims, key)

    # --- HTTP -----------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/.well-known/openid-configuration":
            self.discovery_fetches += 1  # answered or not
        fault = self.faults.get(request.path)
        if fault == "slow":
            time.sleep(self.slow_seconds)
        elif fault == "500":
            return Response("upstream error", status=500)(environ, start_response)
        elif fault == "html":
            return Response("<html>502 Bad Gateway</html>", status=502, mimetype="text/html")(environ, start_response)
        handler = {
            "/.well-known/openid-configuration": self._discovery,
            "/jwks": self._jwks,
            "/authorize": self._authorize,
            "/token": self._token,
            "/userinfo": self._userinfo,
        }.get(request.path)
        response = handler(request) if handler else Response("not found", status=404)
        return response(environ, start_response)

    def _json(self, value: Any, status: int = 200) -> Response:
        return Response(json.dumps(value), status=status, mimetype="application/json")

    def _discovery(self, request: Request) -> Response:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "userinfo_endpoint": f"{self.issuer}/userinfo",
            "jwks_uri": f"{self.issuer}/jwks",
            "end_session_endpoint": f"{self.issuer}/logout",
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
        }
        document.update(self.metadata)
        return self._json(document)

    def _jwks(self, request: Request) -> Response:
        self.jwks_fetches += 1
        return self._json(KeySet(list(self.published)).as_dict(private=False))

    def _authorize(self, request: Request) -> Response:
        args = request.args
        code = secrets.token_urlsafe(16)
        self._codes[code] = {
            "nonce": args.get("nonce"),
            "challenge": args.get("code_challenge"),
            "method": args.get("code_challenge_method"),
            "redirect_uri": args.get("redirect_uri"),
            "sub": args.get("login_hint") or "hostile-user",
        }
        query = urlencode({"code": code, "state": args.get("state", "")})
        return Response(status=302, headers={"Location": f"{args['redirect_uri']}?{query}"})

    def _client_ok(self, request: Request) -> bool:
        if self.client_public_key is not None:
            assertion = request.form.get("client_assertion", "")
            try:
                token = jwt.decode(assertion, RSAKey.import_key(self.client_public_key), algorithms=["RS256"])
            except Exception:
                return False
            claims = token.claims
            return (
                request.form.get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                and claims.get("iss") == self.client_id
                and claims.get("sub") == self.client_id
                and claims.get("aud") in (f"{self.issuer}/token", self.issuer)
                and claims.get("exp", 0) > time.time()
            )
        auth = request.authorization
        return auth is not None and auth.username == self.client_id and auth.password == self.client_secret

    def _token(self, request: Request) -> Response:
        self.token_requests.append(dict(request.form))
        if not self._client_ok(request):
            return self._json({"error": "invalid_client"}, 401)
        grant = self._codes.pop(request.form.get("code", ""), None)
        if grant is None:
            return self._json({"error": "invalid_grant"}, 400)
        verifier = request.form.get("code_verifier", "")
        expected = b64url(hashlib.sha256(verifier.encode()).digest())
        if grant["method"] != "S256" or grant["challenge"] != expected:
            return self._json({"error": "invalid_grant", "error_description": "PKCE failed"}, 400)
        if request.form.get("redirect_uri") != grant["redirect_uri"]:
            return self._json({"error": "invalid_grant"}, 400)
        return self._json(
            {
                "access_token": "at-" + grant["sub"],
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": self.id_token(grant["nonce"], grant["sub"]),
            }
        )

    def _userinfo(self, request: Request) -> Response:
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        if not token.startswith("at-"):
            return self._json({"error": "invalid_token"}, 401)
        return self._json({"sub": token[3:], **self.userinfo})


@contextmanager
def running(provider: HostileProvider) -> Iterator[HostileProvider]:
    """Serve ``provider`` on a free localhost port for the duration of the block."""
    with serve(provider) as url:
        provider.issuer = url
        yield provider
