"""Read-only database access for pages: each statement in autocommit, so no BEGIN/ROLLBACK round trips.

A page that only shows data (the session lookup, home, account pages) reads through :func:`read_session`
or :func:`read_connection`. Anything that writes uses ``db.session`` and its transaction.
"""

from __future__ import annotations

from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy import Engine
from sqlalchemy.orm import Session, scoped_session

from app.extensions import db


def read_engine() -> Engine:
    """The app's engine in autocommit mode (same pool, no transaction per checkout)."""
    engine: Engine | None = current_app.extensions.get("read_engine")
    if engine is None:
        engine = db.engine.execution_options(isolation_level="AUTOCOMMIT")
        current_app.extensions["read_engine"] = engine
    return engine


def read_session() -> Session:
    """This app context's read-only ORM session (autocommit; never flush or commit through it)."""
    factory: scoped_session[Session] = current_app.extensions["read_sessions"]
    return factory()


def init_app(app: Flask) -> None:
    """Create the scoped read session and close it when the app context ends."""

    def bind() -> Session:
        return Session(bind=read_engine(), autoflush=False, expire_on_commit=False)

    # Any callable returning a Session will do as the factory.
    factory: scoped_session[Session] = scoped_session(
        bind,  # type: ignore[arg-type]
        scopefunc=lambda: id(app_ctx._get_current_object()),  # type: ignore[attr-defined]
    )
    app.extensions["read_sessions"] = factory

    @app.teardown_appcontext
    def remove_read_session(_exc: BaseException | None) -> None:
        factory.remove()
