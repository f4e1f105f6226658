"""OpenID Connect Back-Channel Logout 1.0: the provider tells us a resident signed out elsewhere.

The logout token is validated as section 2.6 requires; then every portal session with that provider
``sid`` (or, with only ``sub``, every session of that resident) ends, in every worker and instance,
because sessions live in the database.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from app.auth import bp, oidc_client
from app.auth.errors import OidcError
from app.auth.models import Resident, SeenLogoutToken
from app.auth.sessions import end_sessions
from app.core.clock import utcnow
from app.core.config import get_settings
from app.database.db import db
from app.web.forms import csrf

log = logging.getLogger(__name__)


def accept_logout(issuer: str, claims: Mapping[str, Any], *, keep_jti_until: datetime) -> int | None:
    """Record the token's ``jti`` and end the sessions it names, in one transaction.

    Returns how many sessions ended, or None when the ``jti`` was seen before (a replay). Sessions end by
    ``sid`` when the token has one, else every session of the resident ``(iss, sub)``. Because both happen
    together, a failure leaves neither behind: the provider may deliver the same token again.
    """
    key = hashlib.sha256(f"{issuer}\n{claims['jti']}".encode()).hexdigest()
    seen = SeenLogoutToken.__table__
    try:
        with db.engine.begin() as conn:
            conn.execute(delete(seen).where(seen.c.expires_at < utcnow()))
            conn.execute(insert(seen).values(jti_hash=key, expires_at=keep_jti_until))
            if claims.get("sid"):
                return end_sessions(provider_sid=claims["sid"], conn=conn)
            resident_ids = conn.scalars(
                select(Resident.id).where(Resident.issuer == issuer, Resident.subject == claims["sub"])
            ).all()
            return sum(end_sessions(resident_id=resident_id, conn=conn) for resident_id in resident_ids)
    except IntegrityError:
        return None


def _error(description: str) -> ResponseReturnValue:
    response = jsonify(error="invalid_request", error_description=description)
    response.status_code = 400
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/auth/backchannel-logout")
@csrf.exempt
def backchannel_logout() -> ResponseReturnValue:
    """Receive a logout token from the provider and end the sessions it names."""
    token = request.form.get("logout_token")
    if not token or len(token) > 16384:
        return _error("logout_token is missing")
    client = oidc_client()
    max_age = get_settings().logout_token_max_age
    try:
        claims = client.tokens.validate_logout_token(token, max_age=max_age)
    except OidcError as exc:
        log.warning("back-channel logout refused: %s", exc.reason)
        status_description = "the provider is unavailable" if exc.status == 503 else "invalid logout token"
        return _error(status_description)
    keep_until = utcnow() + timedelta(seconds=max_age + 2 * client.settings.clock_skew)
    ended = accept_logout(client.settings.issuer, claims, keep_jti_until=keep_until)
    if ended is None:
        log.warning("back-channel logout refused: jti replayed")
        return _error("logout token was already used")
    log.info("back-channel logout ended %s session(s)", ended)
    response = current_app.response_class(status=200)
    response.headers["Cache-Control"] = "no-store"
    return response
