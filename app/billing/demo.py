"""A deterministic demo dataset for the billing read model.

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

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.orm import Session

from app.billing.models import (
    Announcement,
    BillingAccount,
    BillingBill,
    BillingBillLine,
    BillingCustomer,
    BillingMeterRead,
    BillingOccupancy,
    BillingPayment,
    BillingService,
)

SEED = "citizen-self-service-demo-1"
DEFAULT_ACCOUNTS = 300
MONTHS = 24
BILL_DELAY_DAYS = 5
FIRST_ACCOUNT = 100001
FIRST_CUSTOMER = 2000000
NEW_OCCUPANT_BASE = 2000400
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


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def is_loaded(session: Session) -> bool:
    """True when the read model holds any account (demo or imported)."""
    return bool(session.scalar(select(exists().where(BillingAccount.id.is_not(None)))))


def clear_read_model(session: Session) -> None:
    """Delete every row of the billing read model (announcements stay)."""
    for model in (
        BillingBillLine,
        BillingPayment,
        BillingMeterRead,
        BillingBill,
        BillingService,
        BillingOccupancy,
        BillingAccount,
        BillingCustomer,
    ):
        session.execute(delete(model))


def _customer(rng: random.Random, customer_id: str, service_address: str) -> dict[str, Any]:
    if rng.random() < 0.15:
        mailing = f"PO Box {rng.randint(100, 9999)}\n{CITY_LINE}"
    else:
        mailing = f"{service_address}\n{CITY_LINE}"
    return {"customer_id": customer_id, "name": _name(rng), "mailing_address": mailing}


def load_demo(session: Session, *, today: date, accounts: int = DEFAULT_ACCOUNTS) -> DemoCounts:
    """Replace the read model with the demo dataset covering the 24 billed months before ``today``.

    Seeds the demo announcements when there are none. Flushes; the caller commits.
    """
    if accounts < MOVED_INDEX:
        raise ValueError(f"the demo needs at least {MOVED_INDEX} accounts for the documented pairs")
    clear_read_model(session)
    periods = billing_periods(today)
    newest_billed = max(n for n, first in enumerate(periods) if bill_date_of(first) <= today)
    customers: dict[str, dict[str, Any]] = {}
    account_rows: list[dict[str, Any]] = []
    plans: list[dict[str, Any]] = []
    for index in range(1, accounts + 1):
        account_no = str(FIRST_ACCOUNT + index - 1)
        rng = random.Random(f"{SEED}:{account_no}")
        address = f"{rng.randint(100, 4999)} {rng.choice(STREETS)}"
        customer_id = str(FIRST_CUSTOMER + (1 if index == 2 else index))
        if customer_id not in customers:
            customers[customer_id] = _customer(rng, customer_id, address)
        opened = date(2012 + rng.randint(0, 9), rng.randint(1, 12), 1)
        occupancies: list[tuple[str, date, date | None]] = []
        closed_on = None
        if index == CLOSED_INDEX:
            closed_on = _month_end(periods[-4])
            occupancies.append((customer_id, opened, closed_on))
        elif index == MOVED_INDEX or index % MOVE_EVERY == 0:
            move_out = _month_end(periods[-13] if index == MOVED_INDEX else periods[rng.randint(4, 20)])
            newcomer = str(NEW_OCCUPANT_BASE + (0 if index == MOVED_INDEX else index))
            customers[newcomer] = _customer(rng, newcomer, address)
            occupancies += [(customer_id, opened, move_out), (newcomer, move_out + timedelta(days=1), None)]
        else:
            occupancies.append((customer_id, opened, None))
        current = occupancies[-1][0]
        account_rows.append(
            {
                "account_no": account_no,
                "customer_id": current,
                "service_address": address,
                "route": f"R{index % 12 + 1:02d}",
                "status": "closed" if closed_on else "active",
                "bill_delivery": "email" if rng.random() < 0.4 else "paper",
                "opened_on": opened,
                "closed_on": closed_on,
            }
        )
        services = [s for s in SERVICES if not (s[0] == "SANITATION" and rng.random() < 0.1)]
        if rng.random() < 0.2:
            services = [s for s in services if s[0] != "MXU"]
        plans.append(
            {
                "rng": rng,
                "account_no": account_no,
                "opened": opened,
                "closed_on": closed_on,
                "occupancies": occupancies,
                "services": services,
                "base_use": rng.randint(2500, 9000),
                "always_pays": index in (1, 2) or rng.random() > 0.08,
                "pays_latest": index not in (1, 2) and rng.random() < 0.35,
            }
        )

    session.execute(insert(BillingCustomer), [customers[k] for k in sorted(customers)])
    session.execute(insert(BillingAccount), account_rows)
    account_ids = dict(session.execute(select(BillingAccount.account_no, BillingAccount.id)).all())

    occupancy_rows: list[dict[str, Any]] = []
    service_rows: list[dict[str, Any]] = []
    read_rows: list[dict[str, Any]] = []
    bill_rows: list[dict[str, Any]] = []
    line_rows: list[tuple[str, dict[str, Any]]] = []
    payment_rows: list[tuple[str, dict[str, Any]]] = []
    for plan in plans:
        plan_rng: random.Random = plan["rng"]
        account_id = account_ids[plan["account_no"]]
        stopped: date | None = plan["closed_on"]
        for customer_id, start, end in plan["occupancies"]:
            occupancy_rows.append(
                {"account_id": account_id, "customer_id": customer_id, "start_date": start, "end_date": end}
            )
        for name, code, metered, _, _ in plan["services"]:
            service_rows.append(
                {
                    "account_id": account_id,
                    "service": name,
                    "code": code,
                    "start_date": plan["opened"],
                    "stop_date": stopped,
                    "status": "inactive" if stopped else "active",
                    "metered": metered,
                }
            )
        for number, first in enumerate(periods):
            last = _month_end(first)
            if stopped is not None and first > stopped:
                break
            season = 1 + 0.35 * math.sin((first.month - 4) / 12 * 2 * math.pi)
            gallons = int(plan["base_use"] * season * plan_rng.uniform(0.85, 1.15)) // 10 * 10
            read_rows.append(
                {
                    "account_id": account_id,
                    "service": "WATER",
                    "period_start": first,
                    "period_end": last,
                    "consumption": gallons,
                    "unit": "gal",
                }
            )
            occupant, _, moved_out = next(
                o for o in plan["occupancies"] if o[1] <= first and (o[2] is None or o[2] >= last)
            )
            bill_date = bill_date_of(first)
            if bill_date > today:
                continue  # read, not billed yet
            bill_no = f"{plan['account_no']}{first:%y%m}"
            due_date = bill_date + timedelta(days=20)
            lines = []
            for name, _, _, base, per_kgal in plan["services"]:
                amount = base + round(gallons * per_kgal / 1000)
                usage = f" ({gallons:,} gal)" if per_kgal else ""
                lines.append({"service": name, "description": DESCRIPTIONS[name] + usage, "amount_cents": amount})
            total = sum(line["amount_cents"] for line in lines)
            newest = number == newest_billed
            paid = 0
            if (not newest or plan["pays_latest"]) and (plan["always_pays"] or number < newest_billed - 2):
                portions = [total] if plan_rng.random() > 0.1 else [total // 2, total - total // 2]
                posted = bill_date + timedelta(days=plan_rng.randint(3, 18))
                for portion in portions:
                    if posted > today:
                        break
                    method = plan_rng.choice(METHODS)
                    payment_rows.append(
                        (
                            bill_no,
                            {
                                "account_id": account_id,
                                "customer_id": occupant,
                                "posted_on": posted,
                                "amount_cents": portion,
                                "method": method,
                            },
                        )
                    )
                    paid += portion
                    posted += timedelta(days=plan_rng.randint(5, 12))
            bill_rows.append(
                {
                    "bill_no": bill_no,
                    "account_id": account_id,
                    "customer_id": occupant,
                    "bill_date": bill_date,
                    "due_date": due_date,
                    "amount_cents": total,
                    "balance_cents": total - paid,
                    "is_final": moved_out == last,
                }
            )
            line_rows += [(bill_no, line) for line in lines]

    session.execute(insert(BillingOccupancy), occupancy_rows)
    session.execute(insert(BillingService), service_rows)
    session.execute(insert(BillingMeterRead), read_rows)
    session.execute(insert(BillingBill), bill_rows)
    bill_ids = dict(session.execute(select(BillingBill.bill_no, BillingBill.id)).all())
    session.execute(insert(BillingBillLine), [{"bill_id": bill_ids[no], **row} for no, row in line_rows])
    session.execute(insert(BillingPayment), [{"bill_id": bill_ids[no], **row} for no, row in payment_rows])
    seed_announcements(session, today=today)
    session.flush()
    return DemoCounts(len(customers), len(account_rows), len(bill_rows), len(payment_rows), len(read_rows))


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
                starts_on=today - timedelta(days=30),
                ends_on=None,
            ),
            Announcement(
                title="Hydrant flushing this month",
                body="Crews are flushing hydrants on the north side. If your water looks cloudy, run the "
                "cold tap for a few minutes.",
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
