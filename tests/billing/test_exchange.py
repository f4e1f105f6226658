"""The outbox and ``flask billing export-changes``: every change exported once, none lost, files whole."""

from __future__ import annotations

import csv
import threading
import time
from pathlib import Path

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.billing import exchange
from app.billing.importer import ImportBusy
from app.billing.models import PortalChange
from app.core.clock import utcnow
from app.database.db import db


def _exported(folder: Path) -> list[list[str]]:
    rows: list[list[str]] = []
    for file in sorted(folder.glob("portal-changes-*.csv")):
        with file.open(encoding="utf-8", newline="") as handle:
            reader = csv.reader(handle)
            assert next(reader) == list(exchange.CHANGE_COLUMNS)
            rows += list(reader)
    return rows


def _change(session: Session, account_no: str, value: str) -> None:
    exchange.record_change(
        session,
        exchange.BILL_DELIVERY,
        account_no=account_no,
        customer_id="2000001",
        field="bill_delivery",
        value=value,
        resident_id=None,
        now=utcnow(),
    )


def test_export_changes_writes_once(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "outbox"
    runner = app.test_cli_runner()
    assert "No changes to export" in runner.invoke(args=["billing", "export-changes", str(out)]).output
    with app.app_context():
        _change(db.session(), "100001", "email")
        _change(db.session(), "100002", "paper")
        db.session.commit()
    result = runner.invoke(args=["billing", "export-changes", str(out)])
    assert result.exit_code == 0 and "Exported 2 changes" in result.output
    rows = _exported(out)
    assert [(r[2], r[3], r[5], r[6]) for r in rows] == [
        ("bill_delivery", "100001", "bill_delivery", "email"),
        ("bill_delivery", "100002", "bill_delivery", "paper"),
    ]
    assert "No changes to export" in runner.invoke(args=["billing", "export-changes", str(out)]).output
    assert not list(out.glob(".*tmp"))
    with app.app_context():
        assert all(c.exported_at is not None for c in db.session.scalars(select(PortalChange)))


def test_export_finishes_a_file_a_dead_run_assigned(app: Flask, tmp_path: Path) -> None:
    out = tmp_path / "outbox"
    out.mkdir()
    with app.app_context():
        _change(db.session(), "100001", "email")
        _change(db.session(), "100003", "paper")
        db.session.commit()
        # As if a run died after assigning the rows to files: one file was written, one was not.
        first, second = db.session.scalars(select(PortalChange.id).order_by(PortalChange.id)).all()
        db.session.execute(update(PortalChange).where(PortalChange.id == first).values(export_file="a.csv"))
        db.session.execute(update(PortalChange).where(PortalChange.id == second).values(export_file="b.csv"))
        db.session.commit()
    (out / "a.csv").write_text(",".join(exchange.CHANGE_COLUMNS) + f"\n{first},x,bill_delivery,100001,2000001,,\n")
    with app.app_context():
        result = exchange.export_changes(db.engine, out)
    assert sorted(result.files) == ["a.csv", "b.csv"] and result.changes == 2
    assert (out / "a.csv").read_text().count("\n") == 2  # kept as it was, not written twice
    assert "100003" in (out / "b.csv").read_text()


def test_outbox_under_concurrent_changes(app: Flask, tmp_path: Path) -> None:
    """Writers commit changes while exports run: every change ends up in exactly one file."""
    out = tmp_path / "outbox"
    with app.app_context():
        engine = db.engine
    stop = threading.Event()
    errors: list[BaseException] = []
    made: list[int] = []

    def writer(index: int) -> None:
        for n in range(25):
            for _attempt in range(50):
                try:
                    with Session(engine) as session:
                        _change(session, f"1000{index:02d}", "email" if n % 2 else "paper")
                        session.commit()
                        made.append(1)
                    break
                except OperationalError:  # SQLite: "database is locked" under contention
                    time.sleep(0.02)

    def exporter() -> None:
        try:
            while not stop.is_set():
                try:
                    exchange.export_changes(engine, out)
                except (OperationalError, ImportBusy):  # another exporter holds the lock: its turn
                    time.sleep(0.02)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    writers = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    exporters = [threading.Thread(target=exporter) for _ in range(2)]
    for thread in writers + exporters:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in exporters:
        thread.join()
    assert not errors
    with app.app_context():
        exchange.export_changes(db.engine, out)
        ids = db.session.scalars(select(PortalChange.id)).all()
    exported = [int(row[0]) for row in _exported(out)]
    assert len(made) == 100 == len(ids)
    assert sorted(exported) == sorted(ids)  # none lost, none twice


def test_bill_delivery_change_goes_to_outbox(app: Flask) -> None:
    from app.billing.client import SqlBillingSource
    from app.bills import delivery
    from tests.billing.fixtures import TODAY
    from tests.billing.pages import load_demo

    load_demo(app, accounts=5)
    with app.app_context():
        session = db.session()
        source = SqlBillingSource(lambda: session)
        summary = source.summaries([("100001", "2000001")], today=TODAY)[("100001", "2000001")]
        target = "paper" if summary.bill_delivery == "email" else "email"
        delivery.change_delivery(
            session, source, summary, target, resident_id=None, email_verified=True, client_addr="t", now=utcnow()
        )  # type: ignore[arg-type]
        session.rollback()  # the change and its outbox row go together
        assert session.scalar(select(PortalChange.id)) is None
        delivery.change_delivery(
            session, source, summary, target, resident_id=None, email_verified=True, client_addr="t", now=utcnow()
        )  # type: ignore[arg-type]
        session.commit()
        change = session.scalars(select(PortalChange)).one()
        assert (change.account_no, change.value) == ("100001", target)
        load_demo(app, accounts=5)  # a new extract before the billing system got the change: it still holds
        assert source.summaries([("100001", "2000001")], today=TODAY)[("100001", "2000001")].bill_delivery == target
