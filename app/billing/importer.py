"""Loading a billing extract into the read model: validate, stage, then swap in one transaction.

``import_extract`` works on one connection and never commits: every row is checked as it streams into
temporary staging tables (PostgreSQL ``COPY``, SQLite batched inserts), the cross-row rules run in SQL on
the staging tables, and only then are the live tables replaced (full extract) or updated by key
(incremental) with ``INSERT ... SELECT``. The caller commits that one transaction, so a reader sees the old
data or the new, never a mix, and a process killed at any point leaves the old data (temporary tables
vanish with their connection). ``run_import`` adds what the command needs around it: one import at a
time, the checksum that makes a second run of the same extract a no-op, and the record of every run.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.orm import Session

from app.billing import bulk
from app.billing.extract import (
    FULL,
    INCREMENTAL,
    MANIFEST,
    SPECS,
    ExtractError,
    FileSpec,
    Mapping,
    Problems,
    Source,
    Value,
    combined_checksum,
    read_manifest,
    read_rows,
)
from app.billing.models import BillingImport, BillingLabel, PortalChange
from app.core.clock import utcnow

#: The key of the PostgreSQL advisory lock held while an import runs ("BILLIMP1").
LOCK_KEY = 0x42494C4C494D5031
SQLITE_BATCH = 5000
#: Test seam: ``BILLING_IMPORT_PAUSE_AT=<checkpoint>`` makes the import stop there (to be killed).
PAUSE_ENV = "BILLING_IMPORT_PAUSE_AT"

SQL_TYPES = {"str": "TEXT", "date": "DATE", "money": "BIGINT", "int": "BIGINT", "bool": "BOOLEAN"}


class ImportBusy(Exception):
    """Another import is running."""


@dataclass
class ImportResult:
    """What an import did: its outcome, the extract's kind and checksum, rows per file, and problems."""

    outcome: str
    kind: str = FULL
    checksum: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    problems: Problems = field(default_factory=Problems)
    seconds: float = 0.0
    #: Seconds spent in each phase, in order (checksum, copy, checks, keys, indexes...), for staff and the benchmark.
    phases: dict[str, float] = field(default_factory=dict)


def checkpoint(name: str) -> None:
    """Stop here when the test seam asks to (``BILLING_IMPORT_PAUSE_AT``), so a test can kill the process."""
    if os.environ.get(PAUSE_ENV) == name:
        print(f"paused at {name}", file=sys.stderr, flush=True)
        time.sleep(3600)


def stage_table(spec: FileSpec) -> str:
    """The staging table of one file."""
    return f"stage_{spec.kind}"


def _files_for(kind: str) -> tuple[FileSpec, ...]:
    return tuple(s for s in SPECS if kind == FULL or s.incremental)


def _create_staging(conn: Connection, specs: tuple[FileSpec, ...]) -> None:
    for spec in specs:
        table = stage_table(spec)
        columns = ", ".join(f"{c.name} {SQL_TYPES[c.kind]}" for c in spec.columns)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
        conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {table} (src_line BIGINT NOT NULL, {columns})")


def _drop_staging(conn: Connection, specs: tuple[FileSpec, ...]) -> None:
    for spec in specs:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage_table(spec)}")


def _copy_field(value: Value) -> str:
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def _load_postgres(conn: Connection, spec: FileSpec, rows: Iterator[tuple[int, tuple[Value, ...]]]) -> int:
    """Stream rows into the staging table with COPY (text format, built here in 1 MB chunks)."""
    raw: Any = conn.connection.driver_connection
    count = 0
    columns = ", ".join(("src_line", *spec.names))
    with raw.cursor() as cursor, cursor.copy(f"COPY {stage_table(spec)} ({columns}) FROM STDIN") as copy:
        chunk: list[str] = []
        size = 0
        for line, values in rows:
            record = str(line) + "\t" + "\t".join(map(_copy_field, values)) + "\n"
            chunk.append(record)
            size += len(record)
            count += 1
            if size > 1 << 20:
                copy.write("".join(chunk))
                chunk, size = [], 0
        if chunk:
            copy.write("".join(chunk))
    return count


def _load_sqlite(conn: Connection, spec: FileSpec, rows: Iterator[tuple[int, tuple[Value, ...]]]) -> int:
    """Insert rows into the staging table in batches (dates as ISO text, as SQLAlchemy stores them)."""
    raw: Any = conn.connection.driver_connection
    marks = ", ".join("?" * (len(spec.columns) + 1))
    statement = f"INSERT INTO {stage_table(spec)} VALUES ({marks})"
    count = 0
    batch: list[tuple[Any, ...]] = []
    cursor = raw.cursor()
    try:
        for line, values in rows:
            batch.append((line, *(v.isoformat() if isinstance(v, date) else v for v in values)))
            if len(batch) >= SQLITE_BATCH:
                cursor.executemany(statement, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(statement, batch)
            count += len(batch)
    finally:
        cursor.close()
    return count


# --- cross-row rules, checked on the staging tables ------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """Rows of ``child`` whose ``columns`` must name a row of ``parent`` (``parent_columns``)."""

    child: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    live: str  #: the live table and columns that also count as parents in an incremental extract
    optional: bool = False


REFERENCES = (
    Reference("accounts", ("customer_id",), "customers", ("customer_id",), ""),
    Reference("occupancies", ("account_no",), "accounts", ("account_no",), ""),
    Reference("occupancies", ("customer_id",), "customers", ("customer_id",), ""),
    Reference("services", ("account_no",), "accounts", ("account_no",), ""),
    Reference("bills", ("account_no",), "accounts", ("account_no",), "billing_account.account_no"),
    Reference("bills", ("customer_id",), "customers", ("customer_id",), "billing_customer.customer_id"),
    Reference("bill_lines", ("bill_no",), "bills", ("bill_no",), "billing_bill.bill_no"),
    Reference("payments", ("account_no",), "accounts", ("account_no",), "billing_account.account_no"),
    Reference("payments", ("bill_no",), "bills", ("bill_no",), "billing_bill.bill_no", optional=True),
    Reference("meter_reads", ("account_no",), "accounts", ("account_no",), "billing_account.account_no"),
)


def _check_keys(conn: Connection, mapping: Mapping, specs: tuple[FileSpec, ...], problems: Problems) -> None:
    for spec in specs:
        key = ", ".join(spec.key)
        rows = conn.exec_driver_sql(
            f"SELECT {key}, MIN(src_line), MAX(src_line), COUNT(*) FROM {stage_table(spec)} "
            f"GROUP BY {key} HAVING COUNT(*) > 1 ORDER BY MIN(src_line) LIMIT 100"
        ).all()
        for row in rows:
            values = ", ".join(str(v) for v in row[: len(spec.key)])
            problems.add(
                mapping.filename(spec),
                int(row[-2]),
                "+".join(mapping.header(spec, k) for k in spec.key),
                f"duplicate key {values} (first on line {row[-3]}, {row[-1]} rows)",
            )


def _check_references(conn: Connection, mapping: Mapping, kind: str, problems: Problems) -> None:
    names = {s.kind for s in _files_for(kind)}
    for ref in REFERENCES:
        if ref.child not in names:
            continue
        child = SPECS_BY_KIND[ref.child]
        parents: list[str] = []
        column = ref.columns[0]
        if ref.parent in names:
            parents.append(f"SELECT 1 FROM stage_{ref.parent} p WHERE p.{ref.parent_columns[0]} = c.{column}")
        if kind == INCREMENTAL and ref.live:
            table, live_column = ref.live.split(".")
            parents.append(f"SELECT 1 FROM {table} p WHERE p.{live_column} = c.{column}")
        condition = " AND ".join(f"NOT EXISTS ({p})" for p in parents) or "1 = 1"
        if ref.optional:
            condition = f"c.{column} IS NOT NULL AND {condition}"
        for line, value in conn.exec_driver_sql(
            f"SELECT c.src_line, c.{column} FROM stage_{ref.child} c WHERE {condition} ORDER BY c.src_line LIMIT 100"
        ):
            parent_file = mapping.filename(SPECS_BY_KIND[ref.parent])
            problems.add(
                mapping.filename(child),
                int(line),
                mapping.header(child, column),
                f"{value!r} is not in {parent_file}" + (" or the current data" if kind == INCREMENTAL else ""),
            )


SPECS_BY_KIND = {s.kind: s for s in SPECS}


# --- the swap ----------------------------------------------------------------------------------------

LIVE_FULL = (
    # (live table, its columns, SELECT list, FROM clause) in parent-first order
    (
        "billing_customer",
        "customer_id, name, last_name, mailing_address",
        "s.customer_id, s.name, s.last_name, s.mailing_address",
        "stage_customers s",
    ),
    (
        "billing_account",
        "account_no, customer_id, service_address, route, status, bill_delivery, opened_on, closed_on",
        "s.account_no, s.customer_id, s.service_address, COALESCE(s.route, ''), s.status, s.bill_delivery, "
        "s.opened_on, s.closed_on",
        "stage_accounts s",
    ),
    (
        "billing_occupancy",
        "account_no, customer_id, start_date, end_date",
        "s.account_no, s.customer_id, s.start_date, s.end_date",
        "stage_occupancies s",
    ),
    (
        "billing_service",
        "account_no, service, code, start_date, stop_date, status, metered",
        "s.account_no, s.service, s.code, s.start_date, s.stop_date, s.status, s.metered",
        "stage_services s",
    ),
)
LIVE_HISTORY = (
    # (live table, its columns, SELECT list, FROM clause, key to update by in an incremental extract)
    (
        "billing_bill",
        "bill_no, account_no, customer_id, bill_date, due_date, amount_cents, balance_cents, is_final",
        "s.bill_no, s.account_no, s.customer_id, s.bill_date, s.due_date, s.amount, s.balance, s.is_final",
        "stage_bills s",
        "bill_no",
    ),
    (
        "billing_bill_line",
        "bill_no, line_no, service, description, amount_cents",
        "s.bill_no, s.line_no, s.service, s.description, s.amount",
        "stage_bill_lines s",
        "",
    ),
    (
        "billing_payment",
        "payment_id, account_no, customer_id, bill_no, posted_on, amount_cents, method, reference",
        "s.payment_id, s.account_no, s.customer_id, s.bill_no, s.posted_on, s.amount, s.method, s.reference",
        "stage_payments s",
        "payment_id",
    ),
    (
        "billing_meter_read",
        "account_no, service, period_start, period_end, consumption, unit",
        "s.account_no, s.service, s.period_start, s.period_end, s.consumption, s.unit",
        "stage_meter_reads s",
        "account_no, service, period_start",
    ),
)
#: Children first, for deleting.
LIVE_TABLES = (
    "billing_bill_line",
    "billing_payment",
    "billing_meter_read",
    "billing_bill",
    "billing_service",
    "billing_occupancy",
    "billing_account",
    "billing_customer",
)


def _swap_full(conn: Connection) -> None:
    for table in LIVE_TABLES:
        conn.exec_driver_sql(f"DELETE FROM {table}")
    for table, columns, values, source in LIVE_FULL:
        conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) SELECT {values} FROM {source}")
    for table, columns, values, source, _ in LIVE_HISTORY:
        conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) SELECT {values} FROM {source}")


def _swap_incremental(conn: Connection) -> None:
    """Add and update by key; nothing the extract does not name is deleted."""
    # A bill in the extract brings all its lines: the old lines of those bills go.
    conn.exec_driver_sql("DELETE FROM billing_bill_line WHERE bill_no IN (SELECT bill_no FROM stage_bills)")
    conn.exec_driver_sql("DELETE FROM billing_bill_line WHERE bill_no IN (SELECT bill_no FROM stage_bill_lines)")
    for table, columns, values, source, key in LIVE_HISTORY:
        if not key:
            conn.exec_driver_sql(f"INSERT INTO {table} ({columns}) SELECT {values} FROM {source}")
            continue
        keys = {k.strip() for k in key.split(",")}
        updates = ", ".join(f"{c} = excluded.{c}" for c in (c.strip() for c in columns.split(",")) if c not in keys)
        # "WHERE 1 = 1" lets SQLite tell the upsert clause from a join constraint.
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({columns}) SELECT {values} FROM {source} WHERE 1 = 1 "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )


def _reapply(conn: Connection) -> None:
    """Changes residents made that the billing system has not received yet still hold after an import."""
    pending = conn.execute(
        select(PortalChange.account_no, PortalChange.value)
        .where(PortalChange.kind == "bill_delivery", PortalChange.field == "bill_delivery")
        .where(PortalChange.exported_at.is_(None))
        .order_by(PortalChange.id)
    ).all()
    for account_no, value in pending:
        conn.execute(
            text("UPDATE billing_account SET bill_delivery = :v WHERE account_no = :a"), {"v": value, "a": account_no}
        )


def _store_labels(conn: Connection, mapping: Mapping) -> None:
    """The pages' labels become the mapping's (every import replaces them, so a label taken out goes)."""
    conn.execute(delete(BillingLabel))
    rows = [
        {"language": language, "service": service, "description": description, "label": label}
        for (language, service, description), label in mapping.labels.items()
    ]
    if rows:
        conn.execute(insert(BillingLabel), rows)


def import_extract(
    conn: Connection,
    source: Source,
    mapping: Mapping,
    *,
    progress: Callable[[int], None] = lambda n: None,
    hash_files: bool = False,
) -> ImportResult:
    """Validate and load the extract in ``conn``'s transaction; the caller commits only when it succeeded.

    Returns outcome ``"succeeded"`` with counts, or ``"refused"`` with the problems (then the caller rolls
    back, and nothing has changed). With ``hash_files``, the PostgreSQL fast path computes the extract's
    checksum while it reads the files (``result.checksum``; left empty when another path ran).
    """
    started = time.monotonic()
    problems = Problems()
    manifest = read_manifest(source, problems)
    specs = _files_for(manifest.kind)
    result = ImportResult("refused", kind=manifest.kind, problems=problems)
    names = {mapping.filename(s) for s in specs}
    for spec in specs:
        if not source.exists(mapping.filename(spec)):
            problems.add(mapping.filename(spec), 0, "", "the file is missing from the extract")
    if manifest.kind == INCREMENTAL:
        for spec in SPECS:
            if spec not in specs and source.exists(mapping.filename(spec)):
                problems.add(mapping.filename(spec), 0, "", "an incremental extract holds only " + ", ".join(names))
    if problems:
        return result
    if conn.dialect.name == "postgresql" and manifest.kind == FULL and bulk.usable(mapping):
        try:
            result.counts, digests = bulk.load_full(
                conn,
                source,
                mapping,
                progress=progress,
                after_rows=_reapply,
                checkpoint=checkpoint,
                phases=result.phases,
            )
        except bulk.GiveUp:
            # The row-by-row path below reports the problems, or loads what the server did not like.
            result.phases.clear()
            result.phases["fast path, given up"] = time.monotonic() - started
        else:
            if hash_files:
                files = [(mapping.filename(s), digests[mapping.filename(s)]) for s in SPECS]
                if source.exists(MANIFEST):
                    files.append((MANIFEST, source.file_digest(MANIFEST)))
                result.checksum = combined_checksum(files)
            _store_labels(conn, mapping)
            checkpoint("swapped")
            result.outcome = "succeeded"
            result.seconds = time.monotonic() - started
            return result
    mark = bulk.phase_timer(result.phases, time.monotonic())
    load = _load_postgres if conn.dialect.name == "postgresql" else _load_sqlite
    _create_staging(conn, specs)
    for spec in specs:
        rows = read_rows(source, spec, mapping, problems, progress)
        result.counts[spec.kind] = load(conn, spec, rows)
    checkpoint("loaded")
    mark("read, check and stage rows")
    if not problems:
        _check_keys(conn, mapping, specs, problems)
    if not problems:
        _check_references(conn, mapping, manifest.kind, problems)
    if problems:
        return result
    mark("duplicate and orphan checks")
    checkpoint("built")
    if manifest.kind == FULL:
        _swap_full(conn)
    else:
        _swap_incremental(conn)
    _reapply(conn)
    _store_labels(conn, mapping)
    _drop_staging(conn, specs)
    checkpoint("swapped")
    mark("swap")
    result.outcome = "succeeded"
    result.seconds = time.monotonic() - started
    return result


# --- one import at a time ----------------------------------------------------------------------------


@contextmanager
def import_lock(engine: Engine, name: str = "import") -> Iterator[None]:
    """Hold the import (or ``"export"``) lock: a PostgreSQL advisory lock, or a file lock beside SQLite's file.

    Both are released by the operating system or the server when the process dies, so a killed import
    never blocks the next one. Raises ImportBusy when another import holds it.
    """
    key = LOCK_KEY if name == "import" else LOCK_KEY + 1
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
                raise ImportBusy()
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.commit()
        return
    database = engine.url.database
    path = Path(f"{database}.{name}-lock") if database else Path(tempfile.gettempdir()) / f"portal-{name}.lock"
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ImportBusy() from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _record(engine: Engine, run_id: int | None, **values: Any) -> int:
    """Insert or update a run's row in its own short transaction (it must outlive a rolled-back import)."""
    with engine.begin() as conn:
        if run_id is None:
            # Holding the lock, any run still marked "running" died (killed or crashed).
            conn.execute(
                update(BillingImport)
                .where(BillingImport.outcome == "running")
                .values(outcome="interrupted", message="the process stopped before finishing")
            )
            key = conn.execute(BillingImport.__table__.insert().values(**values)).inserted_primary_key
            assert key is not None
            return int(key[0])
        conn.execute(update(BillingImport).where(BillingImport.id == run_id).values(**values))
        return run_id


def last_success(engine: Engine) -> BillingImport | None:
    """The latest import that changed the read model."""
    with Session(engine, expire_on_commit=False) as session:
        return session.scalar(
            select(BillingImport)
            .where(BillingImport.outcome == "succeeded")
            .order_by(BillingImport.finished_at.desc(), BillingImport.id.desc())
            .limit(1)
        )


def run_import(
    engine: Engine,
    path: Path,
    mapping: Mapping,
    *,
    progress: Callable[[int], None] = lambda n: None,
    on_start: Callable[[int], None] = lambda total: None,
    force: bool = False,
) -> ImportResult:
    """The whole ``flask billing import``: lock, checksum, import, commit, record.

    Raises ImportBusy or ExtractError (recorded as refused). ``on_start`` gets the number of bytes to read.
    ``force`` imports even an extract whose checksum is the last success's (the demo reloads that way).
    """
    with import_lock(engine):
        run_id = _record(engine, None, source=str(path)[:500], started_at=utcnow())
        started = time.monotonic()
        try:
            source = Source(path)
        except ExtractError as exc:
            _record(engine, run_id, outcome="refused", message=str(exc), error_count=1, finished_at=utcnow())
            raise
        try:
            files = [mapping.filename(s) for s in SPECS if source.exists(mapping.filename(s))]
            files += [MANIFEST] if source.exists(MANIFEST) else []
            size = sum(source.size(f) for f in files)
            previous = last_success(engine)
            checksum = ""
            phases: dict[str, float] = {}
            # Only an extract of the last success's size can be unchanged: hash that one first. Any other
            # is hashed while it is read (the PostgreSQL fast path), or after it was (the other paths).
            if previous is not None and previous.size_bytes == size and not force:
                checksum_started = time.monotonic()
                checksum = source.checksum(files)
                phases["checksum"] = time.monotonic() - checksum_started
            if previous is not None and previous.checksum == checksum and not force:
                result = ImportResult("unchanged", kind=previous.kind, checksum=checksum)
                result.counts = json.loads(previous.counts)
                with engine.begin() as conn:  # the mapping's labels may have changed all the same
                    _store_labels(conn, mapping)
            else:
                on_start(size)
                if engine.dialect.name == "postgresql":
                    bulk.drop_leftovers(engine)
                with engine.connect() as conn:
                    result = import_extract(conn, source, mapping, progress=progress, hash_files=not checksum)
                    result.phases = {**phases, **result.phases}
                    if not checksum and not result.checksum:  # a refused run is listed with it too
                        checksum_started = time.monotonic()
                        result.checksum = source.checksum(files)
                        result.phases["checksum"] = time.monotonic() - checksum_started
                    checksum = result.checksum or checksum
                    result.checksum = checksum
                    if result.outcome == "succeeded":
                        commit_started = time.monotonic()
                        conn.commit()
                        result.phases["commit"] = time.monotonic() - commit_started
                    else:
                        conn.rollback()
                        _drop_staging(conn, SPECS)
                        conn.commit()
        except ExtractError as exc:
            _record(engine, run_id, outcome="refused", message=str(exc), error_count=1, finished_at=utcnow())
            raise
        except BaseException as exc:
            _record(engine, run_id, outcome="failed", message=repr(exc)[:2000], finished_at=utcnow())
            raise
        finally:
            source.close()
        result.seconds = time.monotonic() - started
        _record(
            engine,
            run_id,
            outcome=result.outcome,
            kind=result.kind,
            checksum=checksum,
            size_bytes=size,
            counts=json.dumps(result.counts),
            error_count=result.problems.count,
            message="\n".join(str(p) for p in result.problems.listed[:20]),
            finished_at=utcnow(),
        )
        return result


def recent_imports(engine: Engine, limit: int = 20) -> list[BillingImport]:
    """The latest runs, newest first."""
    with Session(engine, expire_on_commit=False) as session:
        return list(
            session.scalars(
                select(BillingImport).order_by(BillingImport.started_at.desc(), BillingImport.id.desc()).limit(limit)
            )
        )
