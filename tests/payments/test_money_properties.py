"""Money is taken once, always: a Hypothesis state machine over the real money paths, checked after every step.

Random sequences of what happens to one account: the billing system bills every month (and out of the cycle),
takes payments at the office and posts the portal's payments (read from the changes file), and the portal
imports full and incremental extracts of it; the resident pays on the Pay page, a guest pays through Pay Now,
residents turn Auto Pay on, save a new method, change the maximum or turn it off; cards and bank accounts
approve, decline, run out of funds, are cancelled on the hosted page or left there; days and months pass
and ``flask payments run`` runs.
Everything goes through the real parts: the development processor over HTTP (its webhooks reach the portal
over HTTP), the database of the run (SQLite, or PostgreSQL with ``TEST_DATABASE_URL``), the import command and
the job. Each day is an app whose ``CLOCK_START`` is that day, on the same database.

After every step: the processor took exactly the money the portal recorded; every succeeded payment has one
receipt email and one outbox row (and no other payment has either); nothing is open, or setting up, once the
processor has answered, and no charge stays claimed; no bill is charged by Auto Pay more than once or for more
than it was; and each run charges at most what was owed before it. The Pay page and Pay Now offer, and the
Account Summary shows, what the billing system's data says is owed.

The ``ci`` profile keeps the run bounded; ``HYPOTHESIS_PROFILE=long`` runs more and longer sequences
(docs/property-tests.md).
"""

from __future__ import annotations

import itertools
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_currency
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from app import create_app
from app.billing.extract import FULL, INCREMENTAL
from app.billing.models import PortalChange
from app.database.db import db
from app.payments.models import AutopayCharge, AutopayEnrolment, Payment
from app.payments.processor import FAILED, OPEN, PROCESSING, RETURNED, SUCCEEDED
from tests.billing.pages import add_links, resident_id
from tests.support.apps import CompiledTemplates
from tests.support.bank import SETTLES_LATER, settle
from tests.support.billing_system import ACCOUNT, CUSTOMER, BillingSystem, cents_of
from tests.support.config import base_config
from tests.support.databases import PortalDatabase, Templates, dispose
from tests.support.demo import TODAY
from tests.support.pages import csrf_token_from, html_page
from tests.support.payments import (
    APPROVE,
    BANK_NO_FUNDS,
    BANK_OK,
    DECLINE,
    NO_FUNDS,
    ROUTING,
    Mailbox,
    Processor,
    form_tokens,
    pay_on_hosted_page,
)
from tests.support.properties import profile
from tests.support.signin import open_session
from tests.support.threads import serve

#: What a payer does on the processor's hosted page: pay with a card or bank account that approves or not (or a
#: bank debit that stays processing until the bank answers, days later), press Cancel, or close the page.
HOW = ("approve", "decline", "no_funds", "bank", "bank_no_funds", "bank_later", "cancel", "abandon")
PAGE_FIELDS: dict[str, dict[str, str]] = {
    "approve": {"number": APPROVE},
    "decline": {"number": DECLINE},
    "no_funds": {"number": NO_FUNDS},
    "bank": {"number": "", "routing": ROUTING, "account": BANK_OK},
    "bank_no_funds": {"number": "", "routing": ROUTING, "account": BANK_NO_FUNDS},
    "bank_later": {"number": "", "routing": ROUTING, "account": SETTLES_LATER},
}
#: The hosted page's outcome of a one-time payment paid this way.
PAYMENT_OUTCOME = {
    "approve": "succeeded",
    "bank": "succeeded",
    "bank_later": "processing",
    "cancel": "cancelled",
    "abandon": "open",
}
#: Saving a method for Auto Pay: mostly one that pays, so that the job has charges to take.
SAVED_HOW = ("approve", "approve", "approve", "bank", *HOW)
MAXIMUM = st.none() | st.none() | st.integers(500, 20_000)
#: A month's bill, in cents; the billing system bills on this day of each month.
USAGE = st.integers(100, 30_000)
BILLING_DAY = 5
RESIDENTS = ("pat", "sam")
PAYERS = (*RESIDENTS, "guest")
#: Paying once: mostly with something that pays, so that money is pending when Auto Pay runs.
PAID_HOW = ("approve", "approve", "approve", *HOW)
GUEST_EMAIL = "guest@example.net"
RECEIPT = re.compile(r"\bP[A-Z2-9]{10}\b")


def method_of(how: str) -> str:
    """The method chosen on the portal's form for paying this way."""
    return "ach" if how.startswith("bank") else "card"


def money(cents: int) -> str:
    """Cents as the portal's pages print them in English."""
    return format_currency(Decimal(cents) / 100, "USD", locale="en")


class Front:
    """The portal as the processor's webhooks reach it over HTTP: whichever app is today's."""

    app: Flask | None = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self.app is not None, "a webhook arrived before any app was built"
        return self.app(environ, start_response)


@dataclass
class Rig:
    """What every example shares: the processor, the mailbox, the provider, the database templates, and the
    portal's address for webhooks."""

    processor: Processor
    mailbox: Mailbox
    smtp_port: int
    issuer: str
    templates: Templates
    compiled: CompiledTemplates
    folder: Path
    front: Front
    base_url: str
    examples: Iterator[int] = field(default_factory=itertools.count)


class MoneyMachine(RuleBasedStateMachine):
    """One account, its billing system, two residents who linked it, guests, Auto Pay and the job, over months."""

    def __init__(self, rig: Rig) -> None:
        super().__init__()
        self.rig = rig
        self.folder = rig.folder / f"example-{next(rig.examples)}"
        self.folder.mkdir()
        self.database = PortalDatabase(rig.templates, self.folder)
        self.url = self.database.create(schema=True)
        self.system = BillingSystem(opened=date(2020, 1, 1))
        self.changes = self.folder / "changes"
        self.extracts = itertools.count(1)
        #: The processor's charges before this example (it serves the whole session).
        self.first_charge = len(rig.processor.server.state.charges)
        #: How the method saved by each enrolment's setup page behaves (setup id -> HOW).
        self.saved: dict[str, str] = {}
        with rig.mailbox.lock:
            rig.mailbox.messages.clear()
        self.today = TODAY
        self.app: Flask | None = None
        self.clients: dict[str, FlaskClient] = {}
        self._open_day()
        assert self.app is not None
        add_links(self.app, resident_id(self.app, "pat"), [(ACCOUNT, CUSTOMER)])
        add_links(self.app, resident_id(self.app, "sam"), [(ACCOUNT, CUSTOMER)])

    # --- the portal of the day ---------------------------------------------------------------------------

    def _open_day(self) -> None:
        """Build the portal for ``self.today`` on the example's database; the residents sign in to it."""
        app = create_app(
            base_config(
                self.url,
                self.rig.issuer,
                CLOCK_START=f"{self.today.isoformat()}T09:00:00",
                DEV_PAYMENTS_PORT=self.rig.processor.port,
                PORTAL_BASE_URL=self.rig.base_url,
                SMTP_HOST="127.0.0.1",
                SMTP_PORT=self.rig.smtp_port,
                SMTP_STARTTLS=False,
                SMTP_FROM="billing@testville.example",
            )
        )
        app.jinja_env.bytecode_cache = self.rig.compiled
        previous, self.app = self.app, app
        self.rig.front.app = app
        if previous is not None:
            dispose(previous)
        self.database.apps.append(app)
        self.clients = {}
        for sub in RESIDENTS:
            client = app.test_client()
            open_session(client, sub)
            self.clients[sub] = client

    @property
    def portal(self) -> Flask:
        assert self.app is not None
        return self.app

    def _cli(self, *args: str) -> str:
        result = self.portal.test_cli_runner().invoke(args=list(args))
        assert result.exit_code == 0, result.output
        return result.output

    def teardown(self) -> None:
        self.rig.front.app = None
        self.database.close()

    # --- what the processor and the billing system's data say -------------------------------------------

    def _taken(self) -> list[dict[str, Any]]:
        """The money the processor took in this example: its succeeded charges."""
        charges = self.rig.processor.server.state.charges[self.first_charge :]
        return [c for c in charges if c["status"] == SUCCEEDED]

    def _on_its_way(self) -> list[dict[str, Any]]:
        """The processor's charges in this example that took the money or are still taking it (bank debits
        processing: paying again would pay twice)."""
        charges = self.rig.processor.server.state.charges[self.first_charge :]
        return [c for c in charges if c["status"] in (SUCCEEDED, PROCESSING)]

    def expected_owed(self) -> int:
        """What is owed by the billing system's data the portal holds: its balance less the money the processor
        took, or is taking, for payments that data does not carry yet, never below zero."""
        snapshot = self.system.snapshot
        pending = sum(c["amount_cents"] for c in self._on_its_way() if c["reference"] not in snapshot.references)
        return max(snapshot.balance_cents - pending, 0)

    def _active(self) -> AutopayEnrolment | None:
        with self.portal.app_context():
            found = db.session.scalar(select(AutopayEnrolment).filter_by(status="active"))
            if found is not None:
                db.session.expunge(found)
            return found

    # --- the billing system ------------------------------------------------------------------------------

    @initialize(
        opening=st.integers(100, 20_000),
        paid=st.booleans(),
        auto_pay=st.sampled_from([True, True, True, False]),
        how=st.sampled_from(SAVED_HOW),
        maximum=MAXIMUM,
    )
    def open_the_account(self, opening: int, paid: bool, auto_pay: bool, how: str, maximum: int | None) -> None:
        """The account's first full extract (one bill from before, paid or still owed); most examples start
        with Auto Pay on, mostly with a method that pays."""
        self.system.issue_bill(today=self.today - timedelta(days=25), amount_cents=opening, due_in_days=20)
        if paid:
            self.system.post_payment(today=self.today - timedelta(days=10), amount_cents=opening, method="Check")
        self._import(FULL)
        if auto_pay:
            self.resident_saves_an_auto_pay_method("pat", how, maximum, back=True)

    @rule(amount=USAGE, due_in=st.just(0) | st.integers(0, 25), imported=st.booleans())
    def billing_issues_a_bill(self, amount: int, due_in: int, imported: bool) -> None:
        """A bill out of the monthly cycle (a final or corrected bill), dated today and often due today (Auto
        Pay's day); the portal sees it at once or with a later import."""
        self.system.issue_bill(today=self.today, amount_cents=amount, due_in_days=due_in)
        if imported:
            self._import(INCREMENTAL)

    @precondition(lambda self: sum(b.balance_cents for b in self.system.bills.values()) > 0)
    @rule(amount=st.integers(100, 20_000))
    def payment_at_the_office(self, amount: int) -> None:
        """A payment the billing system takes itself (no processor reference)."""
        self.system.post_payment(today=self.today, amount_cents=amount, method="Cash")

    @precondition(lambda self: any(c["reference"] not in self.system.posted_references() for c in self._taken()))
    @rule()
    def billing_posts_the_portals_payments(self) -> None:
        """The billing system reads the changes file and posts each portal payment, once."""
        self._cli("billing", "export-changes", str(self.changes))
        if not self.changes.exists():
            return
        posted = self.system.posted_references()
        for kind, value in self.system.read_changes(self.changes):
            if kind == "payment_returned":  # the bank took the money back: billing reverses the payment
                self.system.reverse_payment(value["reference"])
                continue
            assert value["reference"] not in posted, f"payment {value['receipt']} was sent to billing twice"
            posted.add(value["reference"])
            self.system.post_payment(
                today=self.today, amount_cents=cents_of(value["amount"]), method="Online", reference=value["reference"]
            )

    @precondition(lambda self: bool(self.system.changed_bills or self.system.changed_payments))
    @rule(kind=st.sampled_from([FULL, INCREMENTAL]))
    def portal_imports(self, kind: str) -> None:
        """``flask billing import`` of a full extract, or of the bills and payments changed since the last one."""
        self._import(kind)

    def _import(self, kind: str) -> None:
        folder = self.system.write_extract(self.folder / f"extract-{next(self.extracts)}", kind=kind, today=self.today)
        output = self._cli("billing", "import", str(folder))
        assert "Imported" in output or "nothing changed" in output, output
        self.system.imported()

    # --- residents and guests ------------------------------------------------------------------------------

    def _pay(self, client: FlaskClient, path: str, how: str, amount: str, back: bool, **fields: str) -> None:
        """Submit a payment form offering what is owed, then pay on the hosted page as ``how`` says."""
        page = html_page(client.get(path))
        typed = str(page.select_one("input[name=amount]").get("value") or "")
        offered = cents_of(typed) if typed else 0  # under the $1 minimum the form offers nothing: pay ahead
        assert offered == (self.expected_owed() if self.expected_owed() >= 100 else 0), f"{path} offers {typed!r}"
        cents = {"due": offered, "part": offered // 2, "more": offered + 500}[amount]
        form = {**form_tokens(page.html), "amount": f"{max(cents, 100) / 100:.2f}", "method": method_of(how), **fields}
        started = client.post(path, data=form)
        assert started.status_code == 303, started.get_data(as_text=True)
        checkout = started.headers["Location"]
        if how != "abandon":
            action = "cancel" if how == "cancel" else "pay"
            returned = pay_on_hosted_page(checkout, action=action, **PAGE_FIELDS.get(how, {}))
            if back:
                client.get(returned)
        with self.portal.app_context():
            payment = db.session.scalar(select(Payment).filter_by(checkout_id=checkout.rsplit("/", 1)[1]))
            assert payment is not None
            assert payment.status == PAYMENT_OUTCOME.get(how, "failed"), (how, payment.status)

    @rule(
        who=st.sampled_from(PAYERS),
        how=st.sampled_from(PAID_HOW),
        amount=st.sampled_from(["due", "part", "more"]),
        back=st.booleans(),
    )
    def someone_pays(self, who: str, how: str, amount: str, back: bool) -> None:
        """A signed-in resident pays on the Pay page, after a look at the Account Summary, or a guest through
        Pay Now with the account number and customer ID from the bill: what is offered, part of it, or more."""
        if who == "guest":
            guest = self.portal.test_client()
            token = csrf_token_from(guest.get("/pay").get_data(as_text=True))
            found = guest.post("/pay", data={"csrf_token": token, "account_no": ACCOUNT, "customer_id": CUSTOMER})
            assert found.status_code == 302 and found.headers["Location"] == "/pay/amount"
            self._pay(guest, "/pay/amount", how, amount, back, email=GUEST_EMAIL)
            return
        self._check_summary(self.clients[who])
        self._pay(self.clients[who], f"/accounts/{ACCOUNT}/pay", how, amount, back)

    def _check_summary(self, client: FlaskClient) -> None:
        """The Account Summary shows one figure, what is left after payments pending (taken, or bank debits still
        processing, as :meth:`expected_owed` counts them), and says when some are still being posted."""
        page = html_page(client.get(f"/accounts/{ACCOUNT}"))
        owed = self.expected_owed()
        figure = page.select_one(".portal-due__figure").get_text(" ", strip=True)
        assert figure.startswith(money(owed) + " ") if owed else figure.startswith("Nothing due"), figure
        pending = [c for c in self._on_its_way() if c["reference"] not in self.system.snapshot.references]
        assert ("is still being posted" in page.text) is bool(pending)

    # --- Auto Pay ------------------------------------------------------------------------------------------

    @rule(who=st.sampled_from(RESIDENTS), how=st.sampled_from(SAVED_HOW), maximum=MAXIMUM, back=st.booleans())
    def resident_saves_an_auto_pay_method(self, who: str, how: str, maximum: int | None, back: bool) -> None:
        """Turn Auto Pay on, or save a new method for it (either resident: the account has one Auto Pay)."""
        client = self.clients[who]
        html = client.get(f"/accounts/{ACCOUNT}/autopay").get_data(as_text=True)
        form = {
            **form_tokens(html),
            "method": method_of(how),
            "max_amount": "" if maximum is None else f"{maximum / 100:.2f}",
        }
        started = client.post(f"/accounts/{ACCOUNT}/autopay", data=form)
        assert started.status_code == 303, started.get_data(as_text=True)
        setup = started.headers["Location"]
        self.saved[setup.rsplit("/", 1)[1]] = how
        if how == "abandon":
            return
        returned = pay_on_hosted_page(setup, action="cancel" if how == "cancel" else "pay", **PAGE_FIELDS.get(how, {}))
        if back:
            client.get(returned)
        active = self._active()
        if how == "cancel":
            return
        assert active is not None and active.setup_id == setup.rsplit("/", 1)[1] and active.max_cents == maximum

    @precondition(lambda self: self._active() is not None)
    @rule(who=st.sampled_from(RESIDENTS), how=st.sampled_from(SAVED_HOW), back=st.booleans())
    def resident_changes_the_method(self, who: str, how: str, back: bool) -> None:
        """Save a new method for Auto Pay that is on, keeping its maximum: it takes over what the old one had
        scheduled, and knows what the old one took."""
        active = self._active()
        assert active is not None
        self.resident_saves_an_auto_pay_method(who, how, active.max_cents, back)

    @precondition(lambda self: self._active() is not None)
    @rule(who=st.sampled_from(RESIDENTS), maximum=MAXIMUM)
    def resident_changes_the_maximum(self, who: str, maximum: int | None) -> None:
        """Set or clear Auto Pay's maximum."""
        client = self.clients[who]
        html = client.get(f"/accounts/{ACCOUNT}/autopay").get_data(as_text=True)
        amount = "" if maximum is None else f"{maximum / 100:.2f}"
        response = client.post(f"/accounts/{ACCOUNT}/autopay/maximum", data={**form_tokens(html), "max_amount": amount})
        assert response.status_code == 302
        active = self._active()
        assert active is not None and active.max_cents == maximum

    @precondition(lambda self: self._active() is not None)
    @rule(who=st.sampled_from(RESIDENTS))
    def resident_turns_auto_pay_off(self, who: str) -> None:
        """Turn Auto Pay off: nothing scheduled is taken."""
        client = self.clients[who]
        html = client.get(f"/accounts/{ACCOUNT}/autopay").get_data(as_text=True)
        response = client.post(f"/accounts/{ACCOUNT}/autopay/cancel", data={**form_tokens(html)})
        assert response.status_code == 302
        assert self._active() is None

    # --- time and the job ----------------------------------------------------------------------------------

    @rule(days=st.integers(1, 35), usage=USAGE)
    def days_pass(self, days: int, usage: int) -> None:
        """Move on some days: the billing system's monthly bills of the days passed (for ``usage``), the night's
        import, and the day's job."""
        self._arrive(self.today + timedelta(days=days), usage)

    def _next_due(self) -> date | None:
        dates = [b.due_date for b in self.system.snapshot.bills.values() if b.due_date > self.today]
        return min(dates, default=None)

    @precondition(lambda self: self._next_due() is not None)
    @rule(usage=USAGE)
    def until_the_next_due_date(self, usage: int) -> None:
        """Move on to the next due date the portal knows of (Auto Pay's day, with AUTOPAY_DAYS_BEFORE_DUE=0)."""
        due = self._next_due()
        assert due is not None
        self._arrive(due, usage)

    def _arrive(self, day: date, usage: int) -> None:
        """A later day: an app whose ``CLOCK_START`` is that day on the same database. The billing system bills
        on the 5th of each month (due 20 days later), the portal imports the night's extract, and the day's
        ``flask payments run`` runs."""
        passed = (self.today + timedelta(days=n) for n in range(1, (day - self.today).days + 1))
        for billed in (d for d in passed if d.day == BILLING_DAY):
            self.system.issue_bill(today=billed, amount_cents=usage, due_in_days=20)
        self.today = day
        self._open_day()
        if self.system.changed_bills or self.system.changed_payments:
            self._import(INCREMENTAL)
        self.payments_run()

    @precondition(lambda self: self._active() is not None)
    @rule()
    def payments_run(self) -> None:
        """``flask payments run`` (again: the day's run happens as the day starts): it charges at most what was
        owed, each bill at most its balance, and every bill due to an active, approving Auto Pay without a
        maximum is settled."""
        owed = self.expected_owed()
        with self.portal.app_context():
            before = set(db.session.scalars(select(Payment.id)))
        self._cli("payments", "run")
        with self.portal.app_context():
            new = [
                (charge, payment)
                for charge, payment in db.session.execute(
                    select(AutopayCharge, Payment).join(Payment, Payment.id == AutopayCharge.payment_id)
                )
                if payment.id not in before and payment.status == SUCCEEDED
            ]
            charges = list(db.session.scalars(select(AutopayCharge)))
            db.session.expunge_all()
        assert sum(p.amount_cents for _, p in new) <= owed, "Auto Pay took more than was owed"
        for charge, payment in new:
            bill = self.system.snapshot.bills[charge.bill_no]
            assert payment.amount_cents <= bill.balance_cents and bill.due_date <= self.today, (bill, payment)
        active = self._active()
        if (
            active is None
            or active.max_cents is not None
            or self.saved[active.setup_id or ""] not in ("approve", "bank")
        ):
            return
        # A debit the bank failed or returned is not taken again: the resident is emailed, as for a declined card.
        settled = {c.bill_no for c in charges if c.status in ("charged", "paid", "failed")}
        skipped = {c.bill_no for c in charges if c.enrolment_id == active.id and c.status == "over_max"}
        for bill in self.system.snapshot.bills.values():
            if bill.balance_cents > 0 and active.starts_on <= bill.bill_date and bill.due_date <= self.today:
                assert bill.bill_no in settled | skipped, f"Auto Pay left {bill} untaken"

    @rule(data=st.data())
    def the_bank_answers_days_later(self, data: st.DataObject) -> None:
        """A bank debit still processing settles or fails; a payment that went through is taken back. The
        processor sends its webhook over HTTP, as Stripe would."""
        charges = self.rig.processor.server.state.charges[self.first_charge :]
        waiting = [(c["reference"], s) for c in charges if c["status"] == PROCESSING for s in (SUCCEEDED, FAILED)]
        # A charge that went through may be taken back: an ACH return, or a card's dispute (Stripe's
        # charge.dispute.created), which the portal treats alike.
        choices = waiting + [(c["reference"], RETURNED) for c in charges if c["status"] == SUCCEEDED]
        if not choices:
            return
        reference, outcome = data.draw(st.sampled_from(choices))
        answer = settle(self.rig.processor.url, reference, outcome, failure="" if outcome == SUCCEEDED else "R01")
        assert answer.status_code == 200, answer.text

    # --- after every step ----------------------------------------------------------------------------------

    @invariant()
    def money_is_taken_once(self) -> None:
        """The processor, the portal's records, the receipts and the outbox agree, and no bill is charged twice."""
        with self.portal.app_context():
            payments = list(db.session.scalars(select(Payment)))
            enrolments = list(db.session.scalars(select(AutopayEnrolment)))
            charges = list(db.session.scalars(select(AutopayCharge)))
            outbox = [json.loads(c.value) for c in db.session.scalars(select(PortalChange).filter_by(kind="payment"))]
            returns = [
                json.loads(c.value) for c in db.session.scalars(select(PortalChange).filter_by(kind="payment_returned"))
            ]
            db.session.expunge_all()
        state = self.rig.processor.server.state

        # The processor took exactly the money the portal recorded as succeeded, once per reference.
        taken = Counter((c["reference"], c["amount_cents"]) for c in self._taken())
        recorded = Counter((p.reference, p.amount_cents + p.fee_cents) for p in payments if p.status == SUCCEEDED)
        assert taken == recorded

        # One receipt email and one outbox row per payment that went through (returned later or not), and one
        # more row per return; none for any other.
        with self.rig.mailbox.lock:
            mailed = Counter(
                m
                for message in self.rig.mailbox.messages
                if message["Subject"].startswith("Payment receipt")
                for m in RECEIPT.findall(message["Subject"])
            )
        exported = Counter((row["receipt"], row["reference"]) for row in outbox)
        reversed_ = Counter((row["receipt"], row["reference"]) for row in returns)
        for payment in payments:
            went_through = payment.status in (SUCCEEDED, RETURNED)
            key = (payment.receipt_no, payment.reference)
            assert mailed[payment.receipt_no] == went_through, (payment.receipt_no, payment.status)
            assert exported[key] == went_through, (payment.receipt_no, payment.status)
            assert reversed_[key] == (payment.status == RETURNED), (payment.receipt_no, payment.status)
        assert sum(exported.values()) == sum(1 for p in payments if p.status in (SUCCEEDED, RETURNED))

        # Nothing open, or setting up, once the processor answered; no charge left claimed.
        for payment in payments:
            if payment.checkout_id is None:
                assert payment.status != OPEN, payment.receipt_no  # Auto Pay: the charge answers at once
            else:
                assert payment.status == state.sessions[payment.checkout_id].status, payment.receipt_no
        for enrolment in enrolments:
            assert enrolment.setup_id is not None
            assert (enrolment.status == "setup") == (state.sessions[enrolment.setup_id].status == OPEN)
        assert "claimed" not in {c.status for c in charges}

        # Auto Pay charges a bill once, and never for more than the bill was.
        assert max(Counter(c.bill_no for c in charges if c.status == "charged").values(), default=0) <= 1
        by_id = {p.id: p for p in payments}
        for charge in charges:
            payment = by_id.get(charge.payment_id) if charge.payment_id is not None else None
            if payment is not None and payment.status == SUCCEEDED:
                assert payment.amount_cents <= self.system.bills[charge.bill_no].amount_cents


@pytest.fixture
def rig(
    processor: Processor,
    smtp: tuple[int, Mailbox],
    oidc_server: str,
    database_templates: Templates,
    compiled_templates: CompiledTemplates,
    tmp_path: Path,
) -> Iterator[Rig]:
    """The shared parts, with the portal served over HTTP for the processor's webhooks."""
    front = Front()
    with serve(front) as url:
        yield Rig(
            processor, smtp[1], smtp[0], oidc_server, database_templates, compiled_templates, tmp_path, front, url
        )


def test_money_is_taken_once_whatever_happens(rig: Rig) -> None:
    run_state_machine_as_test(lambda: MoneyMachine(rig), settings=profile())
