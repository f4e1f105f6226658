"""``flask db upgrade`` builds exactly the schema the models describe."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.extensions import db


def test_migrations_match_models(make_app: Callable[..., Flask]) -> None:
    app = make_app(create_schema=False)  # an empty database of the test's own (SQLite or PostgreSQL)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []


def test_account_events_migration_keeps_the_audit_trail(make_app: Callable[..., Flask]) -> None:
    """link_event rows come through as account events, ids and outcomes included; new ids follow them."""
    from datetime import UTC, datetime

    from sqlalchemy import text

    from app.activity.models import AccountEvent, Outcome

    app = make_app(create_schema=False)
    with app.app_context():
        try:
            upgrade(revision="5c1f0e2a7d41")
            when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
            with db.engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO resident (id, issuer, subject, email_verified, created_at, links_version)"
                        " VALUES (1, 'https://id.example', 'pat', true, :when, 0)"
                    ),
                    {"when": when},
                )
                for event_id, outcome in ((1, "linked"), (2, "failed_not_found"), (7, "paperless_on")):
                    conn.execute(
                        text(
                            "INSERT INTO link_event (id, resident_id, account_no, occurred_at, client_addr, outcome)"
                            " VALUES (:id, 1, '100001', :when, '192.0.2.1', :outcome)"
                        ),
                        {"id": event_id, "when": when, "outcome": outcome},
                    )
            upgrade()
            rows = db.session.execute(select(AccountEvent.id, AccountEvent.outcome).order_by(AccountEvent.id)).all()
            assert [tuple(row) for row in rows] == [
                (1, Outcome.LINKED),
                (2, Outcome.FAILED_NOT_FOUND),
                (7, Outcome.PAPERLESS_ON),
            ]
            assert rows[1].outcome.is_failure and not rows[2].outcome.is_failure
            added = AccountEvent(
                resident_id=1, account_no="100002", occurred_at=when, client_addr="192.0.2.1", outcome=Outcome.UNLINKED
            )
            db.session.add(added)
            db.session.commit()
            assert added.id == 8
            assert "link_event" not in inspect(db.engine).get_table_names()
            db.session.remove()
            downgrade(revision="5c1f0e2a7d41")
            with db.engine.connect() as conn:
                assert conn.execute(text("SELECT id, outcome FROM link_event ORDER BY id")).all()[-1] == (8, "unlinked")
        finally:
            db.session.remove()
