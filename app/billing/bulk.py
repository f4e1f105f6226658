"""The PostgreSQL fast path of a full import: the server parses, checks and builds, Python only streams bytes.

Each CSV file goes as it is into a temporary staging table with ``COPY ... (FORMAT csv)`` (amounts are
parsed there, the rest stays text). One query per file checks every value against the same rules as
``app.billing.extract`` (typed views cast them, accepting only what the row rules accept), and the new read
model is built in a schema of its own (``billing_next``) with the live tables' exact definition: rows
first, then keys, indexes, statistics and foreign keys (each phase timed, see ``--timings``). The swap
drops the live tables and moves the new ones into place in the same transaction, so readers keep the old
data until the commit and wait only for the moves.

Anything unexpected (a COPY error, a value that breaks a rule, a duplicate key, a row pointing at nothing)
makes this path give up (its savepoint is rolled back) and the import runs the row-by-row path instead,
which either reports every problem with its file, line and column, or loads what the server did not like.
"""

from __future__ import annotations

import codecs
import csv
import io
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, MetaData, Table, UniqueConstraint
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable

from app.billing.extract import SPEC_BY_KIND, SPECS, Column, FileSpec, Mapping, Source
from app.extensions import db

SCHEMA = "billing_next"
#: Live tables in parent-first order (the read model; announcements and links are not part of it).
TABLES = (
    "billing_customer",
    "billing_account",
    "billing_occupancy",
    "billing_service",
    "billing_bill",
    "billing_bill_line",
    "billing_payment",
    "billing_meter_read",
)
#: Memory PostgreSQL may use for the import's hash joins and index builds (server side, per operation).
WORK_MEM = "256MB"
MAINTENANCE_WORK_MEM = "1GB"


def phase_timer(phases: dict[str, float], started: float) -> Callable[[str], None]:
    """A function that records, under a phase's name, the seconds since the previous phase ended."""
    last = started

    def mark(phase: str) -> None:
        nonlocal last
        now = time.monotonic()
        phases[phase] = phases.get(phase, 0.0) + now - last
        last = now

    return mark


class GiveUp(Exception):
    """The fast path cannot vouch for this extract; the row-by-row path takes over."""


def usable(mapping: Mapping) -> bool:
    """The server's own parsers match the documented formats only (a mapping may still rename)."""
    default = Mapping()
    return (
        mapping.date_format == default.date_format
        and mapping.decimal_separator == default.decimal_separator
        and mapping.thousands_separator == default.thousands_separator
        and mapping.true_values == default.true_values
        and mapping.false_values == default.false_values
    )


def _raw(spec: FileSpec) -> str:
    return f"stage_raw_{spec.kind}"


def _staged_type(column: Column) -> str:
    """The staging column's type: amounts are parsed by COPY itself, everything else stays text."""
    return "numeric" if column.kind == "money" else "text"


def _typed(column: Column, mapping: Mapping) -> str:
    """SQL for the typed value of a staged column; a value that breaks a rule makes the statement fail.

    Required values come out NULL when missing (COPY reads empty fields, quoted or not, as NULL), and the
    new tables' NOT NULL constraints refuse them; lengths are refused by the columns' own sizes; a
    value that does not match its rule is cast in a way that must fail (the text is never constant, so
    the error happens only for such a row). Values are not trimmed: one with spaces around it fails its
    check, and the row-by-row path takes over.
    """
    value = column.name
    if column.kind == "str":
        if column.choices:
            return f"CASE WHEN lower({value}) IN ({', '.join(repr(c) for c in column.choices)}) THEN lower({value}) END"
        return value
    if column.kind == "date":
        # Only the canonical form (2026-01-31), which reads back as itself (DateStyle is ISO here):
        # strptime's %Y-%m-%d reads it the same way, and the server's lenient parser goes unused.
        return f"CASE WHEN {value}::date::text = {value} THEN {value}::date ELSE ('not a date: ' || {value})::date END"
    if column.kind == "money":
        # COPY parsed the number; at most two decimals (by value, as parse_money) and under 10**12.
        return (
            f"CASE WHEN {value} = round({value}, 2) AND abs({value}) < 1e12 THEN ({value} * 100)::bigint "
            f"ELSE ('not an amount: ' || {value})::bigint END"
        )
    if column.kind == "int":
        # Likewise only digits with an optional minus sign (no "+", spaces or leading zeros).
        return (
            f"CASE WHEN {value}::bigint::text = {value} THEN {value}::bigint "
            f"ELSE ('not a whole number: ' || {value})::bigint END"
        )
    trues = ", ".join(repr(v) for v in mapping.true_values)
    falses = ", ".join(repr(v) for v in mapping.false_values)
    return (
        f"CASE WHEN lower({value}) IN ({trues}) THEN true WHEN lower({value}) IN ({falses}) THEN false "
        f"ELSE ('not true or false: ' || {value})::boolean END"
    )


def _header(source: Source, name: str) -> tuple[list[str], bool]:
    """The header's names, and whether the file starts with a UTF-8 byte order mark."""
    with source.open(name) as stream:
        first = stream.readline(1 << 16)
    bom = first.startswith(codecs.BOM_UTF8)
    try:
        text = first[len(codecs.BOM_UTF8) if bom else 0 :].decode("utf-8")
        return [h.strip() for h in next(csv.reader(io.StringIO(text)))], bom
    except (UnicodeDecodeError, StopIteration, csv.Error):
        raise GiveUp() from None


def _copy(conn: Connection, source: Source, spec: FileSpec, mapping: Mapping, progress: Callable[[int], None]) -> int:
    """COPY one file, as it is, into its text staging table; return the rows copied."""
    name = mapping.filename(spec)
    header, bom = _header(source, name)
    by_header = {mapping.header(spec, c): c for c in spec.names}
    absent = [c.name for c in spec.columns if c.may_be_absent and mapping.header(spec, c.name) not in header]
    expected = sorted(h for h, c in by_header.items() if c not in absent)
    if sorted(header) != expected or len(set(header)) != len(header):
        raise GiveUp()
    ordered = [by_header[h] for h in header]
    types = {c.name: _staged_type(c) for c in spec.columns}
    columns = ", ".join(f"{c} {types[c]}" for c in (*ordered, *absent))  # a column left out of the file stays NULL
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {_raw(spec)} ({columns})")
    raw: Any = conn.connection.driver_connection
    last = b""
    with (
        source.open(name) as stream,
        raw.cursor() as cursor,
    ):
        with cursor.copy(
            f"COPY {_raw(spec)} ({', '.join(ordered)}) FROM STDIN "
            f"(FORMAT csv, HEADER true, ENCODING 'UTF8', FORCE_NULL ({', '.join(ordered)}))"
        ) as copy:
            if bom:
                stream.read(len(codecs.BOM_UTF8))
            while chunk := stream.read(1 << 20):
                copy.write(chunk)
                progress(len(chunk))
                last = chunk
        count = int(cursor.rowcount)
    if not last.endswith(b"\n"):
        raise GiveUp()  # truncated: let the row-by-row path say where
    return count


def _next_metadata() -> MetaData:
    """The live read model's tables, as they are declared, in the ``billing_next`` schema."""
    metadata = MetaData(naming_convention=db.metadata.naming_convention)
    for name in TABLES:
        db.metadata.tables[name].to_metadata(metadata, schema=SCHEMA)
    return metadata


def load_full(
    conn: Connection,
    source: Source,
    mapping: Mapping,
    *,
    statements: tuple[tuple[str, str, str, str], ...],
    progress: Callable[[int], None],
    after_rows: Callable[[Connection], None],
    checkpoint: Callable[[str], None],
    phases: dict[str, float],
) -> dict[str, int]:
    """Load and swap in a full extract; raises GiveUp (after rolling its work back) when it cannot vouch.

    ``statements`` are the importer's ``INSERT ... SELECT`` (table, columns, values, from), written
    against typed staging tables named ``stage_<kind>`` and live table names; here they run with
    ``billing_next`` first on the search path. ``after_rows`` runs in the new tables before the indexes.
    """
    started = time.monotonic()
    savepoint = conn.begin_nested()
    try:
        counts = _load(conn, source, mapping, statements, progress, after_rows, checkpoint, phases, started)
    except Exception:
        savepoint.rollback()
        raise
    savepoint.commit()
    return counts


def _load(
    conn: Connection,
    source: Source,
    mapping: Mapping,
    statements: tuple[tuple[str, str, str, str], ...],
    progress: Callable[[int], None],
    after_rows: Callable[[Connection], None],
    checkpoint: Callable[[str], None],
    phases: dict[str, float],
    started: float,
) -> dict[str, int]:
    mark = phase_timer(phases, started)
    # Estimates on fresh tables are huge and wrong: compiling every query (JIT) costs more than it saves.
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")
    counts: dict[str, int] = {}
    try:
        for spec in SPECS:
            counts[spec.kind] = _copy(conn, source, spec, mapping, progress)
            mark(f"copy {spec.kind}")
    except GiveUp:
        raise
    except Exception as exc:  # a COPY error: bad encoding, a wrong number of fields, broken quoting, an amount
        raise GiveUp() from exc
    checkpoint("loaded")
    for spec in SPECS:
        typed = ", ".join(f"{_typed(c, mapping)} AS {c.name}" for c in spec.columns)
        conn.exec_driver_sql(f"CREATE TEMPORARY VIEW stage_{spec.kind} AS SELECT {typed} FROM {_raw(spec)}")
    metadata = _next_metadata()
    conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    conn.exec_driver_sql(f"CREATE SCHEMA {SCHEMA}")
    conn.exec_driver_sql(f"SET LOCAL search_path TO {SCHEMA}, public")
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
    # Fresh tables have no statistics; a nested loop over them would be quadratic, so joins hash or merge.
    conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
    conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
    tables: list[Table] = [metadata.tables[f"{SCHEMA}.{name}"] for name in TABLES]
    # Keys (primary and unique) are added after the rows: one sorted build each, and a duplicate fails it.
    uniques = {t.name: [c for c in t.constraints if isinstance(c, UniqueConstraint)] for t in tables}
    for table in tables:
        for constraint in uniques[table.name]:
            table.constraints.discard(constraint)
        conn.execute(CreateTable(table, include_foreign_key_constraints=[]))
        conn.exec_driver_sql(f"ALTER TABLE {table.name} DROP CONSTRAINT {table.primary_key.name}")
    by_name = {t.name: t for t in tables}
    mark("new tables")
    expected = dict(zip(TABLES, (counts[s.kind] for s in SPECS), strict=True))
    try:
        for table_name, columns, values, from_clause in statements:
            inserted = conn.exec_driver_sql(f"INSERT INTO {table_name} ({columns}) SELECT {values} FROM {from_clause}")
            if inserted.rowcount != expected[table_name]:
                raise GiveUp()  # a join lost rows (they point at nothing) or a duplicate key multiplied them
            mark(f"insert {table_name}")
            if table_name in ("billing_account", "billing_bill"):
                # Later joins look these up by key: build that key now (a duplicate fails it here).
                conn.execute(AddConstraint(by_name[table_name].primary_key))
                for constraint in uniques[table_name]:
                    conn.execute(AddConstraint(constraint))
                uniques[table_name] = []
                mark(f"keys {table_name}")
        # Payments name their bill when they have one; customers must exist for every account and bill.
        linked = conn.exec_driver_sql(
            "SELECT (SELECT COUNT(*) FROM stage_raw_payments WHERE bill_no IS NOT NULL), "
            "(SELECT COUNT(*) FROM billing_payment WHERE bill_no IS NOT NULL)"
        ).one()
        orphan_payment = linked[0] != linked[1]
        orphan_customer = False
        for kind in ("accounts", "occupancies", "bills"):
            found = conn.exec_driver_sql(
                f"SELECT COUNT(*) FROM {_raw(SPEC_BY_KIND[kind])} s "
                "JOIN billing_customer c ON c.customer_id = s.customer_id"
            ).scalar()
            orphan_customer = orphan_customer or found != counts[kind]
        if orphan_payment or orphan_customer:
            raise GiveUp()
        mark("orphan checks")
        for table in tables:
            if table.name in ("billing_account", "billing_bill"):
                continue  # built above
            conn.execute(AddConstraint(table.primary_key))
            for constraint in uniques[table.name]:
                conn.execute(AddConstraint(constraint))
            mark(f"keys {table.name}")
    except DBAPIError as exc:  # a value broke a rule, or a key is not unique
        raise GiveUp() from exc
    after_rows(conn)
    mark("pending portal changes")
    for table in tables:
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            conn.execute(CreateIndex(index))
        mark(f"indexes {table.name}")
    for table in tables:
        conn.exec_driver_sql(f"ANALYZE {SCHEMA}.{table.name}")
    mark("analyze")
    try:
        for table in tables:
            for foreign_key in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
                conn.execute(AddConstraint(foreign_key))
            mark(f"foreign keys {table.name}")
    except DBAPIError as exc:  # a row points at nothing
        raise GiveUp() from exc
    checkpoint("built")
    # From here to the commit (moments) readers of the read model wait instead of reading the old tables.
    for name in reversed(TABLES):
        conn.exec_driver_sql(f"DROP TABLE public.{name}")
    for name in TABLES:
        conn.exec_driver_sql(f"ALTER TABLE {SCHEMA}.{name} SET SCHEMA public")
    conn.exec_driver_sql(f"DROP SCHEMA {SCHEMA}")
    conn.exec_driver_sql("SET LOCAL search_path TO DEFAULT")
    conn.exec_driver_sql("SET LOCAL enable_nestloop TO DEFAULT")
    conn.exec_driver_sql("SET LOCAL jit TO DEFAULT")
    conn.exec_driver_sql("SET LOCAL DateStyle TO DEFAULT")
    for spec in SPECS:
        conn.exec_driver_sql(f"DROP VIEW stage_{spec.kind}")
        conn.exec_driver_sql(f"DROP TABLE {_raw(spec)}")
    mark("swap")
    return counts
