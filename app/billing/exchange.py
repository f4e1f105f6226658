"""The other directions of the exchange: the read model written back as an extract, and the outbox.

``write_extract`` writes the current read model in the extract format (what ``flask billing import`` reads),
streaming rows so memory stays flat. ``record_change`` adds a portal change to the outbox in the caller's
transaction; ``export_changes`` writes the pending ones to one CSV file for the billing system.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from app.billing.extract import FORMAT_VERSION, MANIFEST, SPECS, fsync_dir
from app.billing.importer import import_lock
from app.billing.models import (
    BillingAccount,
    BillingBill,
    BillingBillLine,
    BillingCustomer,
    BillingMeterRead,
    BillingOccupancy,
    BillingPayment,
    BillingService,
    PortalChange,
)
from app.core.clock import as_utc, utcnow
from app.core.money import Money

#: The outbox's kinds of change: this one, and payments' (``app.payments.outbox``), as
#: ``docs/billing-extract.md`` documents them.
BILL_DELIVERY = "bill_delivery"
CHANGE_COLUMNS = ("change_id", "changed_at", "kind", "account_no", "customer_id", "field", "value")


def _text(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return value


def _queries() -> dict[str, Any]:
    """One statement per file, each in its table's key order."""
    return {
        "customers": select(
            BillingCustomer.customer_id,
            BillingCustomer.name,
            BillingCustomer.last_name,
            BillingCustomer.mailing_address,
        ).order_by(BillingCustomer.customer_id),
        "accounts": select(
            BillingAccount.account_no,
            BillingAccount.customer_id,
            BillingAccount.service_address,
            BillingAccount.route,
            BillingAccount.status,
            BillingAccount.bill_delivery,
            BillingAccount.opened_on,
            BillingAccount.closed_on,
        ).order_by(BillingAccount.account_no),
        "occupancies": select(
            BillingOccupancy.account_no,
            BillingOccupancy.customer_id,
            BillingOccupancy.start_date,
            BillingOccupancy.end_date,
        ).order_by(BillingOccupancy.account_no, BillingOccupancy.customer_id, BillingOccupancy.start_date),
        "services": select(
            BillingService.account_no,
            BillingService.service,
            BillingService.code,
            BillingService.start_date,
            BillingService.stop_date,
            BillingService.status,
            BillingService.metered,
        ).order_by(BillingService.account_no, BillingService.code, BillingService.start_date),
        "bills": select(
            BillingBill.bill_no,
            BillingBill.account_no,
            BillingBill.customer_id,
            BillingBill.bill_date,
            BillingBill.due_date,
            BillingBill.amount_cents,
            BillingBill.balance_cents,
            BillingBill.is_final,
        ).order_by(BillingBill.bill_no),
        "bill_lines": select(
            BillingBillLine.bill_no,
            BillingBillLine.line_no,
            BillingBillLine.service,
            BillingBillLine.description,
            BillingBillLine.amount_cents,
        ).order_by(BillingBillLine.bill_no, BillingBillLine.line_no),
        "payments": select(
            BillingPayment.payment_id,
            BillingPayment.account_no,
            BillingPayment.customer_id,
            BillingPayment.bill_no,
            BillingPayment.posted_on,
            BillingPayment.amount_cents,
            BillingPayment.method,
            BillingPayment.reference,
        ).order_by(BillingPayment.payment_id),
        "meter_reads": select(
            BillingMeterRead.account_no,
            BillingMeterRead.service,
            BillingMeterRead.period_start,
            BillingMeterRead.period_end,
            BillingMeterRead.consumption,
            BillingMeterRead.unit,
        ).order_by(BillingMeterRead.account_no, BillingMeterRead.service, BillingMeterRead.period_start),
    }


def write_extract(engine: Engine, directory: Path, *, today: date) -> dict[str, int]:
    """Write the read model as a full extract into ``directory``; return the rows written per file."""
    directory.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    queries = _queries()
    with engine.connect() as conn:
        for spec in SPECS:
            money = {i for i, c in enumerate(spec.columns) if c.kind == "money"}
            with (directory / spec.filename).open("w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(spec.names)
                count = 0
                rows = conn.execution_options(stream_results=True, yield_per=10_000).execute(queries[spec.kind])
                for row in rows:
                    writer.writerow([Money(int(v)).plain() if i in money else _text(v) for i, v in enumerate(row)])
                    count += 1
            counts[spec.kind] = count
    (directory / MANIFEST).write_text(
        f"extract_kind,since,generated_at,format_version\nfull,,{today.isoformat()},{FORMAT_VERSION}\n", "utf-8"
    )
    return counts


# --- the outbox --------------------------------------------------------------------------------------


def record_change(
    session: Session,
    kind: str,
    *,
    account_no: str,
    customer_id: str,
    field: str,
    value: str,
    resident_id: int | None,
    now: datetime,
) -> PortalChange:
    """Add a change to the outbox in the caller's transaction (so it exists if and only if the change does).

    The caller, above the links, retires the pages kept for the account in the same transaction
    (``app.accounts.service.retire_kept_pages``).
    """
    change = PortalChange(
        kind=kind,
        account_no=account_no,
        customer_id=customer_id,
        field=field,
        value=value,
        resident_id=resident_id,
        created_at=now,
    )
    session.add(change)
    return change


@dataclass(frozen=True)
class ExportResult:
    """Files written (names inside the folder) and changes in them."""

    files: list[str]
    changes: int


def _write_atomically(directory: Path, name: str, rows: Iterator[tuple[object, ...]]) -> None:
    """Write ``name`` via a temporary file, fsync, rename, fsync of the folder: it appears whole or not at all."""
    temporary = directory / f".{name}.tmp"
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(CHANGE_COLUMNS)
        writer.writerows(rows)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, directory / name)
    fsync_dir(directory)


def _rows(session: Session, name: str) -> Iterator[tuple[object, ...]]:
    for change in session.scalars(select(PortalChange).filter_by(export_file=name).order_by(PortalChange.id)):
        # Always with its offset, +00:00: SQLite hands the time back without one, PostgreSQL in its own zone.
        stamp = as_utc(change.created_at).astimezone(UTC).isoformat() if change.created_at else ""
        yield (change.id, stamp, change.kind, change.account_no, change.customer_id, change.field, change.value)


def export_changes(engine: Engine, directory: Path, *, now: datetime | None = None) -> ExportResult:
    """Write every change not yet exported to one new CSV file in ``directory``; never twice, never lost.

    First the pending changes are assigned to a file name (committed), then the file is written atomically,
    then they are marked exported. A run that died after assigning finishes that file first: if the file is
    there it was written, otherwise it is written again under the same name. Changes are picked by id, not
    by range, so one committed late by a slow transaction is simply in the next file. One export at a time.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    total = 0
    with import_lock(engine, "export"), Session(engine) as session:
        unfinished = session.scalars(
            select(PortalChange.export_file)
            .where(PortalChange.export_file.is_not(None), PortalChange.exported_at.is_(None))
            .distinct()
        ).all()
        for name in unfinished:
            assert name is not None
            if not (directory / name).exists():
                _write_atomically(directory, name, _rows(session, name))
            total += _mark_exported(session, name)
            written.append(name)
        ids = session.scalars(
            select(PortalChange.id).where(PortalChange.export_file.is_(None)).order_by(PortalChange.id)
        ).all()
        if ids:
            stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%S")
            name = f"portal-changes-{stamp}-{ids[0]:09d}.csv"
            for start in range(0, len(ids), 1000):
                session.execute(
                    update(PortalChange).where(PortalChange.id.in_(ids[start : start + 1000])).values(export_file=name)
                )
            session.commit()
            _write_atomically(directory, name, _rows(session, name))
            total += _mark_exported(session, name)
            written.append(name)
    return ExportResult(written, total)


def _mark_exported(session: Session, name: str) -> int:
    result = session.execute(
        update(PortalChange)
        .where(PortalChange.export_file == name, PortalChange.exported_at.is_(None))
        .values(exported_at=utcnow())
    )
    session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
