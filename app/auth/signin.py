"""The two halves of a sign-in in this browser session, as authlib's Flask client names them.

``authorize_redirect`` sends the resident to the provider and remembers the sign-in under its ``state``;
``authorize_access_token`` takes the callback, checks that state once, and completes the code exchange.
Several tabs may sign in at once; each pending sign-in is kept server-side (the session) for a while.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import redirect, session
from werkzeug.wrappers import Response

from app.auth.errors import OidcError, SignInExpired
from app.auth.oidc import OidcClient, SignInResult

#: How long a sign-in started at the provider may take before its state is forgotten.
PENDING_TTL = 15 * 60
#: How many sign-ins (browser tabs) may be under way at once in one session.
PENDING_MAX = 5
_KEY = "oidc_pending"
#: What a page asking for a re-authentication keeps for after it (a form's values): the session key it writes
#: before sending the resident to sign in, and where the callback puts it back in the renewed session.
CARRY_KEY = "reauth_carry"


@dataclass(frozen=True)
class CompletedSignIn:
    """The validated result of the callback and where the resident was going."""

    result: SignInResult
    next_target: str
    #: True when the sign-in was a re-authentication (``prompt=login`` with ``max_age``).
    reauth: bool = False
    #: What the page that asked for the re-authentication kept (``CARRY_KEY``), for the renewed session.
    carry: dict[str, Any] | None = None


def authorize_redirect(
    client: OidcClient,
    redirect_uri: str,
    *,
    next_target: str,
    extra: Mapping[str, str] | None = None,
    reauth: bool = False,
    carry: Mapping[str, Any] | None = None,
) -> Response:
    """Redirect to the provider's authorization endpoint and remember this sign-in (and ``carry``) until its
    callback."""
    request = client.begin(redirect_uri, extra)
    now = int(time.time())
    waiting: dict[str, Any] = {
        state: entry for state, entry in session.get(_KEY, {}).items() if now - entry.get("at", 0) < PENDING_TTL
    }
    while len(waiting) >= PENDING_MAX:
        waiting.pop(min(waiting, key=lambda s: waiting[s]["at"]))
    waiting[request.state] = {
        "nonce": request.nonce,
        "verifier": request.code_verifier,
        "next": next_target,
        "at": now,
        "reauth": reauth,
    }
    if carry:
        waiting[request.state]["carry"] = dict(carry)
    session[_KEY] = waiting
    return redirect(request.url)


def authorize_access_token(client: OidcClient, params: Mapping[str, str], redirect_uri: str) -> CompletedSignIn:
    """Complete the sign-in named by the callback's ``state`` (used once): RFC 9207 ``iss``, code, ID token.

    Raises SignInExpired for an unknown, used or expired state and another OidcError for the rest.
    """
    state = params.get("state", "")
    entry = None
    if state and state in session.get(_KEY, {}):
        # Written back only when a pending sign-in was used: a stray callback must not create a session row.
        waiting = dict(session[_KEY])
        entry = waiting.pop(state)
        session[_KEY] = waiting
    if entry is None or int(time.time()) - entry.get("at", 0) >= PENDING_TTL:
        raise SignInExpired("unknown, used or expired state")
    client.check_response_issuer(params)
    error = params.get("error")
    if error:
        raise OidcError(f"provider answered error={error[:60]!r}")
    code = params.get("code")
    if not code:
        raise OidcError("callback without code")
    result = client.finish(code, entry["nonce"], entry["verifier"], redirect_uri)
    carry = entry.get("carry")
    return CompletedSignIn(
        result=result,
        next_target=str(entry.get("next") or ""),
        reauth=bool(entry.get("reauth")),
        carry=carry if isinstance(carry, dict) else None,
    )
