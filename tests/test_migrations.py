"""``flask db upgrade`` builds exactly the schema the models describe."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import upgrade

from app.extensions import db


def test_migrations_match_models(make_app: Callable[..., Flask], tmp_path, shared_database_url) -> None:
    url = f"sqlite:///{tmp_path / 'migrated.sqlite'}"
    if shared_database_url is not None:
        url = shared_database_url
    app = make_app(DATABASE_URL=url, create_schema=False)
    with app.app_context():
        if shared_database_url is not None:
            db.drop_all()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
        if shared_database_url is not None:  # leave the schema as the other tests expect it
            db.drop_all()
            with db.engine.begin() as conn:
                conn.exec_driver_sql("DROP TABLE alembic_version")
            db.create_all()
