"""Server-side sessions in the database.

The cookie carries only a random id; the row is keyed by its SHA-256, so a database dump does not hand
out live cookies. Rows also record the resident and the provider's ``sid``, which is what the back-channel
logout ends. Session storage uses its own short transactions, apart from the request's unit of work; each
is safe to repeat and runs once more when its connection turns out to be dead, so a view's committed answer
(its redirect and flash) is never lost to a connection that died after the commit.
"""

from __future__ import annotations

import hashlib
import random
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, Request, Response
from flask import session as flask_session
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import DBAPIError
from werkzeug.datastructures import CallbackDict

from app.auth.models import PortalSession, Resident
from app.core.clock import as_utc, utcnow
from app.database.cache import EPOCH_QUERY, remember_epoch
from app.database.commits import connection_lost
from app.database.db import db
from app.database.reads import read_engine
from app.database.retry import end_unit_of_work, with_retry
from app.web.cookies import CookiePolicy

TABLE = PortalSession.__table__
RESIDENT = Resident.__table__
SESSION_QUERY = (
    select(
        TABLE.c.data.label("session_data"),
        TABLE.c.created_at.label("session_created_at"),
        TABLE.c.last_seen_at.label("session_last_seen_at"),
        EPOCH_QUERY.label("cache_epoch"),
        *RESIDENT.c,
    )
    .select_from(TABLE.outerjoin(RESIDENT, RESIDENT.c.id == TABLE.c.resident_id))
    .where(TABLE.c.id_hash == bindparam("id_hash"))
)
#: Paths that never use a session: no database read for static files and health probes.
SESSIONLESS_PREFIXES = ("/static/", "/healthz", "/readyz")
#: How often an unchanged session's "last seen" time is written (idle timeout granularity).
TOUCH_INTERVAL = timedelta(seconds=60)


def hash_session_id(token: str) -> str:
    """The database key for a cookie value."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class ServerSession(CallbackDict[str, Any], SessionMixin):
    """A session whose data lives in the database; ``regenerate()`` issues a new id (sign-in)."""

    def __init__(
        self,
        initial: dict[str, Any] | None = None,
        token: str | None = None,
        created_at: datetime | None = None,
        last_seen_at: datetime | None = None,
    ) -> None:
        def on_update(_: CallbackDict[str, Any]) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.token = token
        self.created_at = created_at
        self.last_seen_at = last_seen_at
        self.modified = False
        self.regenerated = False
        self.expired = False
        #: The signed-in resident loaded with the session row (None when anonymous).
        self.resident: Resident | None = None

    @property
    def new(self) -> bool:  # type: ignore[override]
        """True when no row exists for this session yet."""
        return self.token is None

    def regenerate(self) -> None:
        """Drop the old id and issue a new one when the response is saved (no session fixation)."""
        self.regenerated = True
        self.modified = True


class DatabaseSessionInterface(SessionInterface):
    """Flask session interface storing :class:`ServerSession` rows in ``portal_session``."""

    def __init__(self, *, cookies: CookiePolicy, idle_timeout: timedelta, absolute_timeout: timedelta) -> None:
        self.cookies = cookies
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def cookie_name(self, app: Flask) -> str:
        """``__Host-`` prefixed under https, as the prefix requires Secure, Path=/ and no Domain."""
        return "__Host-session" if self.cookies.secure() else "session"

    def open_session(self, app: Flask, request: Request) -> ServerSession:
        """Load the session named by the cookie, ending it if it is past its idle or absolute limit."""
        token = request.cookies.get(self.cookie_name(app))
        if not token or len(token) > 128 or request.path.startswith(SESSIONLESS_PREFIXES):
            return ServerSession()
        id_hash = hash_session_id(token)
        # One autocommit statement for the session and its resident: no transaction round trips.
        found = with_retry(lambda: _lookup(id_hash))
        if found is None:
            session = ServerSession()
            session.expired = True
            return session
        remember_epoch(found.cache_epoch)
        now = utcnow()
        created, seen = as_utc(found.session_created_at), as_utc(found.session_last_seen_at)
        if now - seen > self.idle_timeout or now - created > self.absolute_timeout:
            with_retry(lambda: _delete(id_hash))
            session = ServerSession()
            session.expired = True
            return session
        session = ServerSession(dict(found.session_data or {}), token=token, created_at=created, last_seen_at=seen)
        if found.id is not None:
            # A read-only snapshot for display and ids; views that change the resident load it in db.session.
            session.resident = Resident(**{column.key: found._mapping[column] for column in RESIDENT.c})
        return session

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:  # type: ignore[override]
        """Write the session if it changed (or is due a "last seen" touch) and set or clear the cookie."""
        assert isinstance(session, ServerSession)
        # The request's unit of work ends here (views commit what they keep), so that a session write on its
        # own connection never waits on a lock the request still holds (SQLite locks the whole database).
        end_unit_of_work()
        name = self.cookie_name(app)
        cookie_args = self.cookies.flags()
        now = utcnow()
        if not session:
            if session.token is not None:
                end_session_token(session.token)
                response.delete_cookie(name, **cookie_args)
            elif session.expired:
                response.delete_cookie(name, **cookie_args)
            return

        expires = now + self.idle_timeout
        values = {
            "data": dict(session),
            "resident_id": session.get("resident_id"),
            "provider_sid": session.get("provider_sid"),
            "last_seen_at": now,
            "expires_at": expires,
        }
        if session.token is None or session.regenerated:
            old, new = session.token, secrets.token_urlsafe(32)
            purge = random.random() < 0.01
            try:
                _store_new(old, new, now, values, purge=purge)
            except DBAPIError as exc:
                if not connection_lost(exc):
                    raise
                # The first try may have committed before its answer was lost: replace what it stored.
                _store_new(old, new, now, values, purge=purge, replace=True)
            session.token = new
            session.regenerated = False
            response.vary.add("Cookie")
            response.set_cookie(name, session.token, **cookie_args)
            return
        due = session.last_seen_at is None or now - session.last_seen_at > TOUCH_INTERVAL
        if session.modified or due:
            token = session.token
            if with_retry(lambda: _update(token, values)) == 0:  # ended meanwhile (back-channel logout): stays ended
                response.delete_cookie(name, **cookie_args)


def session_cache_id() -> str | None:
    """A key for caching what belongs to this browser session only (its row's hash), or None without one."""
    current = flask_session._get_current_object()  # type: ignore[attr-defined]
    if not isinstance(current, ServerSession) or current.token is None or current.regenerated:
        return None
    return hash_session_id(current.token)


def _lookup(id_hash: str) -> Any:
    """The session row joined with its resident (one autocommit statement), or None."""
    with read_engine().connect() as conn:
        return conn.execute(SESSION_QUERY, {"id_hash": id_hash}).first()


def _store_new(
    old: str | None, new: str, now: datetime, values: dict[str, Any], *, purge: bool, replace: bool = False
) -> None:
    """Insert the row of a new session id (dropping the old id's row) in one transaction."""
    with db.engine.begin() as conn:
        if old is not None:
            conn.execute(delete(TABLE).where(TABLE.c.id_hash == hash_session_id(old)))
        if replace:
            conn.execute(delete(TABLE).where(TABLE.c.id_hash == hash_session_id(new)))
        conn.execute(insert(TABLE).values(id_hash=hash_session_id(new), created_at=now, **values))
        if purge:
            purge_expired(conn, now)


def _update(token: str, values: dict[str, Any]) -> int:
    """Write a session's row; how many rows matched (0: the session ended meanwhile)."""
    with db.engine.begin() as conn:
        result = conn.execute(update(TABLE).where(TABLE.c.id_hash == hash_session_id(token)).values(**values))
        return result.rowcount or 0


def _delete(id_hash: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(delete(TABLE).where(TABLE.c.id_hash == id_hash))


def end_session_token(token: str) -> None:
    """Delete the session row for a cookie value."""
    with_retry(lambda: _delete(hash_session_id(token)))


def end_sessions(*, provider_sid: str | None = None, resident_id: int | None = None, conn: Any = None) -> int:
    """End every session matching the provider ``sid`` and/or the resident; return how many ended.

    With ``conn`` the deletion joins that connection's transaction; otherwise it commits on its own.
    """
    if provider_sid is None and resident_id is None:
        raise ValueError("name a provider sid or a resident")
    statement = delete(TABLE)
    if provider_sid is not None:
        statement = statement.where(TABLE.c.provider_sid == provider_sid)
    if resident_id is not None:
        statement = statement.where(TABLE.c.resident_id == resident_id)
    if conn is not None:
        return conn.execute(statement).rowcount or 0
    with db.engine.begin() as own:
        return own.execute(statement).rowcount or 0


def purge_expired(conn: Any, now: datetime | None = None) -> None:
    """Delete sessions past their idle expiry."""
    conn.execute(delete(TABLE).where(TABLE.c.expires_at < (now or utcnow())))
