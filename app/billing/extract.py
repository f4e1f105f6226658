"""The billing extract: an open CSV format (``docs/billing-extract.md``), read and checked row by row.

An extract is a folder (or a ``.zip`` of one) with one CSV file per kind of record. This module knows the
files, their columns and types, reads a city's mapping file (column renames, date and decimal formats), and
turns each row into canonical values, reporting every problem with its file, line, column and rule. It
holds one row at a time, so memory does not grow with the extract. Cross-row rules (duplicate keys, rows
that point at nothing) are checked in SQL on the staging tables (``app.billing.importer``).
"""

from __future__ import annotations

import codecs
import csv
import errno
import hashlib
import io
import os
import stat
import tomllib
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from app.core.money import Money

FULL = "full"
INCREMENTAL = "incremental"
FORMAT_VERSION = "1"
#: Stop listing errors after this many (the rest are counted).
MAX_LISTED_ERRORS = 100
#: A zip whose members would expand past this many bytes is refused (a "zip bomb").
MAX_EXPANDED_BYTES = 64 * 1024**3
#: ... or whose members are this many times bigger than the zip file itself.
MAX_COMPRESSION_RATIO = 200
#: The longest line read, in bytes, before it is decoded; the longest row the columns allow is a few thousand
#: (every text at its length in four-byte characters). A longer line is a problem, skipped unread.
MAX_LINE_BYTES = 1 << 16
MANIFEST = "manifest.csv"

Value = str | int | date | bool | None


@dataclass(frozen=True)
class Column:
    """One column: its canonical name, type (``str``, ``date``, ``money``, ``int``, ``bool``) and rules."""

    name: str
    kind: str = "str"
    required: bool = True
    max_length: int = 0
    choices: tuple[str, ...] = ()
    #: The header may leave the column out altogether (a column added after the city's first extracts).
    may_be_absent: bool = False


@dataclass(frozen=True)
class FileSpec:
    """One CSV file of the extract: its record kind, columns and key."""

    kind: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    incremental: bool = False

    @property
    def filename(self) -> str:
        """The default file name, e.g. ``bill_lines.csv``."""
        return f"{self.kind}.csv"

    @property
    def names(self) -> tuple[str, ...]:
        """The canonical column names in order."""
        return tuple(c.name for c in self.columns)


def _c(
    name: str,
    kind: str = "str",
    *,
    required: bool = True,
    size: int = 0,
    choices: tuple[str, ...] = (),
    may_be_absent: bool = False,
) -> Column:
    return Column(name, kind, required, size, choices, may_be_absent)


SPECS: tuple[FileSpec, ...] = (
    FileSpec(
        "customers",
        (_c("customer_id", size=20), _c("name", size=200), _c("last_name", size=100), _c("mailing_address", size=500)),
        ("customer_id",),
    ),
    FileSpec(
        "accounts",
        (
            _c("account_no", size=20),
            _c("customer_id", size=20),
            _c("service_address", size=300),
            _c("route", size=20, required=False),
            _c("status", choices=("active", "closed")),
            _c("bill_delivery", choices=("paper", "email")),
            _c("opened_on", "date"),
            _c("closed_on", "date", required=False),
        ),
        ("account_no",),
    ),
    FileSpec(
        "occupancies",
        (
            _c("account_no", size=20),
            _c("customer_id", size=20),
            _c("start_date", "date"),
            _c("end_date", "date", required=False),
        ),
        ("account_no", "customer_id", "start_date"),
    ),
    FileSpec(
        "services",
        (
            _c("account_no", size=20),
            _c("service", size=40),
            _c("code", size=20),
            _c("start_date", "date"),
            _c("stop_date", "date", required=False),
            _c("status", choices=("active", "inactive")),
            _c("metered", "bool"),
        ),
        ("account_no", "code", "start_date"),
    ),
    FileSpec(
        "bills",
        (
            _c("bill_no", size=30),
            _c("account_no", size=20),
            _c("customer_id", size=20),
            _c("bill_date", "date"),
            _c("due_date", "date"),
            _c("amount", "money"),
            _c("balance", "money"),
            _c("is_final", "bool"),
        ),
        ("bill_no",),
        incremental=True,
    ),
    FileSpec(
        "bill_lines",
        (
            _c("bill_no", size=30),
            _c("line_no", "int"),
            _c("service", size=40),
            _c("description", size=200),
            _c("amount", "money"),
        ),
        ("bill_no", "line_no"),
        incremental=True,
    ),
    FileSpec(
        "payments",
        (
            _c("payment_id", size=30),
            _c("account_no", size=20),
            _c("customer_id", size=20),
            _c("bill_no", size=30, required=False),
            _c("posted_on", "date"),
            _c("amount", "money"),
            _c("method", size=40),
            # the processor's reference of a payment made through the portal: clears its pending line
            _c("reference", size=200, required=False, may_be_absent=True),
        ),
        ("payment_id",),
        incremental=True,
    ),
    FileSpec(
        "meter_reads",
        (
            _c("account_no", size=20),
            _c("service", size=40),
            _c("period_start", "date"),
            _c("period_end", "date"),
            _c("consumption", "int"),
            _c("unit", size=20),
        ),
        ("account_no", "service", "period_start"),
        incremental=True,
    ),
)
SPEC_BY_KIND = {spec.kind: spec for spec in SPECS}


class ExtractError(Exception):
    """The extract cannot be read at all (a bad path, zip or mapping); nothing was changed."""


@dataclass(frozen=True)
class Problem:
    """One broken rule: where (file, line, column) and what."""

    file: str
    line: int
    column: str
    rule: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.column + ': ' if self.column else ''}{self.rule}"


@dataclass
class Problems:
    """Every problem found, of which the first ``MAX_LISTED_ERRORS`` are kept."""

    listed: list[Problem] = field(default_factory=list)
    count: int = 0

    def add(self, file: str, line: int, column: str, rule: str) -> None:
        """Record one problem (control characters in it, such as a NUL a header held, shown escaped)."""
        self.count += 1
        if len(self.listed) < MAX_LISTED_ERRORS:
            self.listed.append(Problem(_printable(file), line, _printable(column), _printable(rule)))

    def __bool__(self) -> bool:
        return self.count > 0


def _printable(text: str) -> str:
    """``text`` with its control characters as escapes (``\\x00``): fit for a terminal, a log and a text column."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


@dataclass(frozen=True)
class Mapping:
    """A city's mapping file: file and column names as its report writer spells them, and value formats."""

    date_format: str = "%Y-%m-%d"
    decimal_separator: str = "."
    thousands_separator: str = ""
    true_values: tuple[str, ...] = ("true", "t", "yes", "y", "1")
    false_values: tuple[str, ...] = ("false", "f", "no", "n", "0")
    files: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    #: Labels for the pages in another language: (language, service, "") for a service's name and
    #: (language, service, description) for a bill line, as the billing system writes them.
    labels: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def filename(self, spec: FileSpec) -> str:
        """The city's name of the file for ``spec``."""
        return self.files.get(spec.kind, spec.filename)

    def header(self, spec: FileSpec, name: str) -> str:
        """The city's header for a canonical column."""
        return self.columns.get(spec.kind, {}).get(name, name)


def load_mapping(path: Path | None) -> Mapping:
    """Read a mapping file (TOML); no file means the documented names and formats."""
    if path is None or not path.exists():
        return Mapping()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ExtractError(f"mapping file {path}: {exc}") from exc
    known = {"date_format", "decimal_separator", "thousands_separator", "true_values", "false_values", "files"}
    unknown = set(data) - known - {"columns", "labels"}
    if unknown:
        raise ExtractError(f"mapping file {path}: unknown settings {', '.join(sorted(unknown))}")
    files = {str(k): str(v) for k, v in data.get("files", {}).items()}
    columns = {str(k): {str(a): str(b) for a, b in v.items()} for k, v in data.get("columns", {}).items()}
    for kind in set(files) | set(columns):
        if kind not in SPEC_BY_KIND:
            raise ExtractError(f"mapping file {path}: no such file kind {kind!r}")
    for kind, renames in columns.items():
        bad = set(renames) - set(SPEC_BY_KIND[kind].names)
        if bad:
            raise ExtractError(f"mapping file {path}: {kind} has no column {', '.join(sorted(bad))}")
    options: dict[str, Any] = {k: data[k] for k in known - {"files"} if k in data}
    for name in ("true_values", "false_values"):
        if name in options:
            options[name] = tuple(str(v).lower() for v in options[name])
    try:
        labels = parse_labels(data.get("labels", {}))
    except ValueError as exc:
        raise ExtractError(f"mapping file {path}: {exc}") from None
    return Mapping(files=files, columns=columns, labels=labels, **options)


#: The page languages a label table may name (English is the billing system's own text).
LABEL_LANGUAGES = ("es",)
SERVICE_SIZE, DESCRIPTION_SIZE = 40, 200


def parse_labels(table: object) -> dict[tuple[str, str, str], str]:
    """The mapping's ``[labels.LANG.services]`` and ``[labels.LANG.lines.SERVICE]`` tables; ValueError if malformed."""
    labels: dict[tuple[str, str, str], str] = {}
    for language, sections in _table(table, "labels").items():
        where = f"labels.{language}"
        if language not in LABEL_LANGUAGES:
            raise ValueError(f"{where}: no such page language (one of {', '.join(LABEL_LANGUAGES)})")
        sections = _table(sections, where)
        unknown = set(sections) - {"services", "lines"}
        if unknown:
            raise ValueError(f"{where}: unknown table {', '.join(sorted(unknown))} (services or lines)")
        for service, label in _table(sections.get("services", {}), f"{where}.services").items():
            labels[(language, _key(service, SERVICE_SIZE, f"{where}.services"), "")] = _label(
                label, f"{where}.services.{service}"
            )
        for service, lines in _table(sections.get("lines", {}), f"{where}.lines").items():
            _key(service, SERVICE_SIZE, f"{where}.lines")
            for description, label in _table(lines, f"{where}.lines.{service}").items():
                key = _key(description, DESCRIPTION_SIZE, f"{where}.lines.{service}")
                labels[(language, service, key)] = _label(label, f"{where}.lines.{service}.{description!r}")
    return labels


def _table(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a table")
    return value


def _key(key: str, size: int, where: str) -> str:
    if not key.strip() or len(key) > size:
        raise ValueError(f"{where}: {key!r} must be 1 to {size} characters, as the billing data writes it")
    return key


def _label(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > DESCRIPTION_SIZE:
        raise ValueError(f"{where} must be a text of 1 to {DESCRIPTION_SIZE} characters")
    return value.strip()


class Source:
    """An extract's files, in a folder or a zip; ``open`` gives a binary stream of one member.

    In a folder, a file the import reads must be a regular file: a symbolic link (which could reach anything
    the import's user may read) or a FIFO, device or folder under a file's name is refused (ExtractError).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._zip: zipfile.ZipFile | None = None
        self._members: dict[str, zipfile.ZipInfo] = {}
        if path.is_dir():
            return
        if not path.is_file():
            raise ExtractError(f"{path}: no such folder or file")
        if not zipfile.is_zipfile(path):
            raise ExtractError(f"{path}: neither a folder nor a .zip file")
        self._zip = zipfile.ZipFile(path)
        self._check_zip(path.stat().st_size)

    def _check_zip(self, size: int) -> None:
        assert self._zip is not None
        infos = [i for i in self._zip.infolist() if not i.is_dir()]
        expanded = 0
        for info in infos:
            name = info.filename
            parts = Path(name.replace("\\", "/")).parts
            if name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                raise ExtractError(f"{self.path}: member {name!r} lies outside the extract folder; refused")
            expanded += info.file_size
        if expanded > MAX_EXPANDED_BYTES or expanded > max(size, 1) * MAX_COMPRESSION_RATIO:
            raise ExtractError(
                f"{self.path}: members would expand to {expanded:,} bytes from a {size:,}-byte zip; refused"
            )
        # One folder level is allowed ("extract/customers.csv"), as made by zipping a folder.
        tops = {Path(i.filename).parts[0] for i in infos if len(Path(i.filename).parts) > 1}
        prefix = f"{tops.pop()}/" if len(tops) == 1 and all(len(Path(i.filename).parts) > 1 for i in infos) else ""
        self._members = {i.filename[len(prefix) :]: i for i in infos}

    def exists(self, name: str) -> bool:
        """True when the extract holds file ``name``; ExtractError when a folder holds something else by that name."""
        return name in self._members if self._zip else self._entry(name) is not None

    def size(self, name: str) -> int:
        """The (expanded) size of file ``name`` in bytes."""
        if self._zip:
            return self._members[name].file_size
        found = self._entry(name)
        if found is None:
            raise ExtractError(f"{self.path / name}: no such file")
        return found.st_size

    def open(self, name: str) -> IO[bytes]:
        """A binary stream of file ``name``; a zip member is cut off at its declared size."""
        if self._zip is not None:
            return io.BufferedReader(_Capped(self._zip.open(self._members[name]), self._members[name].file_size))
        path = self.path / name
        # Checked again on the open file itself: the name may have been swapped since it was looked at.
        # O_NONBLOCK: opening a FIFO never waits for a writer (it has no effect on a regular file).
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ExtractError(_refusal(path, "is a symbolic link")) from None
            raise ExtractError(f"{path}: cannot be opened ({exc.strerror})") from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise ExtractError(_refusal(path, f"is not a regular file ({_kind(mode)})"))
        return os.fdopen(fd, "rb")

    def _entry(self, name: str) -> os.stat_result | None:
        """The folder's file ``name``, not followed if it is a link; None when there is none."""
        path = self.path / name
        try:
            found = path.lstat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(found.st_mode):
            raise ExtractError(_refusal(path, "is a symbolic link"))
        if not stat.S_ISREG(found.st_mode):
            raise ExtractError(_refusal(path, f"is not a regular file ({_kind(found.st_mode)})"))
        return found

    def checksum(self, names: list[str]) -> str:
        """SHA-256 over the names and SHA-256s of ``names`` (in order): see ``combined_checksum``."""
        return combined_checksum([(name, self.file_digest(name)) for name in names])

    def file_digest(self, name: str) -> str:
        """The SHA-256 of file ``name``'s bytes, in hex."""
        digest = hashlib.sha256()
        with self.open(name) as stream:
            while chunk := stream.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def close(self) -> None:
        """Close the zip, if any."""
        if self._zip is not None:
            self._zip.close()


def _refusal(path: Path, what: str) -> str:
    return f"{path} {what}; refused (put the file itself in the extract folder)"


def _kind(mode: int) -> str:
    """What a non-regular file is, in a word or two."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a file"


def combined_checksum(files: list[tuple[str, str]]) -> str:
    """The extract's checksum from (name, SHA-256 of the file) pairs, so files can be hashed in parallel."""
    digest = hashlib.sha256()
    for name, file_digest in files:
        digest.update(name.encode() + b"\0" + file_digest.encode() + b"\0")
    return digest.hexdigest()


class _Capped(io.RawIOBase):
    """A stream that refuses to give more than ``limit`` bytes (the size the zip declared)."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self._inner = inner
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._left <= 0:
            if self._inner.read(1):
                raise ExtractError("a zip member is bigger than it declares; refused")
            return 0
        data = self._inner.read(min(len(buffer), self._left))
        self._left -= len(data)
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._inner.close()
        super().close()


@dataclass(frozen=True)
class Manifest:
    """``manifest.csv``: the extract's kind (full or incremental) and, for incremental, its first date."""

    kind: str = FULL
    since: date | None = None
    generated_at: str = ""


def read_manifest(source: Source, problems: Problems) -> Manifest:
    """The manifest, or a full extract when there is none."""
    if not source.exists(MANIFEST):
        return Manifest()
    with source.open(MANIFEST) as stream:
        data = stream.read(1 << 16)
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        problems.add(MANIFEST, 0, "", f"cannot be read: {exc}")
        return Manifest()
    if len(rows) != 1:
        problems.add(MANIFEST, 0, "", "must have a header and exactly one row")
        return Manifest()
    row = rows[0]
    kind = (row.get("extract_kind") or FULL).strip()
    if kind not in (FULL, INCREMENTAL):
        problems.add(MANIFEST, 2, "extract_kind", "must be full or incremental")
        kind = FULL
    since = None
    if row.get("since"):
        try:
            since = date.fromisoformat(row["since"].strip())
        except ValueError:
            problems.add(MANIFEST, 2, "since", "must be a date like 2026-01-31")
    if row.get("format_version", FORMAT_VERSION).strip() != FORMAT_VERSION:
        problems.add(MANIFEST, 2, "format_version", f"this portal reads format version {FORMAT_VERSION}")
    return Manifest(kind, since, (row.get("generated_at") or "").strip())


def _decoded_lines(
    stream: IO[bytes], file: str, problems: Problems, counter: Callable[[int], None], skipped: set[int]
) -> Iterator[str]:
    """Lines of ``stream`` as text; a line that is not UTF-8 is reported (and read with replacements).

    A line longer than ``MAX_LINE_BYTES`` is reported and passed over in pieces, never held whole; an empty
    line stands in for it (its number goes in ``skipped``), so the lines after it keep their numbers.
    """
    decoder = codecs.getincrementaldecoder("utf-8")
    number = 0
    last = b""
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        counter(len(raw))
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):
                last = raw
                raw = stream.readline(MAX_LINE_BYTES)
                counter(len(raw))
            last = raw or last
            problems.add(file, number, "", f"the line is longer than {MAX_LINE_BYTES:,} bytes: not read")
            skipped.add(number)
            yield "\n"
            continue
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        try:
            text = decoder().decode(raw, final=True)
        except UnicodeDecodeError as exc:
            problems.add(file, number, "", f"not UTF-8 text (byte {exc.start + 1} of the line)")
            text = raw.decode("utf-8", errors="replace")
        last = raw
        yield text
    if number and not last.endswith(b"\n"):
        problems.add(file, number, "", "the file ends in the middle of a line: truncated?")


@dataclass
class Parser:
    """Turns text fields into canonical values according to a ``Mapping``."""

    mapping: Mapping

    def value(self, column: Column, raw: str) -> Value:
        """The canonical value of ``raw``, or raises ValueError naming the broken rule."""
        if "\x00" in raw:
            raise ValueError("holds a NUL character (\\x00), which no text may hold")
        text = raw.strip()
        if not text:
            if column.required:
                raise ValueError("is required")
            return None
        if column.kind == "str":
            if column.max_length and len(text) > column.max_length:
                raise ValueError(f"is longer than {column.max_length} characters")
            if column.choices and text.lower() not in column.choices:
                raise ValueError(f"must be one of {', '.join(column.choices)}")
            return text.lower() if column.choices else text
        if column.kind == "date":
            try:
                return datetime.strptime(text, self.mapping.date_format).date()
            except ValueError:
                raise ValueError(f"is not a date in the format {self.mapping.date_format}") from None
        if column.kind == "money":
            return Money.from_plain(text, self.mapping.decimal_separator, self.mapping.thousands_separator).cents
        if column.kind == "int":
            if not text.lstrip("-").isdigit() or not text.isascii():
                raise ValueError("is not a whole number")
            return int(text)
        if column.kind == "bool":
            lowered = text.lower()
            if lowered in self.mapping.true_values:
                return True
            if lowered in self.mapping.false_values:
                return False
            raise ValueError("must be true or false")
        raise AssertionError(column.kind)


def read_rows(
    source: Source,
    spec: FileSpec,
    mapping: Mapping,
    problems: Problems,
    progress: Callable[[int], None] = lambda n: None,
) -> Iterator[tuple[int, tuple[Value, ...]]]:
    """Yield (line number, canonical values) for each valid row of one file; report the others.

    The header must hold every column (in any order, under the mapping's names) and nothing else; a column
    that ``may_be_absent`` can be left out, and is then empty on every row.
    """
    file = mapping.filename(spec)
    if source.size(file) == 0:
        problems.add(file, 0, "", "the file is empty: it needs at least a header row")
        return
    parser = Parser(mapping)
    skipped: set[int] = set()
    with source.open(file) as stream:
        reader = csv.reader(_decoded_lines(stream, file, problems, progress, skipped), strict=True)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            problems.add(file, 0, "", "the file is empty: it needs at least a header row")
            return
        except csv.Error as exc:
            problems.add(file, 1, "", f"the header row cannot be read: {exc}")
            return
        wanted = {mapping.header(spec, name): name for name in spec.names}
        absent_ok = {mapping.header(spec, c.name) for c in spec.columns if c.may_be_absent}
        missing = [h for h in wanted if h not in header and h not in absent_ok]
        extra = [h for h in header if h not in wanted]
        for h in missing:
            problems.add(file, 1, h, "column is missing from the header")
        for h in extra:
            problems.add(file, 1, h, "unknown column (rename it in the mapping file, or leave it out)")
        if len(set(header)) != len(header):
            problems.add(file, 1, "", "a column appears twice in the header")
        if missing or extra or len(set(header)) != len(header):
            return
        positions = [header.index(h) if (h := mapping.header(spec, name)) in header else None for name in spec.names]
        width = len(header)
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                problems.add(file, reader.line_num, "", f"not valid CSV: {exc}")
                return
            line = reader.line_num
            if not fields:
                if line not in skipped:  # an over-long line, already reported
                    problems.add(file, line, "", "empty line")
                continue
            if len(fields) != width:
                problems.add(file, line, "", f"has {len(fields)} fields; the header has {width}")
                continue
            values: list[Value] = []
            ok = True
            for column, position in zip(spec.columns, positions, strict=True):
                if position is None:  # left out of the header (may_be_absent)
                    values.append(None)
                    continue
                try:
                    values.append(parser.value(column, fields[position]))
                except ValueError as exc:
                    problems.add(file, line, mapping.header(spec, column.name), f"{fields[position]!r} {exc}")
                    ok = False
            if ok:
                yield line, tuple(values)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
