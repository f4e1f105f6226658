"""Commits that survive a lost connection: what one dispatch of a request kept, and commits looked up on PostgreSQL.

:class:`CheckedCommitSession` is ``db.session``'s class; :mod:`app.database.retry` uses the :class:`Attempt` it
counts to decide whether a request may run again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import flask_sqlalchemy.session
from flask import g, has_app_context
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import make_transient_to_detached

log = logging.getLogger(__name__)
ATTEMPT_KEY = "_db_attempt"
#: How long to wait for a terminated backend to finish aborting before its commit's outcome is known.
OUTCOME_WAIT_SECONDS = 2.0


@dataclass
class Attempt:
    """What one dispatch of a request did that a repetition would have to undo."""

    commits: int = 0
    repeatable: bool = True
    repeated: bool = False


def connection_lost(exc: BaseException) -> bool:
    """True for an error of a database connection that is gone (SQLAlchemy has invalidated it)."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def current_attempt() -> Attempt | None:
    """This request's attempt, or None outside a request (CLI commands, jobs)."""
    if not has_app_context():
        return None
    attempt: Attempt | None = g.get(ATTEMPT_KEY)
    return attempt


def not_repeatable() -> None:
    """Mark this request as having done something outside the database that must not be done twice."""
    attempt = current_attempt()
    if attempt is not None:
        attempt.repeatable = False


def discard(session: Any) -> None:
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
        """Leave the session with the same objects as a successful commit would, on a new connection.

        The failed commit rolled back in memory (objects inserted in it lost their identity); their rows
        are committed, so they are attached again by primary key and load afresh when next read (unlike after
        a commit that answered, see ``app.database.db``: the rollback dropped what they held).
        """
        discard(self)
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


def note_commit(_conn: Any) -> None:
    attempt = current_attempt()
    if attempt is not None:
        attempt.commits += 1
