"""Benchmark ``flask billing import`` against raw ``COPY`` of the same CSV files into plain tables.

For each size: writes a synthetic extract (``flask billing synth-extract``), imports it into a fresh
PostgreSQL database with ``flask billing import`` (a separate process, so its peak memory is its own), then,
in the same run and database, loads the same files with raw ``COPY ... FROM STDIN (FORMAT csv, HEADER)``
into plain tables of the same columns (no keys, no indexes, no checks). Prints both times, their ratio (the
target is the import at no less than half of raw COPY's speed) and the import's peak memory, which must not
grow with the extract's size. A script, not a test:

    .venv/bin/python tests/perf/bench_import.py --accounts 100000
    .venv/bin/python tests/perf/bench_import.py --accounts 100000,1000000 --workdir /var/tmp/bench
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

from app.billing.extract import SPECS  # noqa: E402
from app.billing.importer import SQL_TYPES  # noqa: E402
from tests.support.fresh_database import ADMIN_URL, drop, recreate  # noqa: E402

#: Raw COPY reads the files as they are: money as written (12.34), not converted to cents.
RAW_TYPES = {"money": "NUMERIC(14, 2)"}


def flask(env: dict[str, str], *args: str) -> tuple[float, float, str]:
    """Run ``flask --app wsgi ARGS``; return (seconds, peak RSS in MB, output)."""
    started = time.monotonic()
    process = subprocess.Popen(
        [BIN / "flask", "--app", "wsgi", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert process.stdout is not None
    output = process.stdout.read().decode()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    process.stdout.close()
    if process.returncode != 0:
        raise SystemExit(f"flask {' '.join(args)} failed ({process.returncode}):\n{output}")
    return seconds, usage.ru_maxrss / 1024, output


def raw_copy(database_url: str, folder: Path) -> float:
    """Seconds to COPY every file of the extract into plain tables (created first, not timed)."""
    with psycopg.connect(database_url) as conn:
        for spec in SPECS:
            columns = ", ".join(f"{c.name} {RAW_TYPES.get(c.kind, SQL_TYPES[c.kind])}" for c in spec.columns)
            conn.execute(f"DROP TABLE IF EXISTS raw_{spec.kind}")
            conn.execute(f"CREATE TABLE raw_{spec.kind} ({columns})")
        conn.commit()
        started = time.monotonic()
        for spec in SPECS:
            with (
                (folder / spec.filename).open("rb") as handle,
                conn.cursor() as cursor,
                cursor.copy(f"COPY raw_{spec.kind} FROM STDIN (FORMAT csv, HEADER)") as copy,
            ):
                while chunk := handle.read(1 << 20):
                    copy.write(chunk)
        conn.commit()
        seconds = time.monotonic() - started
        for spec in SPECS:
            conn.execute(f"DROP TABLE raw_{spec.kind}")
        conn.commit()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", default="1000000", help="extract size(s), comma-separated")
    parser.add_argument("--admin-url", default=ADMIN_URL, help="a PostgreSQL role that may create databases")
    parser.add_argument("--workdir", default=None, help="where the extracts go (default: a temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the database and the extracts")
    args = parser.parse_args()
    sizes = [int(n) for n in args.accounts.split(",")]
    name = f"portal_bench_import_{secrets.token_hex(3)}"
    database_url = f"{args.admin_url.rsplit('/', 1)[0]}/{name}"
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="bench-import-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PORTAL_ENV": "development",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "OIDC_ISSUER": "http://localhost:1",
        "OIDC_CLIENT_SECRET": "bench",
        "REDIS_URL": "",
        "LOG_LEVEL": "WARNING",
    }
    rows: list[tuple[int, float, float, float, float, str]] = []
    try:
        for accounts in sizes:
            recreate(args.admin_url, name)
            flask(env, "db", "upgrade")
            folder = workdir / f"extract-{accounts}"
            if not (folder / "manifest.csv").exists():
                synth, _, _ = flask(env, "billing", "synth-extract", "--accounts", str(accounts), str(folder))
                print(f"{accounts:,} accounts: synthetic extract written in {synth:.1f} s", flush=True)
            size = sum(f.stat().st_size for f in folder.iterdir()) / 1024**2
            seconds, peak, output = flask(env, "billing", "import", "--timings", str(folder))
            print(f"  import: {seconds:.1f} s, peak RSS {peak:.0f} MB: {output.strip().splitlines()[-1]}", flush=True)
            phases = [line.strip() for line in output.splitlines() if line.startswith("  ")]
            print("  import phases (seconds): " + "; ".join(phases), flush=True)
            copy = raw_copy(database_url, folder)
            print(f"  raw COPY of the same files: {copy:.1f} s", flush=True)
            rows.append((accounts, size, seconds, copy, peak, output.strip().splitlines()[-1]))
            if not args.keep and not args.workdir:
                shutil.rmtree(folder)
    finally:
        if not args.keep:
            drop(args.admin_url, name)
            if not args.workdir:
                shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(
        "| accounts | extract MB | import s (command) | of which the import itself | raw COPY s "
        "| ratio COPY/import (command) | ratio COPY/import itself | import peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for accounts, size, seconds, copy, peak, summary in rows:
        found = re.search(r" in ([0-9.]+) s:", summary)
        own = float(found.group(1)) if found else seconds
        print(
            f"| {accounts:,} | {size:,.0f} | {seconds:.1f} | {own:.1f} | {copy:.1f} | {copy / seconds:.2f} "
            f"| {copy / own:.2f} | {peak:.0f} |"
        )


if __name__ == "__main__":
    main()
