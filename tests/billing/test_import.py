"""``flask billing import``: refused extracts change nothing; valid ones swap in whole; one import at a time."""

from __future__ import annotations

import csv
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
import zipfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from app.billing import bulk, demo, importer
from app.billing.client import SqlBillingSource
from app.billing.extract import MAX_LINE_BYTES, SPECS, Mapping, Source, load_mapping
from app.billing.models import (
    BillingAccount,
    BillingBill,
    BillingBillLine,
    BillingImport,
    BillingMeterRead,
    BillingPayment,
)
from app.database.db import db
from tests.billing.fixtures import TODAY

ROOT = Path(__file__).resolve().parents[2]


def snapshot(app: Flask) -> list[object]:
    """Everything a resident could see of every account's current and past customers (ids left out)."""
    with app.app_context():
        session = db.session()
        source = SqlBillingSource(lambda: session)
        pairs = sorted(
            set(session.execute(select(BillingAccount.account_no, BillingAccount.customer_id)).all())
            | {("100004", "2000004")}
        )
        summaries = source.summaries(pairs, today=TODAY)
        state = [
            (
                pair,
                summaries.get(pair),
                source.customer(pair[1]),
                source.services(*pair),
                [source.bill(*pair, b.bill_no) for b in source.bills(*pair)],
                source.payments(*pair),
                source.readings(*pair, since=date(2000, 1, 1)),
            )
            for pair in pairs
        ]
        counts = [
            session.scalar(select(func.count()).select_from(model))
            for model in (BillingAccount, BillingBill, BillingBillLine, BillingPayment, BillingMeterRead)
        ]
        session.rollback()
    return [counts, state]


@pytest.fixture
def extract(tmp_path: Path) -> Path:
    """A small valid full extract."""
    folder = tmp_path / "extract"
    demo.synth_extract(folder, today=TODAY, accounts=6)
    return folder


@pytest.fixture
def loaded(app: Flask, tmp_path: Path) -> list[object]:
    """A different valid extract already imported; returns the snapshot of what it shows."""
    folder = tmp_path / "before"
    demo.synth_extract(folder, today=TODAY, accounts=5)
    result = app.test_cli_runner().invoke(args=["billing", "import", str(folder)])
    assert result.exit_code == 0, result.output
    return snapshot(app)


def run_import(app: Flask, path: Path) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(args=["billing", "import", str(path)])
    return result.exit_code, result.output


def edit(path: Path, change: Callable[[list[str]], list[str]]) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    path.write_text("".join(change(lines)), encoding="utf-8")


def test_import_loads_extract_and_reports(app: Flask, extract: Path, loaded: list[object]) -> None:
    code, output = run_import(app, extract)
    assert code == 0, output
    assert "Imported full extract" in output and "6 accounts" in output
    after = snapshot(app)
    assert after != loaded
    assert after[0][0] == 6
    # The same extract again changes nothing.
    code, output = run_import(app, extract)
    assert code == 0 and "nothing changed" in output
    assert snapshot(app) == after
    listing = app.test_cli_runner().invoke(args=["billing", "imports"]).output
    assert listing.count("succeeded") == 2 and "unchanged" in listing and "6 accounts" in listing


def test_import_from_zip_with_folder_inside(app: Flask, extract: Path, tmp_path: Path) -> None:
    archive = tmp_path / "extract.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for file in extract.iterdir():
            zf.write(file, f"nightly/{file.name}")
    code, output = run_import(app, archive)
    assert code == 0, output
    assert snapshot(app)[0][0] == 6


def _latin1_name(folder: Path) -> None:
    data = (folder / "customers.csv").read_bytes().replace(b"Avery", "Ren\u00e9e".encode("latin-1"), 1)
    if data == (folder / "customers.csv").read_bytes():
        data = data.replace(b"\n", " \xe9\n".encode("latin-1"), 2).replace(b" \xe9\n", b"\n", 1)
    (folder / "customers.csv").write_bytes(data)


def _drop_column(folder: Path) -> None:
    edit(folder / "accounts.csv", lambda ls: [",".join(line.rstrip("\n").split(",")[:3]) + "\n" for line in ls])


def _extra_column(folder: Path) -> None:
    edit(
        folder / "services.csv",
        lambda ls: [ls[0].rstrip("\n") + ",colour\n"] + [x.rstrip("\n") + ",red\n" for x in ls[1:]],
    )


def _bad_date(folder: Path) -> None:
    edit(folder / "bills.csv", lambda ls: [ls[0], ls[1].replace(ls[1].split(",")[3], "2026-13-05", 1), *ls[2:]])


def _bad_amount(folder: Path) -> None:
    def change(ls: list[str]) -> list[str]:
        fields = ls[2].rstrip("\n").split(",")
        fields[5] = "12.3x"
        return [ls[0], ls[1], ",".join(fields) + "\n", *ls[3:]]

    edit(folder / "payments.csv", change)


def _duplicate_key(folder: Path) -> None:
    edit(folder / "bills.csv", lambda ls: [*ls, ls[3]])


def _orphan(folder: Path) -> None:
    edit(folder / "meter_reads.csv", lambda ls: [*ls, "999999,WATER,2026-01-01,2026-01-31,100,gal\n"])


def _truncated(folder: Path) -> None:
    data = (folder / "bill_lines.csv").read_bytes()
    (folder / "bill_lines.csv").write_bytes(data[: len(data) - 25])


def _empty(folder: Path) -> None:
    (folder / "services.csv").write_bytes(b"")


def _missing_file(folder: Path) -> None:
    (folder / "occupancies.csv").unlink()


MALFORMED = {
    "wrong encoding": (_latin1_name, "customers.csv:", "not UTF-8"),
    "missing column": (_drop_column, "accounts.csv:1: route", "column is missing"),
    "extra column": (_extra_column, "services.csv:1: colour", "unknown column"),
    "bad date": (_bad_date, "bills.csv:2: bill_date", "is not a date in the format %Y-%m-%d"),
    "bad amount": (_bad_amount, "payments.csv:3: amount", "'12.3x' is not an amount"),
    "duplicate key": (_duplicate_key, "bills.csv:", "duplicate key"),
    "orphan row": (_orphan, "meter_reads.csv:", "'999999' is not in accounts.csv"),
    "truncated file": (_truncated, "bill_lines.csv:", "truncated"),
    "empty file": (_empty, "services.csv", "the file is empty"),
    "missing file": (_missing_file, "occupancies.csv", "missing from the extract"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_extract_refused_and_nothing_changes(
    app: Flask, extract: Path, loaded: list[object], case: str
) -> None:
    damage, where, rule = MALFORMED[case]
    damage(extract)
    code, output = run_import(app, extract)
    assert code == 1, output
    assert where in output and rule in output, output
    assert "nothing was changed" in output
    assert snapshot(app) == loaded
    with app.app_context():
        last = db.session.scalars(select(BillingImport).order_by(BillingImport.id.desc())).first()
        assert last is not None and last.outcome == "refused" and last.error_count >= 1


def test_a_refused_extract_is_listed_with_its_checksum(app: Flask, extract: Path, loaded: list[object]) -> None:
    _bad_amount(extract)
    code, output = run_import(app, extract)
    assert code == 1 and "nothing was changed" in output
    names = sorted(p.name for p in extract.iterdir())
    files = [s.filename for s in SPECS if s.filename in names] + ["manifest.csv"] * ("manifest.csv" in names)
    with app.app_context():
        last = db.session.scalars(select(BillingImport).order_by(BillingImport.id.desc())).first()
    assert last is not None and last.outcome == "refused" and last.checksum == Source(extract).checksum(files)


def test_errors_listed_up_to_100_then_counted(app: Flask, extract: Path, loaded: list[object]) -> None:
    edit(extract / "meter_reads.csv", lambda ls: [ls[0]] + [x.replace(",gal", ",gal,extra") for x in ls[1:]])
    code, output = run_import(app, extract)
    assert code == 1
    assert output.count("meter_reads.csv:") == 100
    assert "more problems" in output
    assert snapshot(app) == loaded


def test_zip_slip_refused(app: Flask, extract: Path, tmp_path: Path, loaded: list[object]) -> None:
    archive = tmp_path / "slip.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in extract.iterdir():
            zf.write(file, file.name)
        zf.writestr("../../etc/cron.d/evil", "* * * * * root true\n")
    code, output = run_import(app, archive)
    assert code == 1 and "outside the extract folder" in output
    assert snapshot(app) == loaded
    assert not (tmp_path.parent / "etc").exists()


def test_zip_bomb_refused(app: Flask, extract: Path, tmp_path: Path, loaded: list[object]) -> None:
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for file in extract.iterdir():
            zf.write(file, file.name)
        zf.writestr("padding.bin", b"\0" * (64 * 1024 * 1024))
    code, output = run_import(app, archive)
    assert code == 1 and "would expand" in output
    assert snapshot(app) == loaded


def test_not_an_extract_refused(app: Flask, tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.txt"
    bogus.write_text("hello")
    code, output = run_import(app, bogus)
    assert code == 1 and "neither a folder nor a .zip" in output


def _rewrite_for_city(folder: Path) -> None:
    """Dates as 11/23/2026, money as 12,34, accounts.csv renamed with ACCT_NUM for account_no."""
    for spec in importer.SPECS:
        path = folder / spec.filename
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.reader(handle))
        kinds = [c.kind for c in spec.columns]
        for row in rows[1:]:
            for i, kind in enumerate(kinds):
                if kind == "date" and row[i]:
                    y, m, d = row[i].split("-")
                    row[i] = f"{m}/{d}/{y}"
                elif kind == "money":
                    row[i] = row[i].replace(".", ",")
        if spec.kind == "accounts":
            rows[0][0] = "ACCT_NUM"
            path.unlink()
            path = folder / "UB_ACCOUNTS.csv"
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        path.write_text(buffer.getvalue(), encoding="utf-8")


def test_mapping_renames_columns_and_formats(app: Flask, extract: Path, tmp_path: Path) -> None:
    assert run_import(app, extract)[0] == 0
    expected = snapshot(app)
    city = tmp_path / "city"
    shutil.copytree(extract, city)
    _rewrite_for_city(city)
    assert run_import(app, city)[0] == 1  # without the mapping its files are not the documented ones
    mapping = tmp_path / "extract-mapping.toml"
    mapping.write_text(
        'date_format = "%m/%d/%Y"\ndecimal_separator = ","\n'
        '[files]\naccounts = "UB_ACCOUNTS.csv"\n[columns.accounts]\naccount_no = "ACCT_NUM"\n',
        encoding="utf-8",
    )
    demo.synth_extract(tmp_path / "other", today=TODAY, accounts=4)
    assert run_import(app, tmp_path / "other")[0] == 0
    result = app.test_cli_runner().invoke(args=["billing", "import", str(city), "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert snapshot(app) == expected
    assert load_mapping(mapping).filename(importer.SPECS_BY_KIND["accounts"]) == "UB_ACCOUNTS.csv"


def test_bad_mapping_refused(app: Flask, extract: Path, tmp_path: Path) -> None:
    mapping = tmp_path / "extract-mapping.toml"
    mapping.write_text('[columns.accounts]\naccount_number = "ACCT"\n', encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["billing", "import", str(extract), "--mapping", str(mapping)])
    assert result.exit_code == 1 and "accounts has no column account_number" in result.output


def test_vanished_account_keeps_links(app: Flask, tmp_path: Path) -> None:
    from tests.billing.pages import add_links

    folder = tmp_path / "six"
    demo.synth_extract(folder, today=TODAY, accounts=6)
    assert run_import(app, folder)[0] == 0
    with app.app_context():
        from app.auth.models import Resident

        person = Resident(issuer="https://idp.example", subject="vanish", email="v@example.org")
        db.session.add(person)
        db.session.commit()
        resident = person.id
    add_links(app, resident, [("100006", "2000006")])
    smaller = tmp_path / "five"
    demo.synth_extract(smaller, today=TODAY, accounts=5)
    assert run_import(app, smaller)[0] == 0
    with app.app_context():
        from app.accounts.service import get_link

        assert get_link(db.session(), resident, "100006") is not None
    assert run_import(app, folder)[0] == 0  # back again: the same link shows it
    with app.app_context():
        source = SqlBillingSource(lambda: db.session())
        assert source.summaries([("100006", "2000006")], today=TODAY)


def test_incremental_adds_and_updates_without_deleting(app: Flask, extract: Path, tmp_path: Path) -> None:
    assert run_import(app, extract)[0] == 0
    before = snapshot(app)
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "manifest.csv").write_text("extract_kind,since,generated_at,format_version\nincremental,2026-11-01,,1\n")
    (inc / "bills.csv").write_text(
        "bill_no,account_no,customer_id,bill_date,due_date,amount,balance,is_final\n"
        "1000012611,100001,2000001,2026-11-20,2026-12-10,50.00,50.00,false\n"
        "1000012610,100001,2000001,2026-11-05,2026-11-25,99.99,0.00,false\n"
    )
    (inc / "bill_lines.csv").write_text(
        "bill_no,line_no,service,description,amount\n1000012611,1,WATER,Water,50.00\n1000012610,1,WATER,Water,99.99\n"
    )
    (inc / "payments.csv").write_text(
        "payment_id,account_no,customer_id,bill_no,posted_on,amount,method,\n".rstrip(",\n")
        + "\nP-1,100001,2000001,1000012610,2026-11-21,99.99,Online\n"
    )
    (inc / "meter_reads.csv").write_text(
        "account_no,service,period_start,period_end,consumption,unit\n100001,WATER,2026-11-01,2026-11-30,4000,gal\n"
    )
    code, output = run_import(app, inc)
    assert code == 0, output
    assert "incremental" in output
    with app.app_context():
        source = SqlBillingSource(lambda: db.session())
        bills = source.bills("100001", "2000001")
        assert bills[0].bill_no == "1000012611"
        updated = source.bill("100001", "2000001", "1000012610")
        assert updated is not None and str(updated.amount) == "99.99" and len(updated.lines) == 1
        assert any(p.bill_no == "1000012610" and str(p.amount) == "99.99" for p in source.payments("100001", "2000001"))
        counts = snapshot(app)[0]
    assert counts[0] == before[0][0]  # no account deleted
    assert counts[1] == before[0][1] + 1


def test_payments_may_carry_the_processor_reference(app: Flask, extract: Path, tmp_path: Path) -> None:
    """payments.csv may have a reference column (a portal payment's processor reference); it is stored."""
    assert run_import(app, extract)[0] == 0
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "manifest.csv").write_text("extract_kind,since,generated_at,format_version\nincremental,2026-11-01,,1\n")
    (inc / "bills.csv").write_text("bill_no,account_no,customer_id,bill_date,due_date,amount,balance,is_final\n")
    (inc / "bill_lines.csv").write_text("bill_no,line_no,service,description,amount\n")
    (inc / "payments.csv").write_text(
        "payment_id,account_no,customer_id,bill_no,posted_on,amount,method,reference\n"
        "P-7,100001,2000001,,2026-11-21,12.00,Online,pi_portal_7\n"
        "P-8,100001,2000001,,2026-11-22,3.00,Cash,\n"
    )
    (inc / "meter_reads.csv").write_text("account_no,service,period_start,period_end,consumption,unit\n")
    code, output = run_import(app, inc)
    assert code == 0, output
    with app.app_context():
        references = dict(db.session.execute(select(BillingPayment.payment_id, BillingPayment.reference)).all())
    assert references["P-7"] == "pi_portal_7" and references["P-8"] is None


def test_second_import_refused_while_one_runs(app: Flask, extract: Path, loaded: list[object]) -> None:
    with app.app_context():
        engine = db.engine
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with importer.import_lock(engine):
            held.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert held.wait(10)
        code, output = run_import(app, extract)
        assert code == 1 and "another import is running" in output
        assert snapshot(app) == loaded
    finally:
        release.set()
        thread.join()
    assert run_import(app, extract)[0] == 0


def _cli_env(app: Flask) -> dict[str, str]:
    return {
        **os.environ,
        "PORTAL_ENV": "development",
        "DATABASE_URL": app.config["DATABASE_URL"],
        "SECRET_KEY": "killed-import-secret-key-0123456789abcdef",
        "OIDC_ISSUER": app.config["OIDC_ISSUER"],
        "OIDC_CLIENT_SECRET": "x",
        "REDIS_URL": "",
    }


@pytest.mark.parametrize("point", ["loaded", "built", "swapped"])
def test_killed_import_leaves_previous_data(app: Flask, tmp_path: Path, loaded: list[object], point: str) -> None:
    folder = tmp_path / "big"
    demo.synth_extract(folder, today=TODAY, accounts=60)
    env = {**_cli_env(app), importer.PAUSE_ENV: point}
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "billing", "import", str(folder)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        deadline = time.monotonic() + 60
        line = b""
        while time.monotonic() < deadline and b"paused at" not in line:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                break
        assert f"paused at {point}".encode() in line, line
        if point != "swapped" or app.config["DATABASE_URL"].startswith("sqlite"):
            # Other connections still see the old data mid-import (on PostgreSQL, after the swap's
            # statements and before its commit, they wait for the commit instead).
            assert snapshot(app) == loaded
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stderr is not None:
            process.stderr.close()
    assert snapshot(app) == loaded
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    if postgres and point != "swapped":
        assert new_schemas(app), "the killed import's tables were committed into a schema of their own"
    code, output = run_import(app, folder)
    assert code == 0, output
    assert snapshot(app)[0][0] == 60
    listing = app.test_cli_runner().invoke(args=["billing", "imports"]).output
    assert "interrupted" in listing
    if postgres:
        assert new_schemas(app) == []  # the next import dropped what the killed one left


def new_schemas(app: Flask) -> list[str]:
    """The fast path's schemas of new tables that exist (committed) now."""
    with app.app_context():
        return list(
            db.session.scalars(text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'billing\\_next\\_%'"))
        )


def test_demo_command_takes_the_import_path(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["billing", "demo", "--accounts", "5"])
    assert result.exit_code == 0, result.output
    listing = app.test_cli_runner().invoke(args=["billing", "imports"]).output
    assert "succeeded" in listing and "5 accounts" in listing


def test_round_trip_extract_then_import_gives_same_pages(app: Flask, extract: Path, tmp_path: Path) -> None:
    assert run_import(app, extract)[0] == 0
    with app.app_context():
        db.session.execute(BillingAccount.__table__.update().values(bill_delivery="email"))
        db.session.commit()
    expected = snapshot(app)
    out = tmp_path / "round"
    result = app.test_cli_runner().invoke(args=["billing", "extract", str(out)])
    assert result.exit_code == 0, result.output
    demo.synth_extract(tmp_path / "other", today=TODAY, accounts=4)
    assert run_import(app, tmp_path / "other")[0] == 0
    assert snapshot(app) != expected
    code, output = run_import(app, out)
    assert code == 0, output
    assert snapshot(app) == expected


def test_synth_extract_is_deterministic(tmp_path: Path) -> None:
    demo.synth_extract(tmp_path / "a", today=TODAY, accounts=40)
    demo.synth_extract(tmp_path / "b", today=TODAY, accounts=40)
    for file in (tmp_path / "a").iterdir():
        assert file.read_bytes() == (tmp_path / "b" / file.name).read_bytes()
    assert Mapping().filename(importer.SPECS_BY_KIND["bills"]) == "bills.csv"


def test_documented_example_extract_imports(app: Flask) -> None:
    code, output = run_import(app, ROOT / "docs" / "example-extract")
    assert code == 0, output
    assert "4 accounts" in output


def test_timings_name_the_phases(app: Flask, extract: Path) -> None:
    """``--timings`` lists each phase; on PostgreSQL a valid extract takes the COPY fast path whole."""
    result = app.test_cli_runner().invoke(args=["billing", "import", "--timings", str(extract)])
    assert result.exit_code == 0, result.output
    phases = [line.strip().split(":")[0] for line in result.output.splitlines() if line.startswith("  ")]
    assert phases[-1] == "commit"
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        recorded = db.session.scalars(select(BillingImport).order_by(BillingImport.id.desc())).first()
    if postgres:
        assert "copy bill_lines" in phases and "indexes billing_payment" in phases
        assert "fast path, given up" not in phases
        assert "checksum" not in phases  # hashed while copied
    else:
        assert "read, check and stage rows" in phases and "checksum" in phases
    assert result.output.splitlines()[-1].startswith("Imported full extract")
    # However it was computed, the recorded checksum is the files' (so a second run finds it unchanged).
    names = sorted(p.name for p in extract.iterdir())
    files = [s.filename for s in SPECS if s.filename in names] + ["manifest.csv"] * ("manifest.csv" in names)
    assert recorded is not None and recorded.checksum == Source(extract).checksum(files)
    assert recorded.size_bytes == sum((extract / f).stat().st_size for f in files)


def _field(name: str, column: int, value: str) -> Callable[[Path], None]:
    def damage(folder: Path) -> None:
        def change(ls: list[str]) -> list[str]:
            fields = ls[1].rstrip("\n").split(",")
            fields[column] = value
            return [ls[0], ",".join(fields) + "\n", *ls[2:]]

        edit(folder / name, change)

    return damage


#: Values PostgreSQL's own parsers read but the extract's rules refuse (the fast path must not take them).
LENIENT = {
    "plus sign": (_field("meter_reads.csv", 4, "+4270"), "meter_reads.csv:2: consumption", "not a whole number"),
    "date and time": (_field("bills.csv", 3, "2025-01-05 10:00"), "bills.csv:2: bill_date", "is not a date"),
    "month name": (_field("payments.csv", 4, "Jan 22 2025"), "payments.csv:2: posted_on", "is not a date"),
    "three decimals": (_field("payments.csv", 5, "82.735"), "payments.csv:2: amount", "is not an amount"),
    "on for true": (_field("services.csv", 6, "on"), "services.csv:2: metered", "must be true or false"),
}


# --- hostile extracts -----------------------------------------------------------------------------------


def _linked_elsewhere(folder: Path) -> None:
    """customers.csv is a link to a file outside the folder (what the import user may read, not the city)."""
    outside = folder.parent / "outside.csv"
    (folder / "customers.csv").rename(outside)
    (folder / "customers.csv").symlink_to(outside)


def _linked_to_a_device(folder: Path) -> None:
    (folder / "bills.csv").unlink()
    (folder / "bills.csv").symlink_to("/dev/zero")


def _fifo(folder: Path) -> None:
    (folder / "payments.csv").unlink()
    os.mkfifo(folder / "payments.csv")


def _directory(folder: Path) -> None:
    (folder / "services.csv").unlink()
    (folder / "services.csv").mkdir()


HOSTILE = {
    "symbolic link": (_linked_elsewhere, "customers.csv", "is a symbolic link"),
    "link to a device": (_linked_to_a_device, "bills.csv", "is a symbolic link"),
    "fifo": (_fifo, "payments.csv", "is not a regular file (a FIFO)"),
    "directory": (_directory, "services.csv", "is not a regular file (a directory)"),
    "NUL byte": (_field("meter_reads.csv", 5, "g\x00al"), "meter_reads.csv:2: unit", "NUL"),
    "NUL in the header": (
        lambda folder: edit(folder / "services.csv", lambda ls: [ls[0].replace("metered", "meter\x00ed"), *ls[1:]]),
        "services.csv:1: meter\\x00ed",  # shown escaped: a terminal, the log and the run's record take it
        "unknown column",
    ),
    "over-long line": (
        _field("meter_reads.csv", 5, "x" * 200_000),
        "meter_reads.csv:2",
        "the line is longer than 65,536 bytes",
    ),
}


@pytest.mark.parametrize("case", HOSTILE)
def test_hostile_extract_refused_by_name_and_nothing_changes(
    app: Flask, extract: Path, loaded: list[object], case: str
) -> None:
    damage, where, rule = HOSTILE[case]
    damage(extract)
    code, output = run_import(app, extract)
    assert code == 1, output
    assert where in output and rule in output and "nothing was changed" in output, output
    assert "Traceback" not in output and "stage_" not in output, output
    assert snapshot(app) == loaded
    with app.app_context():
        last = db.session.scalars(select(BillingImport).order_by(BillingImport.id.desc())).first()
        assert last is not None and last.outcome == "refused" and where in last.message, last.message


def test_the_fast_path_gives_a_long_line_to_the_row_path_wherever_it_falls() -> None:
    limit = MAX_LINE_BYTES
    short = b"100001,WATER,2026-01-01,2026-01-31,4270,gal\n" * 30_000
    assert bulk.LineLengths().fits(short)
    assert bulk.LineLengths().fits(short + b"x" * limit + b"\n" + short)  # exactly the limit
    assert not bulk.LineLengths().fits(short + b"x" * (limit + 1) + b"\n" + short)
    across = bulk.LineLengths()
    assert across.fits(short + b"x" * (limit // 2)) and across.fits(b"x" * (limit // 2) + b"\n")
    assert not across.fits(b"x" * (limit + 1))
    spanning = bulk.LineLengths()
    assert spanning.fits(b"head\n" + b"x" * (limit - 10)) and not spanning.fits(b"x" * 11 + b"\n")


def test_an_over_long_line_is_never_read_whole(app: Flask, extract: Path, loaded: list[object]) -> None:
    """A 40 MB line (the docs promise flat memory): refused as a line error, Python's memory stays small."""
    path = extract / "bill_lines.csv"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([lines[0], lines[1][:-1] + b"x" * (40 << 20) + b"\n", *lines[2:]]))
    tracemalloc.start()
    try:
        code, output = run_import(app, extract)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 << 20, f"{peak:,} bytes at the peak"
    assert code == 1 and "bill_lines.csv:2: the line is longer than" in output, output
    assert snapshot(app) == loaded


@pytest.mark.parametrize("padded", ["account number in every file", "customer id in payments"])
def test_padded_numbers_load_stripped_as_the_row_rules_read_them(app: Flask, extract: Path, padded: str) -> None:
    """A number padded with spaces, as a fixed-width report writer does, is stripped whichever path loads the
    extract (on PostgreSQL the fast path hands it to the row path), so pages find the row by its number."""
    if padded.startswith("account"):
        number, files = (extract / "accounts.csv").read_text().splitlines()[1].split(",")[0], extract.glob("*.csv")
    else:
        number, files = (extract / "payments.csv").read_text().splitlines()[1].split(",")[2], [extract / "payments.csv"]

    def pad(ls: list[str]) -> list[str]:
        return [",".join(f"  {f}" if f == number else f for f in line.rstrip("\n").split(",")) + "\n" for line in ls]

    for path in files:
        edit(path, pad)
    code, output = run_import(app, extract)
    assert code == 0, output
    with app.app_context():
        values = set(db.session.scalars(select(BillingAccount.account_no)))
        values |= set(db.session.scalars(select(BillingBill.account_no)))
        values |= set(db.session.scalars(select(BillingPayment.customer_id)))
    assert number in values and not any(v != v.strip() for v in values)


@pytest.mark.parametrize("case", LENIENT)
def test_values_the_server_would_read_are_refused(app: Flask, extract: Path, loaded: list[object], case: str) -> None:
    damage, where, rule = LENIENT[case]
    damage(extract)
    code, output = run_import(app, extract)
    assert code == 1, output
    assert where in output and rule in output, output
    assert snapshot(app) == loaded
