"""Validation of the JWTs the provider signs: ID tokens (OpenID Connect Core 3.1.3.7, errata set 2) and
back-channel logout tokens (Back-Channel Logout 1.0, section 2.6), which share signature and claim checks.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

from authlib.oidc.core.util import create_half_hash
from joserfc import jws
from joserfc.errors import JoseError

from app.auth.errors import TokenRejected
from app.auth.models import SID_LENGTH, SUBJECT_LENGTH
from app.auth.provider import Provider
from app.auth.settings import OidcSettings

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: ``typ`` values accepted: the spec's explicit type, and plain JWT (Keycloak before 25, RP-ISSUES 17).
LOGOUT_TYPES = (None, "JWT", "logout+jwt", "application/logout+jwt")


def unverified_header(token: str) -> dict[str, Any]:
    """Read a compact JWS header without trusting it (to pick the key and check ``alg``)."""
    try:
        return dict(jws.extract_compact(token.encode("ascii")).headers())
    except (JoseError, ValueError, UnicodeError) as exc:
        raise TokenRejected(f"malformed token: {type(exc).__name__}") from None


def at_hash_matches(at_hash: Any, access_token: str, alg: str) -> bool:
    """OpenID Connect Core 3.1.3.8: ``at_hash`` is the left half of the access token's hash for ``alg``."""
    expected = create_half_hash(access_token, alg)
    return isinstance(at_hash, str) and expected is not None and secrets.compare_digest(at_hash.encode(), expected)


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


class TokenValidator:
    """Checks tokens signed by one provider for one client."""

    def __init__(self, settings: OidcSettings, provider: Provider, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.provider = provider
        self._clock = clock

    def verify_signature(self, token: str) -> dict[str, Any]:
        """Verify a JWS against the provider's keys and return its claims (only advertised, expected algs)."""
        header = unverified_header(token)
        alg = header.get("alg")
        allowed = self.provider.allowed_algorithms()
        if not isinstance(alg, str) or alg not in allowed:
            raise TokenRejected(f"algorithm {alg!r} is not allowed (allowed: {', '.join(allowed)})")
        if "jwk" in header or "jku" in header or "x5u" in header:
            raise TokenRejected("token header names its own key")
        kid = header.get("kid")
        key = self.provider.key_for(kid, alg)
        if key is None:
            raise TokenRejected(f"no provider key with kid {str(kid)[:80]!r}")
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

    def check_standard_claims(
        self, claims: Mapping[str, Any], *, require_exp: bool = True, max_age: int | None = None
    ) -> None:
        """Check ``iss``, ``aud``, ``azp``, ``exp``, ``nbf``, ``iat``, and ``sub``/``sid`` fit our columns."""
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
        exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
        if exp is None and not require_exp:
            pass
        elif not _is_number(exp):
            raise TokenRejected("exp is missing")
        elif now > exp + s.clock_skew:
            raise TokenRejected("token has expired")
        if nbf is not None and (not _is_number(nbf) or nbf > now + s.clock_skew):
            raise TokenRejected("token is not valid yet (nbf)")  # RFC 7519 4.1.5
        if not _is_number(iat):
            raise TokenRejected("iat is missing")
        if iat > now + s.clock_skew:
            raise TokenRejected("iat is in the future")
        if iat < now - (s.max_token_age if max_age is None else max_age):
            raise TokenRejected("token was issued too long ago")
        # Longer values cannot be stored (or matched) in our columns: refuse them here, not with a database error.
        for name, limit in (("sub", SUBJECT_LENGTH), ("sid", SID_LENGTH)):
            value = claims.get(name)
            if isinstance(value, str) and len(value) > limit:
                raise TokenRejected(f"{name} is longer than {limit} characters")

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
            if not at_hash_matches(at_hash, access_token, alg):
                raise TokenRejected("at_hash does not match the access token")
        return claims

    def validate_logout_token(self, token: str, *, max_age: int) -> dict[str, Any]:
        """Validate a logout token (Back-Channel Logout 1.0, section 2.6) and return its claims."""
        header = unverified_header(token)
        if header.get("typ") not in LOGOUT_TYPES:
            raise TokenRejected(f"typ {header.get('typ')!r} is not a logout token type")
        claims = self.verify_signature(token)
        self.check_standard_claims(claims, require_exp=False, max_age=max_age)
        events = claims.get("events")
        if not isinstance(events, Mapping) or not isinstance(events.get(LOGOUT_EVENT), Mapping):
            raise TokenRejected("events lacks the back-channel logout event")
        sid, sub = claims.get("sid"), claims.get("sub")
        if sid is None and sub is None:
            raise TokenRejected("neither sid nor sub is present")
        if (sid is not None and not isinstance(sid, str)) or (sub is not None and not isinstance(sub, str)):
            raise TokenRejected("sid and sub must be strings")
        if "nonce" in claims:
            raise TokenRejected("a logout token must not contain a nonce")
        if not isinstance(claims.get("jti"), str) or not claims["jti"]:
            raise TokenRejected("jti is missing")
        return claims
