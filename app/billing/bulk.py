"""The PostgreSQL fast path of a full import: each file is copied once, straight into its new table.

The new read model is built in a schema of its own (``billing_next_`` and a random suffix), two tables at a
time, each by a connection of its own. Each CSV file goes with ``COPY ... (FORMAT csv, FREEZE)`` into its
table there, created in the same transaction with the live table's columns plus, for every value that is
not text, a column that takes the file's text (a number for amounts). The typed column is computed from it
as the row is stored (a generated column), and ``CHECK`` constraints hold the rules of
``app.billing.extract`` (a date or a whole number must read back as exactly its text, so the server's
lenient parsers accept nothing the row rules refuse; an amount has at most two decimals; a choice or a
true/false is one of its words); lengths and required values are the columns' own. Python only streams
bytes, hashing each file on the way (the extract's checksum). Then, with no second pass over the rows: the
raw columns and the load's checks are dropped (catalog changes only), the primary key is built (a duplicate
fails it), the other indexes and the statistics, and that table is committed into the new schema, which
nothing reads. In the import's own transaction, customers are checked for every account, occupancy and
bill, and the foreign keys are added, whose validation is the one proof that every row points at its
account or bill. The swap drops the live tables and moves the new ones into place in that transaction, so
readers keep the old data until the commit and wait only for the moves.

Anything unexpected (a COPY error, a value that breaks a rule, a line too long to hand the server, a duplicate
key, a row pointing at nothing)
makes this path give up (its savepoint is rolled back, the new schema dropped) and the import runs the
row-by-row path instead, which either reports every problem with its file, line and column, or loads what
the server did not like. A killed import leaves its schema behind; the next one drops it first.
"""

from __future__ import annotations

import csv
import hashlib
import io
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import AddConstraint, CreateIndex

from app.billing.extract import MAX_LINE_BYTES, SPECS, Column, FileSpec, Mapping, Source
from app.database.db import db

#: The new tables are built in a schema of their own, named this and a random suffix (one per run).
SCHEMA_PREFIX = "billing_next"
#: The live table of each file, parent-first (the read model; announcements and links are not part of it).
TABLE_OF = {
    "customers": "billing_customer",
    "accounts": "billing_account",
    "occupancies": "billing_occupancy",
    "services": "billing_service",
    "bills": "billing_bill",
    "bill_lines": "billing_bill_line",
    "payments": "billing_payment",
    "meter_reads": "billing_meter_read",
}
TABLES = tuple(TABLE_OF[spec.kind] for spec in SPECS)
#: A file's column under another name in its table (amounts are stored in cents).
RENAMED = {"amount": "amount_cents", "balance": "balance_cents"}
#: Customers have no foreign key (a read-model row may outlive its customer); the load checks these instead.
CUSTOMER_REFERENCES = ("billing_account", "billing_occupancy", "billing_bill")
#: Memory PostgreSQL may use for the import's hash joins and index builds (server side, per operation).
WORK_MEM = "256MB"
MAINTENANCE_WORK_MEM = "512MB"
#: Tables built at a time, each by its own connection (and server process): the machine's cores are the limit.
WORKERS = 2
RAW = "__raw"


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


#: References the foreign keys (accounts, bills) or the customer checks prove exact, by the file that keys
#: them: a padded one there fails those, so only the key's own file checks it (see :func:`_identifies`).
PROVEN = {"account_no": "accounts", "bill_no": "bills", "customer_id": "customers"}
#: Identifying text nothing else proves: payments are not checked against customers, nor references at all.
UNPROVEN = frozenset({("payments", "customer_id"), ("payments", "reference")})
#: The whitespace Python's ``str.strip`` removes from ASCII text, as a PostgreSQL string.
UNPADDED = "E' \\t\\n\\r\\x0b\\x0c'"


def _quoted(values: tuple[str, ...]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _target(column: Column) -> str:
    """The table column that COPY fills from the file's column: the value itself, or its raw text."""
    name = RENAMED.get(column.name, column.name)
    return name if column.kind == "str" else name + RAW


def _column_ddl(
    column: Column, table: Table, mapping: Mapping, dialect: Any, *, identifies: bool = False
) -> tuple[list[str], list[str]]:
    """Column definitions for one file column, and the CHECK expressions that carry its rules.

    ``identifies``: the text is a key or points at a row, and must come without the spaces the row rules
    strip (a report writer's padding, `` 100001``), or links and joins would miss it.
    """
    name = RENAMED.get(column.name, column.name)
    sql_type = table.c[name].type.compile(dialect=dialect)
    not_null = " NOT NULL" if column.required else ""
    if column.kind == "str":
        checks = [f"{name} IN ({_quoted(column.choices)})"] if column.choices else []
        if identifies and not column.choices:
            checks.append(f"{name} = btrim({name}, {UNPADDED})")
        return [f"{name} {sql_type}{not_null}"], checks
    raw = name + RAW
    if column.kind == "money":
        # COPY parses the number; at most two decimals (by value, as Money.from_plain) and under 10**12.
        return (
            [f"{raw} numeric", f"{name} {sql_type} GENERATED ALWAYS AS (({raw} * 100)::{sql_type}) STORED{not_null}"],
            [f"{raw} = round({raw}, 2) AND abs({raw}) < 1e12"],
        )
    if column.kind == "date":
        # Only the canonical form (2026-01-31), which reads back as itself (DateStyle is ISO here), as
        # strptime's %Y-%m-%d reads it; the server's lenient date parser (and its "today") goes unused.
        parts = f"substr({raw}, 1, 4)::int, substr({raw}, 6, 2)::int, substr({raw}, 9, 2)::int"
        return (
            [f"{raw} text", f"{name} date GENERATED ALWAYS AS (make_date({parts})) STORED{not_null}"],
            [f"{name}::text = {raw}"],
        )
    if column.kind == "int":
        # Likewise only digits with an optional minus sign (no "+", spaces or leading zeros).
        return (
            [f"{raw} text", f"{name} {sql_type} GENERATED ALWAYS AS ({raw}::{sql_type}) STORED{not_null}"],
            [f"{name}::text = {raw}"],
        )
    trues = _quoted(mapping.true_values)
    words = _quoted(mapping.true_values + mapping.false_values)
    return (
        [f"{raw} text", f"{name} boolean GENERATED ALWAYS AS (lower({raw}) IN ({trues})) STORED{not_null}"],
        [f"lower({raw}) IN ({words})"],
    )


def _identifies(spec: FileSpec, column: Column) -> bool:
    """Whether a padded value of this text column must be caught by its own check (keys, unproven references)."""
    if column.kind != "str" or column.choices:
        return False
    if (spec.kind, column.name) in UNPROVEN:
        return True
    home = PROVEN.get(column.name)
    return spec.kind == home if home is not None else column.name in spec.key


def _create(conn: Connection, spec: FileSpec, table: Table, mapping: Mapping) -> int:
    """Create the new table of one file, with its raw columns and the load's checks (no keys yet).

    Returns the number of checks.
    """
    columns: list[str] = []
    checks: list[str] = []
    for column in spec.columns:
        definitions, rules = _column_ddl(column, table, mapping, conn.dialect, identifies=_identifies(spec, column))
        columns += definitions
        checks += rules
    constraints = [f"CONSTRAINT load_check_{n} CHECK ({check})" for n, check in enumerate(checks)]
    conn.exec_driver_sql(f"CREATE TABLE {table.schema}.{table.name} ({', '.join(columns + constraints)})")
    return len(checks)


def _settle(conn: Connection, spec: FileSpec, table: Table, checks: int) -> None:
    """Make the loaded table the live table's shape: typed columns only, the live columns' NOT NULLs.

    Catalog changes only: the generated columns keep their values as ordinary columns, and the raw ones
    are marked dropped (their bytes stay in the rows until the next full import replaces the table).
    """
    actions = [f"DROP CONSTRAINT load_check_{n}" for n in range(checks)]
    for column in spec.columns:
        name = RENAMED.get(column.name, column.name)
        if column.kind != "str":
            actions += [f"ALTER COLUMN {name} DROP EXPRESSION", f"DROP COLUMN {name}{RAW}"]
        elif not column.required and not table.c[name].nullable:
            # An empty optional field that the live table keeps as "" (the route).
            conn.exec_driver_sql(f"UPDATE {table.schema}.{table.name} SET {name} = '' WHERE {name} IS NULL")
            actions.append(f"ALTER COLUMN {name} SET NOT NULL")
    if actions:
        conn.exec_driver_sql(f"ALTER TABLE {table.schema}.{table.name} {', '.join(actions)}")


def _header(source: Source, name: str) -> list[str]:
    """The header's names (after a UTF-8 byte order mark, if any)."""
    with source.open(name) as stream:
        first = stream.readline(1 << 16)
    try:
        return [h.strip() for h in next(csv.reader(io.StringIO(first.decode("utf-8-sig"))))]
    except (UnicodeDecodeError, StopIteration, csv.Error):
        raise GiveUp() from None


class LineLengths:
    """Watches a file's chunks as they stream for a line longer than ``MAX_LINE_BYTES``, so the server is never
    handed one to hold whole (the row-by-row path then names it). A few searches per chunk, not one per line."""

    def __init__(self) -> None:
        #: Bytes since the last line break, carried from one chunk to the next.
        self.run = 0

    def fits(self, chunk: bytes) -> bool:
        """False once a line (this chunk's, or one begun in earlier chunks) is too long."""
        first = chunk.find(b"\n")
        if first == -1:
            self.run += len(chunk)
            return self.run <= MAX_LINE_BYTES
        if self.run + first > MAX_LINE_BYTES:
            return False
        at = first
        while len(chunk) - at - 1 > MAX_LINE_BYTES:
            # The last line break within reach: every line up to it fits; the next search starts there.
            at = chunk.rfind(b"\n", at + 1, at + MAX_LINE_BYTES + 2)
            if at == -1:
                return False
        self.run = len(chunk) - chunk.rfind(b"\n", at) - 1  # what follows the chunk's last line break
        return True


def _copy(
    conn: Connection,
    source: Source,
    spec: FileSpec,
    table: Table,
    mapping: Mapping,
    progress: Callable[[int], None],
    stop: threading.Event,
) -> tuple[int, str]:
    """COPY one file, as it is, into its new table; return the rows copied and the file's SHA-256."""
    name = mapping.filename(spec)
    header = _header(source, name)
    by_header = {mapping.header(spec, c.name): c for c in spec.columns}
    absent = [c for c in spec.columns if c.may_be_absent and mapping.header(spec, c.name) not in header]
    expected = sorted(h for h, c in by_header.items() if c not in absent)
    if sorted(header) != expected or len(set(header)) != len(header):
        raise GiveUp()
    targets = ", ".join(_target(by_header[h]) for h in header)  # a column left out of the file stays NULL
    raw: Any = conn.connection.driver_connection
    last = b""
    digest = hashlib.sha256()
    lines = LineLengths()
    with source.open(name) as stream, raw.cursor() as cursor:
        with cursor.copy(
            f"COPY {table.schema}.{table.name} ({targets}) FROM STDIN "
            f"(FORMAT csv, HEADER true, ENCODING 'UTF8', FORCE_NULL ({targets}), FREEZE true)"
        ) as copy:
            # A byte order mark, if any, is on the header line, which COPY skips.
            while chunk := stream.read(1 << 20):
                if stop.is_set():
                    raise GiveUp()  # another file failed: this one need not finish
                if not lines.fits(chunk):
                    raise GiveUp()
                digest.update(chunk)
                copy.write(chunk)
                progress(len(chunk))
                last = chunk
        count = int(cursor.rowcount)
    if not last.endswith(b"\n"):
        raise GiveUp()  # truncated: let the row-by-row path say where
    return count, digest.hexdigest()


def _next_metadata(schema: str) -> MetaData:
    """The live read model's tables, as they are declared, in the new tables' schema."""
    metadata = MetaData(naming_convention=db.metadata.naming_convention)
    for name in TABLES:
        db.metadata.tables[name].to_metadata(metadata, schema=schema)
    return metadata


def _session_settings(conn: Connection) -> None:
    # Estimates on fresh tables are huge and wrong: compiling every query (JIT) costs more than it saves.
    conn.exec_driver_sql("SET LOCAL jit = off")
    conn.exec_driver_sql("SET LOCAL DateStyle = 'ISO, YMD'")
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{WORK_MEM}'")
    conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{MAINTENANCE_WORK_MEM}'")
    # Fresh tables have no statistics; a nested loop over them would be quadratic, so joins hash or merge.
    conn.exec_driver_sql("SET LOCAL enable_nestloop = off")


@dataclass
class _Built:
    """What building one table found: rows, the file's SHA-256, and the seconds of each step."""

    count: int
    digest: str
    phases: dict[str, float]


def _build(
    engine: Engine,
    schema: str,
    source: Source,
    spec: FileSpec,
    mapping: Mapping,
    progress: Callable[[int], None],
    stop: threading.Event,
) -> _Built:
    """One table, in a connection and transaction of its own: create, COPY (frozen rows), key, indexes, ANALYZE.

    Committed, but only into the new schema, which nothing reads; a duplicate key raises DBAPIError.
    """
    phases: dict[str, float] = {}
    mark = phase_timer(phases, time.monotonic())
    table = _next_metadata(schema).tables[f"{schema}.{TABLE_OF[spec.kind]}"]
    with engine.connect() as conn:
        _session_settings(conn)
        # Created in this transaction, so COPY may write its rows frozen (no later rewrite of every page to
        # mark them visible, and the visibility map set: the foreign keys' checks read only the indexes).
        checks = _create(conn, spec, table, mapping)
        count, digest = _copy(conn, source, spec, table, mapping, progress, stop)
        mark(f"copy {spec.kind}")
        _settle(conn, spec, table, checks)
        conn.execute(AddConstraint(table.primary_key))  # one sorted build; a duplicate fails it
        mark(f"keys {table.name}")
        for index in sorted(table.indexes, key=lambda i: str(i.name)):
            conn.execute(CreateIndex(index))
        mark(f"indexes {table.name}")
        conn.exec_driver_sql(f"ANALYZE {schema}.{table.name}")
        mark(f"analyze {table.name}")
        conn.commit()
    return _Built(count, digest, phases)


def drop_leftovers(engine: Engine) -> None:
    """Drop the new-table schemas of imports that were killed (call holding the import lock, before one starts)."""
    with engine.connect() as conn:
        names = list(
            conn.exec_driver_sql(
                "SELECT nspname FROM pg_namespace WHERE nspname LIKE %(like)s",
                {"like": SCHEMA_PREFIX.replace("_", "\\_") + "\\_%"},
            ).scalars()
        )
        for name in names:
            conn.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
        conn.commit()


def load_full(
    conn: Connection,
    source: Source,
    mapping: Mapping,
    *,
    progress: Callable[[int], None],
    after_rows: Callable[[Connection], None],
    checkpoint: Callable[[str], None],
    phases: dict[str, float],
) -> tuple[dict[str, int], dict[str, str]]:
    """Load and swap in a full extract; raises GiveUp (after undoing its work) when it cannot vouch.

    Returns the rows and the SHA-256 of each file. The tables are built ``WORKERS`` at a time, each in a
    connection of its own (committed into the new schema, which nothing reads; ``drop_leftovers`` removes it
    if the process dies);
    the checks across tables and the swap run in ``conn``'s transaction, which the caller commits.
    ``after_rows`` runs in the new tables (first on the search path) before their foreign keys.
    """
    started = time.monotonic()
    # A name of its own: a schema left by an earlier import in this same open transaction stays locked.
    schema = f"{SCHEMA_PREFIX}_{secrets.token_hex(4)}"
    with conn.engine.connect() as setup:
        setup.exec_driver_sql(f"CREATE SCHEMA {schema}")
        setup.commit()
    savepoint = conn.begin_nested()
    try:
        result = _load(conn, schema, source, mapping, progress, after_rows, checkpoint, phases, started)
    except Exception:
        savepoint.rollback()  # releases what this transaction locked in the new schema
        with conn.engine.connect() as cleanup:
            cleanup.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            cleanup.commit()
        raise
    savepoint.commit()
    return result


def _load(
    conn: Connection,
    schema: str,
    source: Source,
    mapping: Mapping,
    progress: Callable[[int], None],
    after_rows: Callable[[Connection], None],
    checkpoint: Callable[[str], None],
    phases: dict[str, float],
    started: float,
) -> tuple[dict[str, int], dict[str, str]]:
    mark = phase_timer(phases, started)
    lock = threading.Lock()

    def shown(n: int) -> None:
        with lock:
            progress(n)

    stop = threading.Event()
    # Largest files first, so the last one to start is small and both workers end at about the same time.
    ordered = sorted(SPECS, key=lambda s: -source.size(mapping.filename(s)))
    built: dict[str, _Built] = {}
    failed: list[Exception] = []
    with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="billing-import") as pool:
        futures = {
            pool.submit(_build, conn.engine, schema, source, spec, mapping, shown, stop): spec for spec in ordered
        }
        for future in as_completed(futures):
            try:
                built[futures[future].kind] = future.result()
            except Exception as exc:  # every worker is waited for; then the first error counts
                stop.set()
                failed.append(exc)
    if failed:
        if isinstance(failed[0], GiveUp):
            raise failed[0]
        # A COPY error (a rule, a length, a missing value, bad encoding or quoting) or a duplicate key.
        raise GiveUp() from failed[0]
    for spec in SPECS:
        phases.update(built[spec.kind].phases)
    mark(f"files, {WORKERS} at a time (wall clock)")
    checkpoint("loaded")
    _session_settings(conn)
    conn.exec_driver_sql(f"SET LOCAL search_path TO {schema}, public")
    for name in CUSTOMER_REFERENCES:
        orphan = conn.exec_driver_sql(
            f"SELECT EXISTS (SELECT FROM {name} r WHERE NOT EXISTS "
            "(SELECT FROM billing_customer c WHERE c.customer_id = r.customer_id))"
        ).scalar()
        if orphan:
            raise GiveUp()
    mark("customer checks")
    after_rows(conn)
    mark("pending portal changes")
    # Adding a foreign key checks every row at once (one join): the only check of accounts and bills. Both
    # sides have their keys' indexes over frozen rows, which a merge join reads in order (index only)
    # faster than a hash join builds and probes.
    conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
    tables = _next_metadata(schema)
    try:
        for name in TABLES:
            table = tables.tables[f"{schema}.{name}"]
            for foreign_key in sorted(table.foreign_key_constraints, key=lambda c: str(c.name)):
                conn.execute(AddConstraint(foreign_key))
            mark(f"foreign keys {name}")
    except DBAPIError as exc:  # a row points at nothing
        raise GiveUp() from exc
    checkpoint("built")
    # From here to the commit (moments) readers of the read model wait instead of reading the old tables.
    for name in reversed(TABLES):
        conn.exec_driver_sql(f"DROP TABLE public.{name}")
    for name in TABLES:
        conn.exec_driver_sql(f"ALTER TABLE {schema}.{name} SET SCHEMA public")
    conn.exec_driver_sql(f"DROP SCHEMA {schema}")
    for setting in (
        "search_path",
        "enable_nestloop",
        "enable_hashjoin",
        "jit",
        "DateStyle",
        "work_mem",
        "maintenance_work_mem",
    ):
        conn.exec_driver_sql(f"SET LOCAL {setting} TO DEFAULT")
    mark("swap")
    counts = {spec.kind: built[spec.kind].count for spec in SPECS}
    return counts, {mapping.filename(spec): built[spec.kind].digest for spec in SPECS}
