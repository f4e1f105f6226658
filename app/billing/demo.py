"""A deterministic synthetic billing extract, of any size, and the demo dataset imported from it.

The same ``today`` always gives the same rows: every random choice comes from a generator seeded with a
fixed string and the account number. ``today`` only decides which 24 months the data covers, so the demo
stays current. The README documents these pairs, which always exist:

* account ``100001`` / customer ``2000001``: an active account with a balance;
* account ``100002`` / customer ``2000001``: a second account of the same customer;
* account ``100003`` / customer ``2000003``: closed, with a final bill;
* account ``100004``: customer ``2000004`` moved out a year ago, customer ``2000400`` moved in then
  (each sees only their own bills, payments and consumption).
"""

from __future__ import annotations

import csv
import math
import random
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from app.billing.extract import FORMAT_VERSION, MANIFEST, SPECS, Mapping, Source
from app.billing.importer import import_extract
from app.billing.models import Announcement, BillingAccount, BillingService  # noqa: F401  (tests use BillingService)
from app.core.money import Money

SEED = "citizen-self-service-demo-1"
DEFAULT_ACCOUNTS = 300
MONTHS = 24
BILL_DELAY_DAYS = 5
FIRST_ACCOUNT = 100001
FIRST_CUSTOMER = 2000000
NEW_OCCUPANT_BASE = 2000400
#: Customer IDs of the other newcomers (base + account index), clear of the first customers' IDs.
LATER_OCCUPANT_BASE = 5000000
#: Account index (1-based) of the documented closed account and the account that changed occupants.
CLOSED_INDEX = 3
MOVED_INDEX = 4
#: Every account whose index is a multiple of this also changed occupants (besides ``MOVED_INDEX``).
MOVE_EVERY = 37

SERVICES = (
    # service, code, metered, base cents, cents per 1,000 gallons
    ("WATER", "1000", True, 1500, 450),
    ("SEWER", "2000", False, 1200, 375),
    ("SANITATION", "3000", False, 1850, 0),
    ("MXU", "4000", False, 200, 0),
)
DESCRIPTIONS = {
    "WATER": "Water base charge and usage",
    "SEWER": "Sewer base charge and usage",
    "SANITATION": "Sanitation: trash and recycling",
    "MXU": "MXU meter radio fee",
}
#: The demo mapping's Spanish labels: service names and line descriptions as the demo writes them.
SPANISH_SERVICES = {"WATER": "Agua", "SEWER": "Alcantarillado", "SANITATION": "Basura y reciclaje", "MXU": "MXU"}
SPANISH_LINES = {
    "WATER": "Cargo base y consumo de agua",
    "SEWER": "Cargo base y consumo de alcantarillado",
    "SANITATION": "Saneamiento: basura y reciclaje",
    "MXU": "Cargo por el radio del medidor (MXU)",
}
# fmt: off
FIRST_NAMES = (
    "Avery", "Blake", "Carmen", "Dana", "Elliot", "Farah", "Gabriel", "Hana", "Isaac", "Jordan", "Keiko",
    "Luis", "Maya", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Samuel", "Tamika", "Uma", "Victor", "Wen",
    "Ximena", "Yusuf", "Zoe", "Ada", "Bruno", "Chloe", "Deshawn",
)
LAST_NAMES = (
    "Anderson", "Begay", "Castillo", "Dubois", "Eriksen", "Fofana", "Garcia", "Haugen", "Ibrahim",
    "Johnson", "Kowalski", "Larsen", "Martinez", "Nguyen", "Olsen", "Patel", "Quintero", "Rahman",
    "Schmidt", "Thompson", "Usman", "Vasquez", "Williams", "Xiong", "Yazzie", "Zimmerman",
)
STREETS = (
    "Elm St", "Oak Ave", "Prairie Dr", "Burdick Expy", "Main St", "Broadway", "Dakota Ave", "River Rd",
    "4th Ave SW", "16th St NW", "Maple Ln", "Cedar Ct", "Souris Dr", "Valley View Rd", "Park Pl",
    "Sunset Blvd", "Harvest Way", "Lincoln Ave", "Hillcrest Dr", "Juniper St",
)
# fmt: on
CITY_LINE = "Springfield, ST 12345"
METHODS = ("Online", "Online", "Online", "Bank draft", "Check", "Card by phone", "Cash")


@dataclass(frozen=True)
class DemoCounts:
    """How many rows of each kind the demo loaded."""

    customers: int
    accounts: int
    bills: int
    payments: int
    reads: int


def customer_of(index: int) -> str:
    """The first customer of the account with this index (1-based); never a documented newcomer's ID."""
    if index == 2:
        return str(FIRST_CUSTOMER + 1)
    if FIRST_CUSTOMER + index == NEW_OCCUPANT_BASE:
        return str(LATER_OCCUPANT_BASE - index)
    return str(FIRST_CUSTOMER + index)


def _month_end(first: date) -> date:
    following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return following - timedelta(days=1)


def _add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def billing_periods(today: date, months: int = MONTHS) -> list[date]:
    """First days of the ``months`` whole months before ``today``'s month: each has a meter read."""
    last = _add_months(date(today.year, today.month, 1), -1)
    return [_add_months(last, -back) for back in range(months - 1, -1, -1)]


def bill_date_of(period: date) -> date:
    """A period's bill is dated five days after the month ends; it does not exist before then."""
    return _month_end(period) + timedelta(days=BILL_DELAY_DAYS)


def is_loaded(session: Session) -> bool:
    """True when the read model holds any account (demo or imported)."""
    return bool(session.scalar(select(exists().where(BillingAccount.account_no.is_not(None)))))


def _customer(rng: random.Random, customer_id: str, service_address: str) -> tuple[str, str, str, str]:
    if rng.random() < 0.15:
        mailing = f"PO Box {rng.randint(100, 9999)}\n{CITY_LINE}"
    else:
        mailing = f"{service_address}\n{CITY_LINE}"
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    return (customer_id, f"{first} {last}", last, mailing)


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


class _Writers:
    """One CSV writer per file of the extract, headers written."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._files = {spec.kind: (directory / spec.filename).open("w", encoding="utf-8", newline="") for spec in SPECS}
        self.rows = {kind: csv.writer(handle, lineterminator="\n").writerow for kind, handle in self._files.items()}
        for spec in SPECS:
            self.rows[spec.kind](spec.names)
        self.counts = dict.fromkeys(self._files, 0)

    def write(self, kind: str, row: tuple[object, ...]) -> None:
        self.rows[kind](row)
        self.counts[kind] += 1

    def close(self) -> None:
        for handle in self._files.values():
            handle.close()


def synth_extract(directory: Path, *, today: date, accounts: int = DEFAULT_ACCOUNTS) -> DemoCounts:
    """Write a deterministic full extract of ``accounts`` accounts to ``directory``, one account at a time.

    Memory does not grow with ``accounts``: each account's rows are written as they are made. The
    documented demo pairs are always in it (accounts 100001 to 100004).
    """
    if accounts < MOVED_INDEX:
        raise ValueError(f"the demo needs at least {MOVED_INDEX} accounts for the documented pairs")
    periods = billing_periods(today)
    newest_billed = max(n for n, first in enumerate(periods) if bill_date_of(first) <= today)
    out = _Writers(directory)
    with (directory / MANIFEST).open("w", encoding="utf-8", newline="") as manifest:
        manifest.write(f"extract_kind,since,generated_at,format_version\nfull,,{today.isoformat()},{FORMAT_VERSION}\n")
    try:
        for index in range(1, accounts + 1):
            _synth_account(out, index, periods, newest_billed, today)
    finally:
        out.close()
    c = out.counts
    return DemoCounts(c["customers"], c["accounts"], c["bills"], c["payments"], c["meter_reads"])


def _synth_account(out: _Writers, index: int, periods: list[date], newest_billed: int, today: date) -> None:
    account_no = str(FIRST_ACCOUNT + index - 1)
    rng = random.Random(f"{SEED}:{account_no}")
    address = f"{rng.randint(100, 4999)} {rng.choice(STREETS)}"
    customer_id = customer_of(index)
    if index != 2:  # account 100002 belongs to the customer of 100001
        out.write("customers", _customer(rng, customer_id, address))
    opened = date(2012 + rng.randint(0, 9), rng.randint(1, 12), 1)
    occupancies: list[tuple[str, date, date | None]] = []
    closed_on = None
    if index == CLOSED_INDEX:
        closed_on = _month_end(periods[-4])
        occupancies.append((customer_id, opened, closed_on))
    elif index == MOVED_INDEX or index % MOVE_EVERY == 0:
        move_out = _month_end(periods[-13] if index == MOVED_INDEX else periods[rng.randint(4, 20)])
        newcomer = str(NEW_OCCUPANT_BASE if index == MOVED_INDEX else LATER_OCCUPANT_BASE + index)
        out.write("customers", _customer(rng, newcomer, address))
        occupancies += [(customer_id, opened, move_out), (newcomer, move_out + timedelta(days=1), None)]
    else:
        occupancies.append((customer_id, opened, None))
    out.write(
        "accounts",
        (
            account_no,
            occupancies[-1][0],
            address,
            f"R{index % 12 + 1:02d}",
            "closed" if closed_on else "active",
            "email" if rng.random() < 0.4 else "paper",
            opened.isoformat(),
            _day(closed_on),
        ),
    )
    services = [s for s in SERVICES if not (s[0] == "SANITATION" and rng.random() < 0.1)]
    if rng.random() < 0.2:
        services = [s for s in services if s[0] != "MXU"]
    base_use = rng.randint(2500, 9000)
    always_pays = index in (1, 2) or rng.random() > 0.08
    pays_latest = index not in (1, 2) and rng.random() < 0.35
    for occupant, start, end in occupancies:
        out.write("occupancies", (account_no, occupant, start.isoformat(), _day(end)))
    for name, code, metered, _, _ in services:
        status = "inactive" if closed_on else "active"
        out.write(
            "services", (account_no, name, code, opened.isoformat(), _day(closed_on), status, str(metered).lower())
        )
    for number, first in enumerate(periods):
        last = _month_end(first)
        if closed_on is not None and first > closed_on:
            break
        season = 1 + 0.35 * math.sin((first.month - 4) / 12 * 2 * math.pi)
        gallons = int(base_use * season * rng.uniform(0.85, 1.15)) // 10 * 10
        out.write("meter_reads", (account_no, "WATER", first.isoformat(), last.isoformat(), gallons, "gal"))
        occupant, _, moved_out = next(o for o in occupancies if o[1] <= first and (o[2] is None or o[2] >= last))
        bill_date = bill_date_of(first)
        if bill_date > today:
            continue  # read, not billed yet
        bill_no = f"{account_no}{first:%y%m}"
        lines = []
        for name, _, _, base, per_kgal in services:
            usage = f" ({gallons:,} gal)" if per_kgal else ""
            lines.append((name, DESCRIPTIONS[name] + usage, base + round(gallons * per_kgal / 1000)))
        total = sum(amount for _, _, amount in lines)
        newest = number == newest_billed
        paid = 0
        if (not newest or pays_latest) and (always_pays or number < newest_billed - 2):
            portions = [total] if rng.random() > 0.1 else [total // 2, total - total // 2]
            posted = bill_date + timedelta(days=rng.randint(3, 18))
            for n, portion in enumerate(portions, start=1):
                if posted > today:
                    break
                method = rng.choice(METHODS)
                out.write(
                    "payments",
                    (
                        f"{bill_no}-{n}",
                        account_no,
                        occupant,
                        bill_no,
                        posted.isoformat(),
                        Money(portion).plain(),
                        method,
                        "",
                    ),
                )
                paid += portion
                posted += timedelta(days=rng.randint(5, 12))
        out.write(
            "bills",
            (
                bill_no,
                account_no,
                occupant,
                bill_date.isoformat(),
                (bill_date + timedelta(days=20)).isoformat(),
                Money(total).plain(),
                Money(total - paid).plain(),
                str(moved_out == last).lower(),
            ),
        )
        for line_no, (name, description, amount) in enumerate(lines, start=1):
            out.write("bill_lines", (bill_no, line_no, name, description, Money(amount).plain()))


def demo_mapping() -> Mapping:
    """The demo's mapping: the documented names and formats, with Spanish labels for its services and lines."""
    labels = {("es", name, ""): label for name, label in SPANISH_SERVICES.items()}
    labels.update({("es", name, DESCRIPTIONS[name]): label for name, label in SPANISH_LINES.items()})
    return Mapping(labels=labels)


def load_demo(session: Session, *, today: date, accounts: int = DEFAULT_ACCOUNTS) -> DemoCounts:
    """Replace the read model with the demo dataset covering the 24 billed months before ``today``.

    Takes the path of real data: a synthetic extract is written to a temporary folder and imported in the
    session's transaction. Seeds the demo announcements when there are none. Flushes; the caller commits.
    """
    with tempfile.TemporaryDirectory(prefix="portal-demo-") as folder:
        counts = synth_extract(Path(folder), today=today, accounts=accounts)
        source = Source(Path(folder))
        try:
            result = import_extract(session.connection(), source, demo_mapping())
        finally:
            source.close()
    if result.outcome != "succeeded":  # the generator and the validator disagree: a bug, not bad input
        raise RuntimeError("the demo extract was refused: " + "; ".join(map(str, result.problems.listed[:5])))
    session.expire_all()
    seed_announcements(session, today=today)
    session.flush()
    return counts


def seed_announcements(session: Session, *, today: date) -> None:
    """Add the demo announcements when there are none."""
    if session.scalar(select(exists().where(Announcement.id.is_not(None)))):
        return
    session.add_all(
        [
            Announcement(
                title="Link your utility accounts online",
                body="You can now see your balance, bills and water use here. Choose \u201cLink to "
                "account\u201d and enter the account number and customer ID printed on your bill.",
                title_es="Vincule sus cuentas de servicios en línea",
                body_es="Ahora puede ver aquí su saldo, sus facturas y su consumo de agua. Elija \u201cVincular "
                "una cuenta\u201d e ingrese el número de cuenta y el ID de cliente impresos en su factura.",
                starts_on=today - timedelta(days=30),
                ends_on=None,
            ),
            Announcement(
                title="Hydrant flushing this month",
                body="Crews are flushing hydrants on the north side. If your water looks cloudy, run the "
                "cold tap for a few minutes.",
                title_es="Limpieza de hidrantes este mes",
                body_es="Los equipos están limpiando los hidrantes del lado norte. Si el agua se ve turbia, deje "
                "correr el agua fría unos minutos.",
                starts_on=today - timedelta(days=3),
                ends_on=today + timedelta(days=30),
            ),
            Announcement(
                title="Office hours changed",
                body="The Utility Billing office is open 8 a.m. to 4:30 p.m., Monday to Friday.",
                starts_on=today - timedelta(days=400),
                ends_on=today - timedelta(days=300),
            ),
        ]
    )
