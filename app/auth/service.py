"""Sign-in domain functions: the local profile keyed by (issuer, sub)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import Resident


def _text(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def record_sign_in(session: Session, issuer: str, claims: Mapping[str, Any], now: datetime) -> Resident:
    """Find or create the resident for ``(issuer, sub)`` and refresh the display claims.

    Never matches by email: whoever controls an email at the provider must not inherit another profile.
    """
    resident = session.scalar(select(Resident).filter_by(issuer=issuer, subject=claims["sub"]))
    if resident is None:
        resident = Resident(issuer=issuer, subject=claims["sub"], created_at=now)
        session.add(resident)
    resident.email = _text(claims.get("email"), 320)
    resident.email_verified = claims.get("email_verified") is True
    resident.given_name = _text(claims.get("given_name"), 200)
    resident.family_name = _text(claims.get("family_name"), 200)
    resident.previous_login_at = resident.last_login_at
    resident.last_login_at = now
    session.flush()
    return resident


def roles_from_claims(claims: Mapping[str, Any], path: str) -> list[str]:
    """Read a list of role names at a dotted claim path such as ``realm_access.roles``."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if isinstance(v, str)][:50]
    return []
