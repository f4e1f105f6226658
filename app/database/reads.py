"""Read-only database access for pages: each statement in autocommit, so no BEGIN/ROLLBACK round trips.

The session lookup that starts every signed-in request, and pages that only show data, read through
:func:`read_engine` or :func:`read_session`. Anything that writes uses ``db.session`` and its transaction.

The read engine has its own small pool of connections that stay in autocommit. It does not ping before
every checkout: :func:`with_retry` runs a read again once when its connection turned out to be dead (a
database restart or failover), and SQLAlchemy then replaces every older connection in the pool. Reads
inside a request need no wrapper: the request runs again (``app.database.retry``).
"""

from __future__ import annotations

from flask import Flask, current_app
from flask.globals import app_ctx
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, scoped_session

from app.database.db import db
from app.database.retry import with_retry

__all__ = ["dispose", "init_app", "read_engine", "read_session", "with_retry"]


def _build_engine(app: Flask) -> Engine:
    url = db.engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # An in-memory database exists once per connection pool: share the main engine's.
        return db.engine.execution_options(isolation_level="AUTOCOMMIT")
    options = {k: v for k, v in app.config["SQLALCHEMY_ENGINE_OPTIONS"].items() if k != "pool_pre_ping"}
    options.setdefault("pool_size", 5)
    options.setdefault("max_overflow", 10)
    if url.get_backend_name() == "sqlite":
        options.pop("pool_size")
        options.pop("max_overflow")
    return create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=False, **options)


def read_engine() -> Engine:
    """The app's read engine: autocommit connections on a pool of their own."""
    engine: Engine | None = current_app.extensions.get("read_engine")
    if engine is None:
        engine = current_app.extensions["read_engine"] = _build_engine(current_app)
    return engine


def read_session() -> Session:
    """This app context's read-only ORM session (autocommit; never flush or commit through it)."""
    factory: scoped_session[Session] = current_app.extensions["read_sessions"]
    return factory()


def dispose(app: Flask) -> None:
    """Close the read engine's pooled connections (tests and shutdown)."""
    engine = app.extensions.pop("read_engine", None)
    if engine is not None:
        engine.dispose()


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
        if factory.registry.has():
            factory.remove()
