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
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, g, request
from flask.globals import request_ctx
from flask.typing import ResponseReturnValue
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from app.database.commits import ATTEMPT_KEY, Attempt, connection_lost, current_attempt, discard, note_commit
from app.database.db import db

log = logging.getLogger(__name__)
T = TypeVar("T")


class _Repeat(Exception):
    """Raised out of the dispatch so that it starts again."""


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
    attempt = current_attempt()
    before = attempt.commits if attempt is not None else 0
    try:
        return work()
    except DBAPIError as exc:
        # Outside a request nothing counts the commits: never repeat what may have been kept.
        if not connection_lost(exc) or attempt is None or attempt.commits != before:
            raise
        log.warning("database connection lost before the commit; running the transaction again")
        discard(db.session)
        return work()


def end_unit_of_work() -> None:
    """Roll back what the request left open in ``db.session``; a dead connection is let go, never raised."""
    if not (db.session.registry.has() and db.session().in_transaction()):
        return
    try:
        db.session.rollback()
    except DBAPIError as exc:
        if not connection_lost(exc):
            raise
        discard(db.session)


def init_app(app: Flask, db: SQLAlchemy) -> None:
    """Count this app's commits per request and dispatch a request again after a lost connection."""
    with app.app_context():
        for engine in db.engines.values():
            # Fires before COMMIT is sent: counted as kept unless the outcome is looked up as aborted.
            event.listen(engine, "commit", note_commit)
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
        setattr(g, ATTEMPT_KEY, Attempt())
        try:
            return dispatch()
        except _Repeat as repeat:
            cause = repeat.__cause__
            kind = type(cause.orig).__name__ if isinstance(cause, DBAPIError) else type(cause).__name__
            log.warning("database connection lost (%s): %s %s runs again", kind, request.method, request.path)
        _reset(app, db, before)
        setattr(g, ATTEMPT_KEY, Attempt(repeated=True))
        return dispatch()

    app.handle_user_exception = handle  # type: ignore[method-assign,assignment]
    app.full_dispatch_request = dispatch_repeating  # type: ignore[method-assign]


def _reset(app: Flask, db: SQLAlchemy, before: dict[str, Any]) -> None:
    """Forget the failed dispatch: its sessions, what it put on ``g``, its changes to the Flask session."""
    discard(db.session)
    db.session.remove()
    reads = app.extensions.get("read_sessions")
    if reads is not None and reads.registry.has():
        discard(reads)
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
