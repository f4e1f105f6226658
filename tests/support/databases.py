"""Each test's database, copied from a template built once per session (and per pytest-xdist worker).

Creating the schema and loading the demo cost most of a page test's set-up, so each is done once, into a
template: on SQLite a file, copied for each test; on PostgreSQL (``TEST_DATABASE_URL``) a database, which each
test gets a copy of through ``CREATE DATABASE ... TEMPLATE``. A test that asks for an empty database
(``make_app(create_schema=False)``) gets one. Templates are made with the models' ``create_all``, as the
suite's databases always were; ``tests/test_migrations.py`` checks the migrations build the same schema.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask, current_app, has_app_context
from psycopg import sql
from sqlalchemy import create_engine, exists, make_url, or_, select, text

from app import create_app, reads
from app.extensions import db
from tests.support.config import base_config

#: The template with the schema and no rows; every other template starts as a copy of it.
SCHEMA = "schema"
#: The key under which ``make_app`` records an app's test database in ``app.extensions``.
EXTENSION = "tests.portal_database"


def worker_id() -> str:
    """This pytest-xdist worker's name (``gw0``...), or ``main`` without xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


def dispose(app: Flask) -> None:
    """Close every pooled connection of ``app`` (its session's and its read engine's)."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    reads.dispose(app)


class SqliteServer:
    """Databases as SQLite files: templates in a session folder, each test's in its ``tmp_path``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def template_url(self, key: str) -> str:
        return f"sqlite:///{self.folder / key}.sqlite"

    def test_url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'portal.sqlite'}"

    def create(self, url: str, template: str | None) -> None:
        """Create the database at ``url``: a copy of ``template``, or empty (SQLite creates it on connect)."""
        if template is not None:
            shutil.copyfile(_path(template), _path(url))

    def replace(self, url: str, template: str) -> None:
        """Overwrite the database at ``url`` with ``template``; the backup API keeps open connections safe."""
        with closing(sqlite3.connect(_path(template))) as source, closing(sqlite3.connect(_path(url))) as target:
            source.backup(target)

    def drop(self, url: str) -> None:
        """Nothing to do: the file goes with the test's ``tmp_path``."""

    def close(self) -> None:
        """Nothing to do: the templates go with the session's temporary folder."""


def _path(url: str) -> str:
    database = make_url(url).database
    assert database, url
    return database


class PostgresServer:
    """Databases on the PostgreSQL server of ``TEST_DATABASE_URL``, named after its database and this worker."""

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        base = self.url.database or "portal"
        if len(base) > 30:  # PostgreSQL names stop at 63 bytes
            base = base[:21] + "_" + hashlib.sha256(base.encode()).hexdigest()[:8]
        self.prefix = f"{base}_{worker_id()}_"
        self.numbers = itertools.count(1)
        plain = self.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.admin = psycopg.connect(plain, autocommit=True, connect_timeout=5)
        for (stale,) in self.admin.execute(
            "SELECT datname FROM pg_database WHERE left(datname, %s) = %s", (len(self.prefix), self.prefix)
        ).fetchall():  # left behind by an interrupted run of this worker
            self._drop(stale)

    def _url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def template_url(self, key: str) -> str:
        return self._url(f"{self.prefix}t_{key}")

    def test_url(self, tmp_path: Path) -> str:
        return self._url(f"{self.prefix}{next(self.numbers)}")

    def create(self, url: str, template: str | None) -> None:
        """``CREATE DATABASE`` ``url``'s database, as a copy of ``template`` or empty (from ``template0``)."""
        source = _path(template) if template is not None else "template0"
        self.admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(_path(url)), sql.Identifier(source))
        )

    def replace(self, url: str, template: str) -> None:
        """Drop the database at ``url`` and create it again from ``template`` (its apps reconnect by themselves)."""
        self._drop(_path(url))
        self.create(url, template)

    def drop(self, url: str) -> None:
        self._drop(_path(url))

    def _drop(self, name: str) -> None:
        self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def close(self) -> None:
        """Drop this worker's templates and close the admin connection."""
        for (name,) in self.admin.execute(
            "SELECT datname FROM pg_database WHERE left(datname, %s) = %s", (len(self.prefix), self.prefix)
        ).fetchall():
            self._drop(name)
        self.admin.close()


Server = SqliteServer | PostgresServer


class Templates:
    """This session's template databases, each built the first time a test asks for it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._built: dict[str, Any] = {}

    def get(self, key: str, fill: Callable[[], Any] | None = None) -> tuple[str, Any]:
        """The URL of template ``key`` and what ``fill`` returned when it was built.

        ``fill`` runs once, inside an app context on a copy of the schema template, and must commit.
        """
        if key not in self._built:
            url = self.server.template_url(key)
            if key == SCHEMA:
                self.server.create(url, None)
            else:
                self.server.create(url, self.get(SCHEMA)[0])
            app = create_app(base_config(url, "http://localhost:1"))
            try:
                with app.app_context():
                    if key == SCHEMA:
                        db.create_all()
                    else:
                        assert fill is not None, f"template {key} is not built yet and has no fill"
                        self._built[key] = fill()
                    self._built.setdefault(key, None)
            finally:
                dispose(app)
        return self.server.template_url(key), self._built[key]


@dataclass(eq=False)
class PortalDatabase:
    """One test's database: made from a template when the test builds its first app, dropped afterwards."""

    templates: Templates
    url: str
    #: The apps on this database (``make_app`` adds them), whose pooled connections a restore closes.
    apps: list[Flask] = field(default_factory=list)
    #: The template it is a copy of (None: empty, or not created yet).
    made_from: str | None = None
    created: bool = False

    def create(self, template: str | None) -> None:
        """Create the database as a copy of ``template`` (e.g. :data:`SCHEMA`) or empty."""
        assert not self.created
        source = self.templates.get(template)[0] if template is not None else None
        self.templates.server.create(self.url, source)
        self.created, self.made_from = True, template

    def untouched(self) -> bool:
        """True while the database is still the empty schema: no table has a row, nothing is pending."""
        if self.made_from != SCHEMA or not self.apps:
            return False
        if self._in_our_app_context() and db.session().in_transaction():
            return False  # this thread's session may hold what it has not committed yet
        with self.apps[0].app_context(), db.engine.connect() as conn:
            tables = db.metadata.sorted_tables
            return not conn.execute(select(or_(*(exists().select_from(t) for t in tables)))).scalar()

    def restore(self, key: str, fill: Callable[[], Any]) -> Any:
        """Make the database a copy of template ``key`` (built with ``fill`` if new); return what ``fill`` did."""
        url, result = self.templates.get(key, fill)
        if self._in_our_app_context():
            db.session.remove()
        for app in self.apps:
            dispose(app)
        self.templates.server.replace(self.url, url)
        self.made_from = key
        return result

    def _in_our_app_context(self) -> bool:
        return has_app_context() and current_app._get_current_object() in self.apps  # type: ignore[attr-defined]

    def close(self) -> None:
        """Close the apps' connections and drop the database."""
        for app in self.apps:
            dispose(app)
        if self.created:
            self.templates.server.drop(self.url)


@pytest.fixture(scope="session")
def shared_database_url() -> str | None:
    """``TEST_DATABASE_URL`` (checked to answer), or None for SQLite; each test gets a database of its own."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    from app.config import normalise_database_url

    engine = create_engine(normalise_database_url(url))
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # the suite must fail, not skip, when the database is missing
        pytest.exit(f"TEST_DATABASE_URL={url} does not answer: {exc}", returncode=3)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def database_templates(
    tmp_path_factory: pytest.TempPathFactory, shared_database_url: str | None
) -> Iterator[Templates]:
    """The template databases of this session (and xdist worker)."""
    server: Server
    if shared_database_url is None:
        server = SqliteServer(tmp_path_factory.mktemp("templates"))
    else:
        server = PostgresServer(shared_database_url)
    try:
        yield Templates(server)
    finally:
        server.close()


@pytest.fixture
def portal_database(tmp_path: Path, database_templates: Templates) -> Iterator[PortalDatabase]:
    """This test's database (created by ``make_app``'s first app), dropped afterwards."""
    database = PortalDatabase(database_templates, database_templates.server.test_url(tmp_path))
    yield database
    database.close()
