"""Each test's database, copied from a template built once per session (and per pytest-xdist worker).

Creating the schema and loading the demo cost most of a page test's set-up, so each is done once, into a
template. On SQLite a template is a file, copied for each test. On PostgreSQL (``TEST_DATABASE_URL``) each
worker has one database with the schema, emptied after every test, and a template is a snapshot of its rows
(see :class:`PostgresServer` for why not ``CREATE DATABASE ... TEMPLATE`` per test). A test that asks for an
empty database (``make_app(create_schema=False)``) gets one of its own. The schema comes from the models'
``create_all``, as it always did in the suite; ``tests/test_migrations.py`` checks the migrations build the same.
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

from app import create_app
from app.database import reads
from app.database.db import db
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
    """Databases as SQLite files: templates in a session folder, copied into each test's ``tmp_path``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _template(self, key: str) -> str:
        return str(self.folder / f"{key}.sqlite")

    def build(self, key: str, fill: Callable[[], Any] | None) -> Any:
        """Make template ``key``: the schema, or a copy of it that ``fill`` (run in an app context) adds to."""
        if key != SCHEMA:
            shutil.copyfile(self._template(SCHEMA), self._template(key))
        return _fill(f"sqlite:///{self._template(key)}", key, fill)

    def create(self, tmp_path: Path, schema: bool) -> str:
        """A new database in ``tmp_path``: a copy of the schema template, or empty (created on connect)."""
        path = tmp_path / "portal.sqlite"
        if schema:
            shutil.copyfile(self._template(SCHEMA), path)
        return f"sqlite:///{path}"

    def restore(self, url: str, key: str) -> None:
        """Overwrite the database at ``url`` with template ``key``; the backup API keeps open connections safe."""
        with closing(sqlite3.connect(self._template(key))) as source, closing(sqlite3.connect(_path(url))) as target:
            source.backup(target)

    def release(self, url: str) -> None:
        """Nothing to do: the file goes with the test's ``tmp_path``."""

    def close(self) -> None:
        """Nothing to do: the templates go with the session's temporary folder."""


def _path(url: str) -> str:
    database = make_url(url).database
    assert database, url
    return database


def _fill(url: str, key: str, fill: Callable[[], Any] | None) -> Any:
    """Build the schema (``key`` is :data:`SCHEMA`) or run ``fill`` on the database at ``url``."""
    app = create_app(base_config(url, "http://localhost:1"))
    try:
        with app.app_context():
            if key == SCHEMA:
                db.create_all()
                return None
            assert fill is not None, f"template {key} is not built yet and has no fill"
            return fill()
    finally:
        dispose(app)


class PostgresServer:
    """Databases on the PostgreSQL server of ``TEST_DATABASE_URL``, named after its database and this worker.

    Each worker keeps one database with the schema, emptied after every test; a template is a snapshot of
    its tables' rows (``COPY``), copied in by ``restore``. A new database per test would cost more than the
    test: ``CREATE DATABASE`` copies the system catalogues and ``DROP DATABASE`` forces a checkpoint of the
    whole server (0.5 to 1.5 s together on a busy 2-core machine). Only a test asking for an empty database
    gets one of its own.
    """

    def __init__(self, url: str) -> None:
        self.url = make_url(url)
        base = self.url.database or "portal"
        if len(base) > 30:  # PostgreSQL names stop at 63 bytes
            base = base[:21] + "_" + hashlib.sha256(base.encode()).hexdigest()[:8]
        self.prefix = f"{base}_{worker_id()}_"
        self.numbers = itertools.count(1)
        self.admin = psycopg.connect(self._dsn(self.url.database or "postgres"), autocommit=True, connect_timeout=5)
        self._drop_own()  # left behind by an interrupted run of this worker
        self.shared = f"{self.prefix}db"
        self.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.shared)))
        _fill(self._url(self.shared), SCHEMA, None)
        self.conn = psycopg.connect(self._dsn(self.shared), connect_timeout=5)
        # A test that leaves a transaction open must fail its teardown, not hang it.
        self.conn.execute("SET lock_timeout = '10s'")
        self.conn.commit()
        self.snapshots: dict[str, dict[str, bytes]] = {}
        self.sequences = self._sequences()

    def _dsn(self, name: str) -> str:
        return self.url.set(drivername="postgresql", database=name).render_as_string(hide_password=False)

    def _url(self, name: str) -> str:
        return self.url.set(database=name).render_as_string(hide_password=False)

    def _drop_own(self) -> None:
        for (name,) in self.admin.execute(
            "SELECT datname FROM pg_database WHERE left(datname, %s) = %s", (len(self.prefix), self.prefix)
        ).fetchall():
            self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _sequences(self) -> list[tuple[str, str, str]]:
        """(table, column, sequence) of every column filled from a sequence."""
        found = []
        for table in db.metadata.sorted_tables:
            for column in table.primary_key.columns:
                row = self.conn.execute("SELECT pg_get_serial_sequence(%s, %s)", (table.name, column.name)).fetchone()
                if row and row[0]:
                    found.append((table.name, column.name, row[0]))
        self.conn.commit()
        return found

    def build(self, key: str, fill: Callable[[], Any] | None) -> Any:
        """Snapshot template ``key``: ``fill`` runs on a scratch database with the schema, then its rows are kept."""
        if key == SCHEMA:
            return None
        scratch = f"{self.prefix}t_{key}"
        self.admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(scratch)))
        try:
            _fill(self._url(scratch), SCHEMA, None)
            result = _fill(self._url(scratch), key, fill)
            with psycopg.connect(self._dsn(scratch), connect_timeout=5) as conn, conn.cursor() as cur:
                rows: dict[str, bytes] = {}
                for table in db.metadata.sorted_tables:
                    with cur.copy(sql.SQL("COPY {} ({}) TO STDOUT").format(*_names(table))) as copy:
                        rows[table.name] = b"".join(bytes(chunk) for chunk in copy)
            self.snapshots[key] = rows
        finally:
            self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
        return result

    def create(self, tmp_path: Path, schema: bool) -> str:
        """The worker's database (empty, with the schema), or a new empty database of the test's own."""
        if schema:
            return self._url(self.shared)
        name = f"{self.prefix}e{next(self.numbers)}"
        self.admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
        return self._url(name)

    def restore(self, url: str, key: str) -> None:
        """Replace every row of the worker's database with template ``key``'s, in one transaction."""
        assert _path(url) == self.shared, "only the worker's database is restored"
        with self.conn.transaction(), self.conn.cursor() as cur:
            self._empty(cur)
            for table in db.metadata.sorted_tables:
                data = self.snapshots[key][table.name]
                if data:
                    with cur.copy(sql.SQL("COPY {} ({}) FROM STDIN").format(*_names(table))) as copy:
                        copy.write(data)
            for table, column, sequence in self.sequences:
                cur.execute(
                    sql.SQL("SELECT setval(%s, COALESCE((SELECT max({}) FROM {}), 0) + 1, false)").format(
                        sql.Identifier(column), sql.Identifier(table)
                    ),
                    (sequence,),
                )

    def _empty(self, cur: psycopg.Cursor[Any]) -> None:
        for table in reversed(db.metadata.sorted_tables):
            cur.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(table.name)))

    def release(self, url: str) -> None:
        """Empty the worker's database (as the next test expects it), or drop a test's own."""
        name = _path(url)
        if name == self.shared:
            with self.conn.transaction(), self.conn.cursor() as cur:
                self._empty(cur)
        else:
            self.admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def close(self) -> None:
        """Drop this worker's databases and close the connections."""
        self.conn.close()
        self._drop_own()
        self.admin.close()


def _names(table: Any) -> tuple[sql.Identifier, sql.Composed]:
    return sql.Identifier(table.name), sql.SQL(", ").join(sql.Identifier(c.name) for c in table.columns)


Server = SqliteServer | PostgresServer


class Templates:
    """This session's templates, each built the first time a test asks for it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._built: dict[str, Any] = {}

    def ensure(self, key: str, fill: Callable[[], Any] | None = None) -> Any:
        """Build template ``key`` unless it is built; return what ``fill`` returned when it was.

        ``fill`` runs once, inside an app context on a database with the schema and no rows, and must commit.
        """
        if key not in self._built:
            if key != SCHEMA:
                self.ensure(SCHEMA)
            self._built[key] = self.server.build(key, fill)
        return self._built[key]


@dataclass(eq=False)
class PortalDatabase:
    """One test's database: made when the test builds its first app, given back afterwards."""

    templates: Templates
    tmp_path: Path
    #: Its URL, once created.
    url: str | None = None
    #: The apps on this database (``make_app`` adds them), closed when the test ends.
    apps: list[Flask] = field(default_factory=list)
    #: The template it holds a copy of (None: empty).
    made_from: str | None = None

    def create(self, schema: bool) -> str:
        """Create the database, with the schema (no rows) or empty; return its URL."""
        assert self.url is None
        if schema:
            self.templates.ensure(SCHEMA)
        self.url = self.templates.server.create(self.tmp_path, schema)
        self.made_from = SCHEMA if schema else None
        return self.url

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
        assert self.url is not None
        result = self.templates.ensure(key, fill)
        if self._in_our_app_context():
            db.session.remove()  # no transaction of this thread in the way; pooled connections stay valid
        self.templates.server.restore(self.url, key)
        self.made_from = key
        return result

    def _in_our_app_context(self) -> bool:
        return has_app_context() and current_app._get_current_object() in self.apps  # type: ignore[attr-defined]

    def close(self) -> None:
        """Close the apps' connections and give the database back (emptied or dropped)."""
        for app in self.apps:
            dispose(app)
        if self.url is not None:
            self.templates.server.release(self.url)


@pytest.fixture(scope="session")
def shared_database_url() -> str | None:
    """``TEST_DATABASE_URL`` (checked to answer), or None for SQLite; each test gets a database of its own."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return None
    from app.core.config import normalise_database_url

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
    database = PortalDatabase(database_templates, tmp_path)
    yield database
    database.close()
