"""``flask db upgrade`` builds exactly the schema the models describe."""

from __future__ import annotations

from collections.abc import Callable

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, select

from app.database.db import db


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


def test_auto_pay_method_migration_names_card_or_bank_in_pending_payment_rows(make_app: Callable[..., Flask]) -> None:
    """Enrolments learn their method from the processor's label; "saved" charges and unexported rows follow."""
    import json
    from datetime import UTC, date, datetime

    from sqlalchemy import text

    app = make_app(create_schema=False)
    when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    with app.app_context():
        try:
            upgrade(revision="3b8e6f0a9c21")
            with db.engine.begin() as conn:
                for n, label in ((1, "Bank account ending 6789"), (2, "Card ending 4242")):
                    conn.execute(
                        text(
                            "INSERT INTO autopay_enrolment (id, account_no, customer_id, email, status, processor,"
                            " setup_url, setup_key, method_id, method_label, starts_on, created_at, updated_at)"
                            " VALUES (:n, '10000' || :n, '2000001', '', 'active', 'dev', '', 'setup-' || :n, 'pm',"
                            " :label, :day, :when, :when)"
                        ),
                        {"n": n, "label": label, "day": date(2026, 11, 1), "when": when},
                    )
                    conn.execute(
                        text(
                            "INSERT INTO payment (id, public_id, idempotency_key, receipt_no, source, account_no,"
                            " customer_id, email, method, amount_cents, fee_cents, status, failure, processor,"
                            " checkout_url, reference, method_label, created_at, updated_at)"
                            " VALUES (:n, 'pub' || :n, 'key' || :n, 'PRECEIPT' || :n, 'autopay', '10000' || :n,"
                            " '2000001', '', 'saved', 6150, 0, 'succeeded', '', 'dev', '', 'ref' || :n, :label,"
                            " :when, :when)"
                        ),
                        {"n": n, "label": label, "when": when},
                    )
                    conn.execute(
                        text(
                            "INSERT INTO autopay_charge (enrolment_id, bill_no, run_on, amount_cents, idempotency_key,"
                            " status, claimed_by, payment_id, created_at)"
                            " VALUES (:n, 'B' || :n, :day, 6150, 'key' || :n, 'charged', '', :n, :when)"
                        ),
                        {"n": n, "day": date(2026, 11, 30), "when": when},
                    )
                    value = {"amount": "61.50", "method": "saved", "receipt": f"PRECEIPT{n}", "reference": f"ref{n}"}
                    conn.execute(
                        text(
                            "INSERT INTO portal_change (kind, account_no, customer_id, field, value, created_at,"
                            " exported_at) VALUES ('payment', '10000' || :n, '2000001', 'payment', :v, :when, :done)"
                        ),
                        {"n": n, "v": json.dumps(value), "when": when, "done": when if n == 2 else None},
                    )
            upgrade()
            with db.engine.connect() as conn:
                methods = conn.execute(text("SELECT id, method FROM autopay_enrolment ORDER BY id")).all()
                paid = conn.execute(text("SELECT id, method FROM payment ORDER BY id")).all()
                rows = [json.loads(v) for (v,) in conn.execute(text("SELECT value FROM portal_change ORDER BY id"))]
            assert [tuple(r) for r in methods] == [(1, "ach"), (2, "card")]
            assert [tuple(r) for r in paid] == [(1, "ach"), (2, "card")]
            assert rows[0] == {
                "amount": "61.50",
                "fee": "0.00",
                "method": "ach",
                "receipt": "PRECEIPT1",
                "reference": "ref1",
            }
            assert rows[1]["method"] == "saved"  # already exported: left as it was sent
        finally:
            db.session.remove()
