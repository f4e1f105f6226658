"""The portal under test: a real OpenID provider over HTTP, and fresh apps on the test's own database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jinja2.bccache import Bucket, BytecodeCache
from oidc_provider_mock import run_server_in_thread
from sqlalchemy import event

from app import create_app
from app.database import reads
from app.database.db import db
from tests.support.config import base_config
from tests.support.databases import EXTENSION, PortalDatabase, dispose


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[str]:
    """oidc-provider-mock on a free localhost port; yields its issuer URL."""
    with run_server_in_thread(require_nonce=True) as server:
        yield f"http://localhost:{server.server_port}"


class CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates kept in memory for the session, keyed by name and checksum of the source.

    Every test builds a new app, and with it a new Jinja environment that would compile each template again;
    all of them have the same Jinja options, so the code compiled for one serves the next.
    """

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.store.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


@pytest.fixture(scope="session")
def compiled_templates() -> CompiledTemplates:
    """The session's compiled Jinja templates, shared by every app ``make_app`` builds."""
    return CompiledTemplates()


@pytest.fixture
def make_app(
    request: pytest.FixtureRequest,
    portal_database: PortalDatabase,
    oidc_server: str,
    compiled_templates: CompiledTemplates,
) -> Iterator[Callable[..., Flask]]:
    """Build apps on this test's database; the first call creates it, with the schema unless
    ``create_schema=False``. An app given its own ``DATABASE_URL`` uses that one instead.

    Every app's clock starts at the suite's ``CLOCK_START``, or at the test's ``@pytest.mark.clock("...")``.
    """
    apps: list[Flask] = []
    marker = request.node.get_closest_marker("clock")
    clock = {"CLOCK_START": marker.args[0]} if marker is not None else {}

    def make(*, create_schema: bool = True, **overrides: Any) -> Flask:
        overrides = {**clock, **overrides}
        issuer = overrides.pop("OIDC_ISSUER", oidc_server)
        own_database = "DATABASE_URL" not in overrides
        if own_database:
            url = portal_database.url or portal_database.create(schema=create_schema)
        else:
            url = overrides.pop("DATABASE_URL")
        app = create_app(base_config(url, issuer, **overrides))
        app.jinja_env.bytecode_cache = compiled_templates
        if own_database:
            app.extensions[EXTENSION] = portal_database
            portal_database.apps.append(app)
        elif not apps and create_schema:
            with app.app_context():
                db.create_all()
        apps.append(app)
        return app

    yield make
    for app in apps:
        if app not in portal_database.apps:
            dispose(app)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    """A fresh portal app pointed at the mock provider."""
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client for ``app``."""
    return app.test_client()


@contextmanager
def count_queries(app: Flask) -> Iterator[Callable[[], int]]:
    """Count the SQL statements run on the app's engines inside the block (sessions' and reads' included)."""
    statements: list[str] = []

    def before(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    with app.app_context():
        engines = {db.engine, reads.read_engine()}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)
    try:
        yield lambda: len(statements)
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", before)
