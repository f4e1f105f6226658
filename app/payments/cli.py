"""``flask payments run``: schedule Auto Pay for new bills, take the charges that are due, clear posted lines,
ask the processor about payments still waiting; ``flask payments reconcile``: the daily reconciliation."""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import AppGroup
from flask_babel import force_locale
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.billing import billing_source, city_today
from app.core.clock import Clock, utcnow
from app.core.config import get_settings
from app.database.db import db
from app.payments import reconcile
from app.payments.autopay_run import claim_due, release_claim, schedule_charges, take_charge
from app.payments.charges import check_payment, payments_to_check
from app.payments.configured import payment_processor
from app.payments.notices import send_notice
from app.payments.owed import match_posted
from app.payments.processor import ProcessorUnavailable
from app.payments.rules import Notice

payments_cli = AppGroup("payments", help="Auto Pay charges and payment bookkeeping.")


@payments_cli.command("run")
@click.option("--limit", type=click.IntRange(1, 10_000), default=500, show_default=True)
def run_command(limit: int) -> None:
    """Take due Auto Pay charges (each once, even with several instances running this at the same time)."""
    session = db.session()
    now, today = utcnow(), city_today()
    posted = match_posted(session, now=now)
    session.commit()
    checked, notices = _check_waiting(session, now=now, limit=limit)
    try:
        scheduled = schedule_charges(
            session,
            billing_source(),
            today=today,
            days_before=get_settings().autopay_days_before_due,
            now=now,
        )
        session.commit()
    except IntegrityError:  # another instance is scheduling the same bills right now; it emails the notices
        session.rollback()
        scheduled = []
    notices += scheduled
    worker = f"{socket.gethostname()}:{os.getpid()}"
    claimed = claim_due(session, today=today, worker=worker, now=now, limit=limit)
    session.commit()
    charged = failed = processing = 0
    processor = None
    for charge_id in claimed:
        try:
            processor = processor or payment_processor()
            notice = take_charge(session, processor, billing_source(), charge_id, today=today, now=utcnow())
        except ProcessorUnavailable as exc:
            session.rollback()
            release_claim(session, charge_id)
            session.commit()
            click.echo(f"processor unavailable ({exc}); charge {charge_id} left for the next run", err=True)
            continue
        session.commit()
        if notice is not None:
            charged += notice.kind == "charged"
            failed += notice.kind == "failed"
            processing += notice.kind == "processing"
            notices.append(notice)
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "en"):  # no request: no browser language
        for notice in notices:
            send_notice(notice)
    click.echo(
        f"Auto Pay: {len(claimed)} due, {charged} charged, {failed} declined, {processing} bank debits processing; "
        f"{posted} payments posted by the billing system; {checked} waiting payments checked with the processor."
    )


def _check_waiting(session: Session, *, now: datetime, limit: int) -> tuple[int, list[Notice]]:
    """Ask the processor about payments whose webhook has not come (bank debits wait for days), each in its
    own transaction; how many were asked about and the emails their changes call for."""
    waiting = payments_to_check(session, now=now, limit=limit)
    session.rollback()  # only read: end it before the processor calls
    notices: list[Notice] = []
    checked = 0
    try:
        processor = payment_processor() if waiting else None
        for payment_id in waiting:
            assert processor is not None
            notice = check_payment(session, processor, payment_id, now=utcnow())
            session.commit()
            checked += 1
            if notice is not None:
                notices.append(notice)
    except ProcessorUnavailable as exc:
        session.rollback()
        click.echo(f"processor unavailable ({exc}); {len(waiting) - checked} waiting payments left", err=True)
    return checked, notices


@payments_cli.command("reconcile")
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The city's day (CITY_TIMEZONE) to reconcile, YYYY-MM-DD. Default: yesterday, the last whole day.",
)
def reconcile_command(day: datetime | None) -> None:
    """Compare a day's charges and refunds at the processor with the portal's payments and report each mismatch.

    Exits 0 when they agree, 1 when there are mismatches, 2 when the processor could not be asked. The run is
    recorded; the staff console shows the latest.
    """
    clock: Clock = current_app.extensions["clock"]
    wanted = day.date() if day is not None else city_today() - timedelta(days=1)
    try:
        processor = payment_processor()
    except ProcessorUnavailable as exc:
        click.echo(f"Reconciliation of {wanted} failed: {exc}", err=True)
        raise click.exceptions.Exit(2) from None
    report = reconcile.reconcile_day(db.session(), processor, day=wanted, zone=clock.zone, now=utcnow())
    db.session.commit()
    for line in report.lines():
        click.echo(line)
    raise click.exceptions.Exit({"clean": 0, "mismatches": 1}.get(report.outcome, 2))
