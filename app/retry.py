"""A lost database connection (a restart, a failover, ``pg_terminate_backend``) costs a request nothing.

* A request that fails on a lost connection is dispatched once more from the start, on fresh connections
  and with its session as the cookie named it, when nothing it did can have been kept: none of its
  transactions committed and it did nothing outside the database that must not happen twice
  (:func:`not_repeatable`). Reads, and writes that never reached their commit, are repeated this way.
* A commit cut off by the lost connection is looked up on PostgreSQL (``txid_status``): committed, the view
  carries on as if the commit had answered; rolled back, the request counts as not kept and is repeated.
* Once something committed, later failures must not turn into an error page: the session is saved with
  :func:`with_retry`, and :func:`end_unit_of_work` lets a dead connection go instead of raising.

Other database errors, and a second loss in the same request, are errors as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import flask_sqlalchemy.session
from flask import Flask, Response, g, has_app_context, request
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached
from werkzeug.exceptions import HTTPException

if TYPE_CHECKING:
    from flask_sqlalchemy import SQLAlchemy

log = logging.getLogger(__name__)
T = TypeVar("T")
_KEY = "_db_attempt"
#: How long to wait for a terminated backend to finish aborting before its commit's outcome is known.
OUTCOME_WAIT_SECONDS = 2.0


@dataclass
class Attempt:
    """What one dispatch of a request did that a repetition would have to undo."""

    commits: int = 0
    repeatable: bool = True
    repeated: bool = False


class _Repeat(Exception):
    """Raised out of the dispatch so that it starts again."""


def connection_lost(exc: BaseException) -> bool:
    """True for an error of a database connection that is gone (SQLAlchemy has invalidated it)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def current_attempt() -> Attempt | None:
    """This request's attempt, or None outside a request (CLI commands, jobs)."""
    if not has_app_context():
        return None
    attempt: Attempt | None = g.get(_KEY)
    return attempt


def not_repeatable() -> None:
    """Mark this request as having done something outside the database that must not be done twice."""
    attempt = current_attempt()
    if attempt is not None:
        attempt.repeatable = False


def with_retry(work: Callable[[], T]) -> T:
    """Run ``work`` (a read, or a write in its own transaction that is safe to repeat); once more if its
    connection turned out to be dead. SQLAlchemy then replaces every older connection of that pool."""
    try:
        return work()
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        log.warning("database connection lost; running the statement again on a new connection")
        return work()


def transaction(work: Callable[[], T]) -> T:
    """Run ``work`` (``db.session`` only, ending in its commit); once more if the connection was lost
    before it committed. For views that already did what must not be repeated (a code exchange)."""
    from app.extensions import db

    attempt = current_attempt()
    before = attempt.commits if attempt is not None else 0
    try:
        return work()
    except DBAPIError as exc:
        # Outside a request nothing counts the commits: never repeat what may have been kept.
        if not connection_lost(exc) or attempt is None or attempt.commits != before:
            raise
        log.warning("database connection lost before the commit; running the transaction again")
        _discard(db.session)
        return work()


def end_unit_of_work() -> None:
    """Roll back what the request left open in ``db.session``; a dead connection is let go, never raised."""
    from app.extensions import db

    if not (db.session.registry.has() and db.session().in_transaction()):
        return
    try:
        db.session.rollback()
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        _discard(db.session)


def _discard(session: Any) -> None:
    """Close a (scoped) session whose connection may be dead; SQLAlchemy has already invalidated it."""
    try:
        session.close()
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        session.close()  # the failed rollback released the connection: this one succeeds


class CheckedCommitSession(flask_sqlalchemy.session.Session):
    """``db.session``: on PostgreSQL a commit cut off by a lost connection is looked up, not guessed."""

    def commit(self) -> None:
        """Commit; if the connection died meanwhile, answer as the database decided."""
        xid = self._transaction_id()
        attempt = current_attempt()
        before = attempt.commits if attempt is not None else 0
        kept = list(self.identity_map.values())  # all flushed: every object has its row
        try:
            super().commit()
        except DBAPIError as exc:
            if xid is None or not connection_lost(exc):
                raise
            outcome = _commit_outcome(self, xid)
            log.warning("database connection lost during commit; the transaction %s", outcome or "is unknown")
            if outcome == "committed":
                self._as_committed(kept)
                return
            if outcome == "aborted" and attempt is not None:
                attempt.commits = before  # nothing was kept: the request may run again
            raise

    def _as_committed(self, kept: list[Any]) -> None:
        """Leave the session as a successful commit would: the same objects, expired, on a new connection.

        The failed commit rolled back in memory (objects inserted in it lost their identity); their rows
        are committed, so they are attached again by primary key and load afresh when next read.
        """
        _discard(self)
        for obj in kept:
            if inspect(obj).key is None:
                make_transient_to_detached(obj)
            self.add(obj)
        self.expire_all()

    def _transaction_id(self) -> int | None:
        """The PostgreSQL transaction id of the open transaction if it wrote anything, else None."""
        if not self.in_transaction() or self.get_bind().dialect.name != "postgresql":
            return None
        self.flush()
        xid: int | None = self.execute(text("SELECT txid_current_if_assigned()")).scalar()
        return xid


def _commit_outcome(session: CheckedCommitSession, xid: int) -> str | None:
    """``committed`` or ``aborted`` as PostgreSQL recorded transaction ``xid``; None if it cannot say."""
    deadline = time.monotonic() + OUTCOME_WAIT_SECONDS
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    try:
        with engine.connect() as conn:
            while True:
                status = conn.execute(text("SELECT txid_status(:xid)"), {"xid": xid}).scalar()
                if status != "in progress" or time.monotonic() > deadline:  # the backend is still aborting
                    return status if status in ("committed", "aborted") else None
                time.sleep(0.02)
    except DBAPIError:
        log.warning("could not look up the outcome of transaction %s", xid, exc_info=True)
        return None


def _note_commit(_conn: Any) -> None:
    attempt = current_attempt()
    if attempt is not None:
        attempt.commits += 1


def init_app(app: Flask, db: SQLAlchemy) -> None:
    """Count this app's commits per request and dispatch a request again after a lost connection."""
    with app.app_context():
        for engine in db.engines.values():
            # Fires before COMMIT is sent: counted as kept unless the outcome is looked up as aborted.
            event.listen(engine, "commit", _note_commit)
    dispatch = app.full_dispatch_request
    handle_user_exception = app.handle_user_exception

    def handle(exc: Exception) -> HTTPException | ResponseReturnValue:
        attempt = current_attempt()
        if (
            attempt is not None
            and connection_lost(exc)
            and attempt.commits == 0
            and attempt.repeatable
            and not attempt.repeated
        ):
            raise _Repeat from exc
        return handle_user_exception(exc)

    def dispatch_repeating() -> Response:
        before = dict(g.__dict__)
        setattr(g, _KEY, Attempt())
        try:
            return dispatch()
        except _Repeat as repeat:
            cause = repeat.__cause__
            kind = type(cause.orig).__name__ if isinstance(cause, DBAPIError) else type(cause).__name__
            log.warning("database connection lost (%s): %s %s runs again", kind, request.method, request.path)
        _reset(app, db, before)
        setattr(g, _KEY, Attempt(repeated=True))
        return dispatch()

    app.handle_user_exception = handle  # type: ignore[method-assign,assignment]
    app.full_dispatch_request = dispatch_repeating  # type: ignore[method-assign]


def _reset(app: Flask, db: SQLAlchemy, before: dict[str, Any]) -> None:
    """Forget the failed dispatch: its sessions, what it put on ``g``, its changes to the Flask session."""
    _discard(db.session)
    db.session.remove()
    reads = app.extensions.get("read_sessions")
    if reads is not None and reads.registry.has():
        _discard(reads)
        reads.remove()
    request_id = g.get("request_id")
    g.__dict__.clear()
    g.__dict__.update(before)
    if request_id is not None:
        g.request_id = request_id  # one request, one id in the logs
    ctx = request_ctx._get_current_object()  # type: ignore[attr-defined]
    # As ``RequestContext.push`` opens it: ``session`` is a read-only property over ``_session``.
    ctx._session = app.session_interface.open_session(app, ctx.request)
    ctx.flashes = None
